// One tcpdump child: started in its own process group (so a stop kills its
// whole tree), its stdout drained from a FIFO (fifo-drain.ts) and cut into
// whole records, its stderr read for the "listening on" line and the
// statistics, SIGUSR1 on request. argv starts with the setpriv wrapper
// (tcpdump-args.ts), whose parent-death signal fires when the thread that
// spawns it here dies: the collector's worker, or the whole agent.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';
import { fifo, FifoDrain } from './fifo-drain.js';
import { PcapRecordWalker, type WalkedChunk } from './record-walker.js';
import { TcpdumpStatsReader, type TcpdumpStats } from './tcpdump-stats.js';
import { childEnv } from '../../util/child-env.js';

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
      child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', writeFd, 'pipe'], detached: true, env: childEnv() });
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

    // The records handed on are views of the drain's buffer, used before its next read (the walker copies its tail).
    const stdout = new FifoDrain(readFd, {
      paused: () => this.paused,
      readError: (message) => (streamError = `cannot read tcpdump's output: ${message}`),
      data: (bytes) => {
        if (streamError) return; // keep draining so tcpdump can exit
        try {
          const w = walker.push(bytes);
          if (w.packets) h.records(w, walker.header!);
        } catch (err) {
          streamError = (err as Error).message;
          this.stop();
        }
      },
    });

    // readline, not util/bounded-line-reader: tcpdump is our own child, and its stderr a few short lines.
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
      await Promise.all([stdout.done, stderrDone]);
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
