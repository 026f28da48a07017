// One tcpdump child: started in its own process group (so a stop kills its
// whole tree), its stdout cut into whole records, its stderr read for the
// "listening on" line and the statistics, SIGUSR1 on request.
import readline from 'node:readline';
import { execa, type ResultPromise } from 'execa';
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
}

const KILL_AFTER_MS = 2000;

export class TcpdumpRun {
  readonly pid: number | undefined;
  readonly exited: Promise<TcpdumpExit>;
  private readonly child: ResultPromise;
  private killTimer: NodeJS.Timeout | undefined;

  constructor(argv: string[], h: TcpdumpRunHandlers) {
    const child = execa(argv[0]!, argv.slice(1), {
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      detached: true,
    });
    this.child = child;
    this.pid = child.pid;
    const walker = new PcapRecordWalker();
    const stats = new TcpdumpStatsReader();
    const said: string[] = [];
    let streamError: string | null = null;
    const stdoutDone = new Promise<void>((resolve) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        if (streamError) return;
        try {
          const w = walker.push(chunk);
          if (w.packets) h.records(w, walker.header!);
        } catch (err) {
          streamError = (err as Error).message;
          this.stop();
        }
      });
      child.stdout!.once('close', resolve);
    });
    const lines = readline.createInterface({ input: child.stderr! });
    const stderrDone = new Promise<void>((resolve) => lines.once('close', resolve));
    lines.on('line', (line) => {
      if (stats.line(line)) {
        for (const s of stats.take()) h.stats(s);
      } else if (/listening on/.test(line)) {
        h.listening();
      } else if (line.trim()) {
        said.push(line.trim().replace(/^tcpdump: /, ''));
        if (said.length > 3) said.shift();
      }
    });
    this.exited = (async () => {
      const r = await child;
      await Promise.all([stdoutDone, stderrDone]);
      clearTimeout(this.killTimer);
      stats.end();
      for (const s of stats.take()) h.stats(s);
      const how = r.signal ? `killed by ${r.signal}` : `exited with code ${r.exitCode}`;
      return { how, signal: r.signal ?? null, said: said.join(' '), cutBytes: walker.pending, streamError };
    })();
  }

  /** Asks for statistics (answered on stderr, through handlers.stats). */
  requestStats(): boolean {
    return this.signal('SIGUSR1', false);
  }

  pause(): void {
    this.child.stdout!.pause();
  }

  resume(): void {
    this.child.stdout!.resume();
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
