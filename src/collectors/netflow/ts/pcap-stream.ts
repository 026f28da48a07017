// Classic pcap for the pure-TypeScript path, on the pcap-parser package,
// guarded so that hostile input gets the native reader's treatment
// (native/core/pcap_reader.cc): the same errors, with the same messages and
// byte offsets, and no buffering by an untrusted length.
//
// pcap-parser is driven synchronously: it listens to 'data' on a stream
// object, and a fake one (an EventEmitter with no-op pause/resume) on which
// feed() emits makes it parse each chunk before emit() returns. It trusts
// its input, so:
//  - the 24-byte file header is read here first (magic, version), and only
//    a valid one is passed on. pcap-parser knows only the microsecond
//    magics: a nanosecond file is shown to it with the microsecond magic of
//    the same byte order, and its "microseconds" are read as ns here.
//    pcapng (0a0d0d0a) and anything else are refused here;
//  - the byte offset is tracked from its 'globalHeader'/'packetHeader'/
//    'packet' events; on 'packetHeader' the caplen is checked against the
//    snaplen and the 262144-byte cap before pcap-parser waits for (and
//    buffers) that many bytes: a bad one ends the stream by throwing out of
//    the listener, which unwinds pcap-parser's synchronous parse loop; the
//    parser is then dropped;
//  - pcap-parser copies everything it holds on each chunk (quadratic when a
//    long record comes in small pieces): the pieces of a record body are
//    held here until they complete it, then handed over at once;
//  - the end of input (finish()) is judged here: a record cut short is
//    reported as the native reader reports it.
// There is no --skip-bad resynchronization on this path.
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';

export interface TsPacket {
  /** Wall clock, ns since the Unix epoch. */
  tsNs: bigint;
  caplen: number;
  wirelen: number;
  linktype: number;
  /** Exactly caplen bytes; valid only during the callback. */
  data: Uint8Array;
}

interface PcapGlobalHeader {
  magicNumber: number;
  majorVersion: number;
  minorVersion: number;
  snapshotLength: number;
  linkLayerType: number;
}
interface PcapPacketHeader {
  timestampSeconds: number;
  timestampMicroseconds: number;
  capturedLength: number;
  originalLength: number;
}
interface PcapParser extends EventEmitter {
  /** Its carry buffer (internal; see feed()). */
  buffer: Buffer | null;
}
interface PcapParserModule {
  parse(input: EventEmitter): PcapParser;
}

const require = createRequire(import.meta.url);
const pcapParser = require('pcap-parser') as PcapParserModule;

/** The native ReaderOptions defaults. */
export const MAX_CAPLEN = 262144;
const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const NG_SHB = 0x0a0d0d0a;

export const PCAPNG_REFUSED = 'pcapng captures need the native addon (this is the pure-TypeScript path)';

/** Thrown out of pcap-parser's listeners to stop it; never escapes feed(). */
class Stop extends Error {}

/** A stream as pcap-parser wants one; feed() emits 'data' on it. */
class FakeStream extends EventEmitter {
  pause(): void {}
  resume(): void {}
}

const hex2 = (b: number) => b.toString(16).padStart(2, '0');

// native not_a_capture()
function notACapture(p: Uint8Array, n: number): string {
  const hex = Array.from(p.subarray(0, Math.min(n, 4)), hex2).join(' ');
  let hint = '';
  if (n >= 2 && p[0] === 0x1f && p[1] === 0x8b) hint = '; gzip-compressed? decompress it first';
  else if (n >= 4 && p[0] === 0xa1 && p[1] === 0xb2 && p[2] === 0xcd && p[3] === 0x34) hint = '; modified (Kuznetzov) pcap is not supported';
  return `not a pcap or pcapng capture (starts with ${hex}${hint})`;
}

