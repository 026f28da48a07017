// Cuts tcpdump's output (a classic pcap stream) into whole records, so that
// the saved files and the netflow stream only ever hold whole packets, and
// counts packets and wire bytes on the way. tcpdump is our own child, but
// its output is still checked: a record longer than the snaplen ends the run.

export const PCAP_HEADER_BYTES = 24;
const RECORD_HEADER = 16;

export interface WalkedChunk {
  /** Whole records (the stream header is kept apart, in `header`). */
  records: Buffer;
  packets: number;
  wireBytes: number;
}

// Name-only, as ManifestError and TargetError are: each names its own failure, and a shared base would share nothing but `name`.
export class PcapStreamError extends Error {
  override name = 'PcapStreamError';
}

export class PcapRecordWalker {
  /** The stream's 24-byte header once it has arrived. */
  header: Buffer | null = null;
  private le = true;
  private maxCaplen = 0;
  private tail: Buffer | null = null;

  /** Bytes held back: the start of a record whose end has not arrived. */
  get pending(): number {
    return this.tail?.length ?? 0;
  }

  push(chunk: Buffer): WalkedChunk {
    let data = this.tail ? Buffer.concat([this.tail, chunk]) : chunk;
    this.tail = null;
    if (!this.header) {
      if (data.length < PCAP_HEADER_BYTES) {
        this.tail = Buffer.from(data);
        return { records: data.subarray(0, 0), packets: 0, wireBytes: 0 };
      }
      this.readHeader(data.subarray(0, PCAP_HEADER_BYTES));
      data = data.subarray(PCAP_HEADER_BYTES);
    }
    let at = 0;
    let packets = 0;
    let wireBytes = 0;
    const le = this.le;
    while (data.length - at >= RECORD_HEADER) {
      const caplen = le ? data.readUInt32LE(at + 8) : data.readUInt32BE(at + 8);
      if (caplen > this.maxCaplen) throw new PcapStreamError(`tcpdump wrote a record of ${caplen} bytes, more than the snaplen ${this.maxCaplen}`);
      const end = at + RECORD_HEADER + caplen;
      if (end > data.length) break;
      wireBytes += le ? data.readUInt32LE(at + 12) : data.readUInt32BE(at + 12);
      packets++;
      at = end;
    }
    // Copy the tail: it must not keep the whole chunk alive.
    if (at < data.length) this.tail = Buffer.from(data.subarray(at));
    return { records: data.subarray(0, at), packets, wireBytes };
  }

  private readHeader(h: Buffer): void {
    const magic = h.readUInt32LE(0);
    if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) this.le = true;
    else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) this.le = false;
    else throw new PcapStreamError(`tcpdump's output does not start with a pcap header (magic 0x${magic.toString(16)})`);
    const snaplen = this.le ? h.readUInt32LE(16) : h.readUInt32BE(16);
    this.maxCaplen = Math.min(Math.max(snaplen, 1), 262144);
    this.header = Buffer.from(h);
  }
}
