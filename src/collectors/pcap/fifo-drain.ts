// tcpdump -U writes every packet with its own write(2). Read as a Node
// stream, that is one read, one Buffer and one event per few packets: at
// 100k packets/s most of a core. So its stdout is a FIFO that labtel opens
// non-blocking and drains with plain read(2)s of up to 1 MiB: one pass over
// everything that arrived, however many packets. It polls every 2 ms while
// bytes flow, backing off to 16 ms on an idle link or while paused.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const POLL_MIN_MS = 2;
const POLL_MAX_MS = 16;
const READ_BYTES = 1 << 20;
/** At most this much per poll, so the thread's other work (rows, stats, acks) keeps its turn. */
const MAX_BYTES_PER_POLL = 16 << 20;

/** A pipe with a reading end that is ours alone (non-blocking) and a writing end for the child. */
export function fifo(): { readFd: number; writeFd: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-pcap-'));
  try {
    const p = path.join(dir, 'stdout');
    execFileSync('mkfifo', ['-m', '600', p]);
    const readFd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    return { readFd, writeFd: fs.openSync(p, fs.constants.O_WRONLY) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true }); // the pipe lives on in its descriptors
  }
}

export interface FifoDrainHandlers {
  /** Bytes read: a view of the drain's buffer, used before the next read. */
  data(bytes: Buffer): void;
  /** The pipe could not be read (the drain ends there). */
  readError(message: string): void;
  /** While true nothing is read (the writer blocks once the pipe is full). */
  paused(): boolean;
}

/** Drains a non-blocking FIFO until end of file (every writer gone); closes it then. */
export class FifoDrain {
  /** Resolves at end of file, or after a read error. */
  readonly done: Promise<void>;

  constructor(readFd: number, h: FifoDrainHandlers) {
    const buf = Buffer.allocUnsafe(READ_BYTES);
    let eof!: () => void;
    this.done = new Promise<void>((resolve) => (eof = resolve));
    let got = 0;
    // Reads what has arrived (counted in `got`); true at end of file.
    const drain = (): boolean => {
      for (got = 0; got < MAX_BYTES_PER_POLL; ) {
        let n: number;
        try {
          n = fs.readSync(readFd, buf, 0, READ_BYTES, null);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return false;
          h.readError((err as Error).message);
          return true;
        }
        if (n === 0) return true;
        got += n;
        h.data(buf.subarray(0, n));
      }
      return false;
    };
    let wait = POLL_MIN_MS;
    const poll = () => {
      if (!h.paused() && drain()) {
        fs.closeSync(readFd);
        eof();
        return;
      }
      wait = got > 0 && !h.paused() ? POLL_MIN_MS : Math.min(wait * 2, POLL_MAX_MS);
      setTimeout(poll, wait);
    };
    setTimeout(poll, wait);
  }
}