export class ClassicPcapStream {
  private readonly head = new Uint8Array(24);
  private headLen = 0;
  private parser: PcapParser | null = null;
  private readonly stream = new FakeStream();
  private started = false; // the file header was passed on
  private finished = false;
  private failed = false;
  private error_: string | null = null;
  private errorOffset_ = 0;
  /** Bytes fed so far. */
  private fed = 0;
  /** Stream offset of the next record (bytes fully consumed). */
  private offset_ = 0;
  /** Offset of the record whose header pcap-parser last announced, and its caplen. */
  private recordAt = 0;
  private recordCaplen = -1;
  /** Bytes handed to pcap-parser, and pieces of a record body held back from it. */
  private given = 0;
  private held: Uint8Array[] = [];
  private heldLen = 0;
  private ns = false;
  private snaplen = 0;
  private linktype = 0;
  private limit = MAX_CAPLEN;
  private packets_ = 0;
  /** The last record's seconds, and them in ns. */
  private sec = -1;
  private secNs = 0n;

  constructor(private readonly onPacket: (p: TsPacket) => void) {}

  get ok(): boolean {
    return !this.failed;
  }
  get error(): string | null {
    return this.failed ? this.error_ : null;
  }
  get errorOffset(): number | null {
    return this.failed ? this.errorOffset_ : null;
  }
  /** Bytes fully consumed; after an error, the offset of the bad record. */
  get offset(): number {
    return this.offset_;
  }
  get packets(): number {
    return this.packets_;
  }

  private fail(at: number, msg: string): void {
    if (this.failed) return;
    this.failed = true;
    this.error_ = msg;
    this.errorOffset_ = at;
    this.offset_ = at;
    this.parser = null;
    this.held = [];
  }

  feed(chunk: Uint8Array): void {
    if (this.finished || this.failed || chunk.length === 0) return;
    this.fed += chunk.length;
    let rest = chunk;
    if (!this.started) {
      const take = Math.min(24 - this.headLen, rest.length);
      this.head.set(rest.subarray(0, take), this.headLen);
      this.headLen += take;
      rest = rest.subarray(take);
      if (!this.detect()) return;
    }
    if (rest.length) this.push(rest);
  }

  /**
   * The file header, once enough of it is here (native run_detect(): 4
   * bytes decide the format, 24 the rest). Returns whether records follow.
   */
  private detect(): boolean {
    const h = this.head;
    const n = this.headLen;
    if (n < 4) return false;
    const le = (h[0]! | (h[1]! << 8) | (h[2]! << 16) | (h[3]! << 24)) >>> 0;
    const be = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
    if (le === NG_SHB) {
      this.fail(0, PCAPNG_REFUSED);
      return false;
    }
    let little: boolean;
    if (le === MAGIC_US || le === MAGIC_NS) little = true;
    else if (be === MAGIC_US || be === MAGIC_NS) little = false;
    else {
      this.fail(0, notACapture(h, n));
      return false;
    }
    if (n < 24) return false;
    const dv = new DataView(h.buffer, h.byteOffset, 24);
    const major = dv.getUint16(4, little);
    const minor = dv.getUint16(6, little);
    if (major !== 2) {
      this.fail(0, `unsupported pcap version ${major}.${minor}`);
      return false;
    }
    this.ns = (little ? le : be) === MAGIC_NS;
    this.snaplen = dv.getUint32(16, little);
    this.linktype = dv.getUint32(20, little) & 0x03ffffff; // the upper bits describe the FCS
    this.limit = this.snaplen !== 0 && this.snaplen < MAX_CAPLEN ? this.snaplen : MAX_CAPLEN;
    this.start(little);
    return !this.failed;
  }

