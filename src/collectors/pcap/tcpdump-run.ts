// One tcpdump child: started in its own process group (so a stop kills its
// whole tree), its stderr read for the "listening on" line and the
// statistics, SIGUSR1 on request, and its output cut into whole records.
//
// tcpdump -U writes every packet with its own write(2). Read as a Node
// stream, that is one read, one Buffer and one event per few packets: at
// 100k packets/s most of a core. So its stdout is a FIFO that labtel opens
// non-blocking and drains with plain read(2)s of up to 1 MiB: one pass over
// everything that arrived, however many packets. It polls every 2 ms while
// packets flow, backing off to 16 ms on an idle link.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { PcapRecordWalker, type WalkedChunk } from './record-walker.js';
import { TcpdumpStatsReader, type TcpdumpStats } from './tcpdump-stats.js';

export interface TcpdumpRunHandlers {
  listening(): void;
  records(chunk: WalkedChunk, header: Buffer): void;
  stats(s: TcpdumpStats): void;
}

export interface TcpdumpExit {
  /** "exited with code 1", "killed by SIGKILL", ... */
  how: string;
  signal: string | null;
  /** tcpdump's last lines of stderr that were not statistics. */
  said: string;
  /** Bytes of a record cut short when it ended (not saved, not counted). */
  cutBytes: number;
  /** Why its output could not be read, when it could not. */
  streamError: string | null;
  /** Whether tcpdump printed its final statistics (not when it was killed). */
  finalStats: boolean;
}

const KILL_AFTER_MS = 2000;
const POLL_MIN_MS = 2;
const POLL_MAX_MS = 16;
const READ_BYTES = 1 << 20;
/** At most this much per poll, so the thread's other work (rows, stats, acks) keeps its turn. */
const MAX_BYTES_PER_POLL = 16 << 20;

/** A pipe with a reading end that is ours alone (non-blocking) and a writing end for the child. */
function fifo(): { readFd: number; writeFd: number } {
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

export class TcpdumpRun {
  readonly pid: number | undefined;
  readonly exited: Promise<TcpdumpExit>;
  private readonly child: ChildProcess;
  private killTimer: NodeJS.Timeout | undefined;
  private paused = false;

  constructor(argv: string[], h: TcpdumpRunHandlers) {
    const { readFd, writeFd } = fifo();
    let child: ChildProcess;
    try {
      child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', writeFd, 'pipe'], detached: true });
    } finally {
      fs.closeSync(writeFd); // the child's copy is the only writer: its exit is our end of file
    }
    this.child = child;
    this.pid = child.pid;
    const walker = new PcapRecordWalker();
    const stats = new TcpdumpStatsReader();
    let finalStats = false;
    const said: string[] = [];
    let streamError: string | null = null;

    const buf = Buffer.allocUnsafe(READ_BYTES);
    let eof!: () => void;
    const stdoutDone = new Promise<void>((resolve) => (eof = resolve));
    let got = 0;
    // Reads what has arrived (counted in `got`); true at end of file. The
    // records handed on are views of `buf`, used before the next read (the
    // walker copies its tail).
    const drain = (): boolean => {
      for (got = 0; got < MAX_BYTES_PER_POLL; ) {
        let n: number;
        try {
          n = fs.readSync(readFd, buf, 0, READ_BYTES, null);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return false;
          streamError = `cannot read tcpdump's output: ${(err as Error).message}`;
          return true;
        }
        if (n === 0) return true;
        got += n;
        if (streamError) continue; // keep draining so tcpdump can exit
        try {
          const w = walker.push(buf.subarray(0, n));
          if (w.packets) h.records(w, walker.header!);
        } catch (err) {
          streamError = (err as Error).message;
          this.stop();
        }
      }
      return false;
    };
    let wait = POLL_MIN_MS;
    const poll = () => {
      if (!this.paused && drain()) {
        fs.closeSync(readFd);
        eof();
        return;
      }
      wait = got > 0 && !this.paused ? POLL_MIN_MS : Math.min(wait * 2, POLL_MAX_MS);
      setTimeout(poll, wait);
    };
    setTimeout(poll, wait);

    const lines = readline.createInterface({ input: child.stderr! });
    const stderrDone = new Promise<void>((resolve) => lines.once('close', resolve));
    lines.on('line', (line) => {
      if (stats.line(line)) {
        for (const s of stats.take()) {
          finalStats ||= s.atExit;
          h.stats(s);
        }
      } else if (/listening on/.test(line)) {
        h.listening();
      } else if (line.trim()) {
        said.push(line.trim().replace(/^tcpdump: /, ''));
        if (said.length > 3) said.shift();
      }
    });
    const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      child.once('error', (err) => {
        said.push(err.message);
        resolve({ code: null, signal: null });
      });
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    this.exited = (async () => {
      const r = await exit;
      this.paused = false; // whatever is left must be read for the pipe to reach its end
      await Promise.all([stdoutDone, stderrDone]);
      clearTimeout(this.killTimer);
      stats.end();
      for (const s of stats.take()) {
        finalStats ||= s.atExit;
        h.stats(s);
      }
      const how = r.signal ? `killed by ${r.signal}` : r.code === null ? 'could not be started' : `exited with code ${r.code}`;
      return { how, signal: r.signal, said: said.join(' '), cutBytes: walker.pending, streamError, finalStats };
    })();
  }

  /** Asks for statistics (answered on stderr, through handlers.stats). */
  requestStats(): boolean {
    return this.signal('SIGUSR1', false);
  }

  /** Stops reading tcpdump (it then blocks on its pipe; the kernel counts what it drops). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  /** SIGTERM to the process group (tcpdump writes what it has and its statistics), SIGKILL if it lingers. */
  stop(): void {
    if (this.killTimer || !this.signal('SIGTERM', true)) return;
    this.killTimer = setTimeout(() => this.signal('SIGKILL', true), KILL_AFTER_MS);
    this.killTimer.unref();
  }

  private signal(sig: NodeJS.Signals, group: boolean): boolean {
    if (this.pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return false;
    try {
      process.kill(group ? -this.pid : this.pid, sig);
      return true;
    } catch {
      return false;
    }
  }
}
