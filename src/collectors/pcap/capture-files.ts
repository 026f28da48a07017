// The saved capture: network.pcap, then network-001.pcap, ... when a file
// reaches rotate_mb, each a whole pcap file with the stream's header. Saving
// stops (and says so once) when the files reach max_total_mb; what follows
// is still counted and bucketized, just not kept.
import fs from 'node:fs';
import path from 'node:path';
import { openNoFollow, WriteRefused } from '../../util/write-refusal.js';

/** The name of the n-th capture file of an episode. */
export const captureFileName = (n: number) => (n === 0 ? 'network.pcap' : `network-${String(n).padStart(3, '0')}.pcap`);
/** Every name captureFileName() gives. */
export const CAPTURE_FILE = /^network(-\d{3,})?\.pcap$/;

/** An episode's capture files in order. */
export function listCaptureFiles(dir: string): string[] {
  const out: string[] = [];
  for (let n = 0; fs.existsSync(path.join(dir, captureFileName(n))); n++) out.push(path.join(dir, captureFileName(n)));
  return out;
}

export class CaptureFiles {
  /** Bytes written, headers included. */
  savedBytes = 0;
  /** Why saving stopped, once it has. */
  stopped: string | null = null;
  private fd = -1;
  private n = -1;
  private fileBytes = 0;

  constructor(
    private readonly dir: string,
    private readonly header: Buffer,
    private readonly rotateBytes: number,
    private readonly maxTotalBytes: number,
  ) {}

  /**
   * Appends whole records; returns false once saving has stopped (the caller
   * records it once). Never throws: a file that cannot be created or written
   * (a full disk, a file in the way) stops saving, never the capture.
   */
  write(records: Buffer): boolean {
    if (this.stopped) return false;
    if (records.length === 0) return true;
    const opening = this.fd < 0 || this.fileBytes >= this.rotateBytes;
    if (this.savedBytes + records.length + (opening ? this.header.length : 0) > this.maxTotalBytes) {
      return this.stop(`max_total_mb reached: ${this.savedBytes} bytes saved; the rest of the capture is counted but not kept`);
    }
    let off = 0;
    try {
      if (opening) this.open();
      while (off < records.length) off += fs.writeSync(this.fd, records, off, records.length - off);
    } catch (err) {
      // A partial record would corrupt the file: cut it back to the last whole one.
      try {
        if (this.fd >= 0) fs.ftruncateSync(this.fd, this.fileBytes);
      } catch {
        // the file is as good as it gets; the reason below says why saving stopped
      }
      return this.stop(`cannot write ${captureFileName(this.n)}: ${err instanceof WriteRefused ? err.reason : (err as Error).message}`);
    }
    this.fileBytes += records.length;
    this.savedBytes += records.length;
    return true;
  }

  /** Closes the current file; `durably` (at the end) fsyncs it first. A rotation does not wait for the disk. */
  close(durably = true): void {
    if (this.fd < 0) return;
    try {
      if (durably) fs.fsyncSync(this.fd);
    } catch {
      // closing matters more; the data was written
    } finally {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }

  private stop(why: string): false {
    this.stopped = why;
    this.close();
    return false;
  }

  private open(): void {
    this.close(false);
    this.n++;
    const file = path.join(this.dir, captureFileName(this.n));
    this.fileBytes = 0;
    // A fresh file, 0640 (it holds the guest's traffic), never through a symlink.
    this.fd = openNoFollow(file, 'create');
    let off = 0;
    while (off < this.header.length) off += fs.writeSync(this.fd, this.header, off);
    this.fileBytes = this.header.length;
    this.savedBytes += this.header.length;
  }
}
