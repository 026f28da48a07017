// tcpdump -U writes every packet with its own write(2). Read as a Node
// stream, that is one read, one Buffer and one event per few packets: at
// 100k packets/s most of a core. So its stdout is a FIFO that labtel opens
// non-blocking and drains with plain read(2)s of up to 1 MiB: one pass over
// everything that arrived, however many packets. It polls every 2 ms while
// bytes flow; once a poll finds the pipe empty it stops polling and lets the
// event loop wake it when bytes come (epoll, through a net.Socket on the
// descriptor with `onread`, paused after each read): an idle or quiet link
// costs no wake-ups (polling with a back-off to 16 ms woke the thread ~60
// times a second for nothing). While paused it polls the flag, backing off
// to 16 ms.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
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
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    // Ends the drain: the socket owns the descriptor now, and closes it (through libuv, which Node's fd tracking does not
    // see: a worker this runs on must not track fs.open's descriptors, or its exit closes this number again, by then
    // another thread's: src/util/spawn-worker.ts's COLLECTOR_WORKER_OPTIONS).
    const end = () => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      sock.destroy();
      eof();
    };
    const poll = () => {
      timer = undefined;
      if (ended) return;
      if (h.paused()) {
        wait = Math.min(wait * 2, POLL_MAX_MS);
        timer = setTimeout(poll, wait);
        return;
      }
      if (drain()) return end();
      if (got > 0) {
        wait = POLL_MIN_MS;
        timer = setTimeout(poll, wait);
        return;
      }
      // Nothing came since the last poll: sleep until the kernel says bytes are there.
      wait = POLL_MIN_MS;
      sock.resume();
    };
    // The kernel's readiness, and the first read after a quiet spell: the socket reads into the drain's
    // buffer once, then is paused (returning false) and polling takes over while bytes flow.
    // (onread is a constructor option in Node's docs since nodejs/node#54194; this @types/node lists it on connect() only.)
    const sock = new net.Socket({
      fd: readFd,
      readable: true,
      writable: false,
      onread: {
        buffer: buf,
        callback: (n: number) => {
          if (!ended && n > 0) h.data(buf.subarray(0, n));
          if (!ended && timer === undefined) timer = setTimeout(poll, POLL_MIN_MS);
          return false;
        },
      },
    } as net.SocketConstructorOpts & { onread: net.OnReadOpts });
    sock.once('end', end);
    sock.once('error', (err) => {
      if (ended) return;
      h.readError(err.message);
      end();
    });
  }
}
