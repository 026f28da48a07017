// perf stat as a child process, with what the collector used execa for and no
// more (execa cost its worker ~75 ms of CPU to load, of ~115 in all): stdout
// piped for the interval lines, stderr kept (at most 64 KiB: more ends perf,
// as execa's maxBuffer did), SIGTERM then SIGKILL after 1 s when stopped, the
// episode's abort stopping it the same way, and perf killed if the thread that
// started it exits on its own first (as execa's cleanup did). A thread ended
// by worker.terminate() runs no exit handler, and a killed agent none at all:
// setpriv's parent-death signal, which the run loop requires, ends perf then.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';

const STDERR_MAX = 64 * 1024;
const FORCE_KILL_AFTER_MS = 1000;

export interface PerfExit {
  /** The signal that ended it, or undefined. */
  signal: NodeJS.Signals | undefined;
  /** Its exit status, or undefined (killed, or it could not start). */
  exitCode: number | undefined;
  stderr: string;
}

export class PerfChild {
  readonly stdout: Readable;
  /** Resolves once perf has exited and its output is closed (never rejects). */
  readonly done: Promise<PerfExit>;
  private readonly child: ChildProcess;
  private forceKill: NodeJS.Timeout | undefined;

  constructor(argv: readonly string[], signal: AbortSignal) {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.stdout = child.stdout!;
    let stderr = '';
    let stderrBytes = 0;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      if (stderrBytes >= STDERR_MAX) return;
      const bytes = Buffer.byteLength(s);
      const room = STDERR_MAX - stderrBytes;
      // A chunk past the bound is cut to it (a pipe read can be larger than what is left).
      stderr += bytes <= room ? s : Buffer.from(s).subarray(0, room).toString('utf8');
      stderrBytes += Math.min(bytes, room);
      if (stderrBytes >= STDERR_MAX) this.kill();
    });
    const onAbort = () => this.kill();
    const onExit = () => child.kill('SIGKILL');
    signal.addEventListener('abort', onAbort, { once: true });
    process.once('exit', onExit);
    if (signal.aborted) this.kill();
    this.done = new Promise<PerfExit>((resolve) => {
      let failed = false;
      child.once('error', () => {
        failed = true; // could not start: 'close' follows
      });
      child.once('close', (code, sig) => {
        clearTimeout(this.forceKill);
        signal.removeEventListener('abort', onAbort);
        process.removeListener('exit', onExit);
        resolve({ signal: failed ? undefined : sig ?? undefined, exitCode: failed || code === null ? undefined : code, stderr: stderr.replace(/\n$/, '') });
      });
    });
  }

  /** SIGTERM (SIGKILL after 1 s if perf is still there), or another signal alone. */
  kill(sig: NodeJS.Signals = 'SIGTERM'): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(sig);
    if (sig === 'SIGTERM' && this.forceKill === undefined) {
      this.forceKill = setTimeout(() => this.child.kill('SIGKILL'), FORCE_KILL_AFTER_MS);
      this.forceKill.unref();
    }
  }
}
