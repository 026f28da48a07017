// A kernel file (/proc, sysfs) kept open and read again from offset 0 each
// time: a read at offset 0 makes the kernel generate it anew, so each read
// is as fresh as an open, read, close, for one or two syscalls instead of
// four. What the descriptor shows is fixed at open: for /proc/self/net/* the
// network namespace the process was in then, for a per-device entry
// (/proc/self/net/dev_snmp6/<iface>) that device, whose entry fails reads
// (EIO) once the device is gone or renamed. A read that fails through a kept
// descriptor closes it and opens the name again, once: so a read answers
// for what the name is now, as a fresh open would.
import fs from 'node:fs';
import { type Bounded, READ_FLAGS, readBounded } from './read-bounded.js';

const codeOf = (e: unknown) => (e as NodeJS.ErrnoException)?.code ?? String(e);

export class KeptFile {
  private fd: number | null = null;

  constructor(readonly file: string) {}

  /** Up to `max` bytes of the file as it is now (readBounded's answer). */
  read(max: number, decode?: (b: Buffer) => string): Bounded {
    if (this.fd !== null) {
      const r = readBounded(this.fd, max, decode);
      if (!('code' in r)) return r;
      this.close();
    }
    try {
      this.fd = fs.openSync(this.file, READ_FLAGS);
    } catch (e) {
      return { code: codeOf(e) };
    }
    const r = readBounded(this.fd, max, decode);
    if ('code' in r) this.close();
    return r;
  }

  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    fs.closeSync(fd);
  }
}