  /** Hands pcap-parser the file header, with a µs magic in the file's byte order. */
  private start(little: boolean): void {
    const parser = pcapParser.parse(this.stream);
    this.parser = parser;
    parser.on('error', (err: unknown) => {
      // Not expected (the header was checked here); fatal all the same.
      this.fail(this.recordAt, err instanceof Error ? err.message : String(err));
      throw new Stop();
    });
    parser.on('globalHeader', (g: PcapGlobalHeader) => {
      if (g.magicNumber !== MAGIC_US) {
        this.fail(0, `pcap-parser read the file header differently (magic ${g.magicNumber.toString(16)})`);
        throw new Stop();
      }
      this.offset_ = 24;
    });
    parser.on('packetHeader', (h: PcapPacketHeader) => {
      this.recordAt = this.offset_;
      const cap = h.capturedLength;
      this.recordCaplen = cap;
      if (cap > this.limit) {
        // Before pcap-parser waits for the body: it would buffer up to cap bytes.
        this.fail(
          this.recordAt,
          cap > MAX_CAPLEN
            ? `record caplen ${cap} exceeds the ${MAX_CAPLEN}-byte limit`
            : `record caplen ${cap} exceeds the file's snaplen ${this.snaplen}`,
        );
        throw new Stop();
      }
    });
    parser.on('packet', (pk: { header: PcapPacketHeader; data: Buffer }) => {
      const h = pk.header;
      this.offset_ = this.recordAt + 16 + h.capturedLength;
      this.recordCaplen = -1;
      this.packets_++;
      // Exact: seconds * 1e9 exceeds 2^53; the fraction * 1000 (< 2^42) does not.
      const sec = h.timestampSeconds;
      if (sec !== this.sec) {
        this.sec = sec;
        this.secNs = BigInt(sec) * 1_000_000_000n;
      }
      const tsNs = this.secNs + BigInt(this.ns ? h.timestampMicroseconds : h.timestampMicroseconds * 1000);
      this.onPacket({ tsNs, caplen: h.capturedLength, wirelen: h.originalLength, linktype: this.linktype, data: pk.data });
    });
    const header = Buffer.from(this.head);
    if (little) header.writeUInt32LE(MAGIC_US, 0);
    else header.writeUInt32BE(MAGIC_US, 0);
    this.started = true;
    this.push(header);
  }

  private push(bytes: Uint8Array): void {
    const parser = this.parser;
    if (!parser) return;
    // pcap-parser copies all it holds on every chunk: fed a long record in
    // small pieces it would take quadratic time. So the pieces of a record
    // body it waits for are held here until they complete it.
    if (this.recordCaplen >= 0) {
      const need = this.recordAt + 16 + this.recordCaplen - this.given;
      if (this.heldLen + bytes.length < need) {
        this.held.push(bytes.slice()); // a copy: the caller may reuse its memory
        this.heldLen += bytes.length;
        return;
      }
    }
    let buf: Buffer;
    if (this.held.length) {
      buf = Buffer.concat([...this.held, bytes]);
      this.held = [];
      this.heldLen = 0;
    } else {
      buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    this.given += buf.length;
    try {
      this.stream.emit('data', buf);
    } catch (err) {
      if (!(err instanceof Stop)) throw err;
      return;
    }
    // pcap-parser keeps what it could not use yet. It copies each chunk into
    // a buffer of its own (once it has one), but never hold on to the
    // caller's memory: the caller may reuse it.
    if (parser.buffer && parser.buffer.length && parser.buffer.buffer === buf.buffer) parser.buffer = Buffer.from(parser.buffer);
  }

  /** End of input: a record cut short is an error at its offset (native CaptureReader::finish()). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.failed) return;
    if (!this.started) {
      const n = this.headLen;
      if (n === 0) this.fail(0, 'empty input: not a pcap or pcapng capture');
      else if (n < 4) this.fail(0, `input is only ${n} bytes: not a pcap or pcapng capture`);
      else this.fail(0, `truncated pcap file header: input ends after ${n} of its 24 bytes`);
      return;
    }
    const have = this.fed - this.offset_;
    this.parser = null;
    this.held = [];
    if (have === 0) return;
    if (have < 16 || this.recordCaplen < 0) this.fail(this.offset_, `truncated pcap record header: input ends after ${have} of its 16 bytes`);
    else this.fail(this.offset_, `truncated pcap record: input ends after ${have} of its ${16 + this.recordCaplen} bytes`);
  }
}
