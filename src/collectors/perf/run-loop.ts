// The perf collector's loop: runs `perf stat -j -I` attached to the target
// (an argument array, never a shell), turns its interval lines into host_perf
// rows, restarts perf with capped backoff if it dies while the target lives,
// and ends when the target exits. A pidfile target is followed instead, as
// the proc collector does: perf waits for the pidfile to name the next
// process and re-attaches to it, and that run's first row says 'restarted'.
// The target's identity is watched every interval, while perf runs and while
// it waits to restart: `perf stat -p` takes a zombie for a live task.
// perf runs under `setpriv --pdeathsig KILL`, so it dies with the thread that
// started it, even if the agent is SIGKILLed.
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EpisodeClock } from '../../clock/origin.js';
import type { JsonlWriter } from '../../rows/jsonl-writer.js';
import { monoNowNs } from '../../clock/origin.js';
import { PidfileFollower, type PidfileFollowerOptions } from '../../util/pidfile-follower.js';
import { processIdentity, sameProcess, type ProcessIdentity } from '../../util/process-identity.js';
import { PerfIntervals, parsePerfLine } from './parse.js';
import { perfPreflight } from './preflight.js';
import { PerfChild } from './perf-child.js';

export interface PerfLoopOptions {
  pid: number;
  /** When set, an exited target is followed to the process the pidfile names next. */
  pidfile?: string;
  /** What the follower may take on (util/pidfile-follower.ts); a refused rewrite goes to reportError. */
  follow?: Omit<PidfileFollowerOptions, 'onRefused'>;
  writer: JsonlWriter;
  clock: EpisodeClock;
  intervalMs: number;
  events: readonly string[];
  signal: AbortSignal;
  reportError?: (message: string) => void;
  /** For tests: the backoff before the first restart, ms (doubles up to 8 s). */
  restartDelayMs?: number;
  /** For tests: called after each read of the pidfile while the target is gone, with what it named (null: no new live process). */
  onPidfilePoll?: (next: ProcessIdentity | null) => void;
}

export interface PerfLoopResult {
  rows: number;
  valueRows: number;
  /** perf restarted while its target lived. */
  restarts: number;
  /** Times a pidfile target came back as a new process and perf re-attached to it. */
  targetRestarts: number;
  /** 'target_exited': the target was gone, for good (a pid target) or when the episode stopped (a pidfile target). */
  end: 'stopped' | 'target_exited';
  /** With 'target_exited': when perf saw the target gone (episode clock, ns); a pidfile target was waited for from then until the stop. */
  targetGoneAtNs: number | null;
  /** Rewrites of the pidfile naming a process the follower refused (pid 1, labtel, another executable, ...). */
  pidfileRefused: number;
}


export async function perfLoop(o: PerfLoopOptions): Promise<PerfLoopResult> {
  const pre = perfPreflight(o.events);
  if (!pre.perf) throw new Error(pre.error ?? 'perf is not installed');
  const w = o.writer;
  const rowsAtStart = w.rows;
  let valueRows = 0;
  let restarts = 0;
  let targetRestarts = 0;
  let delay = o.restartDelayMs ?? 500;
  if (!pre.setpriv) throw new Error('setpriv is not installed (Debian: util-linux): without it perf could outlive the agent');
  const setpriv = [pre.setpriv, '--pdeathsig', 'KILL', '--'];
  const follower = o.pidfile ? new PidfileFollower(o.pidfile, o.pid, '/proc', { ...o.follow, onRefused: (m) => o.reportError?.(m) }) : null;
  // The process perf counts: null while a pidfile target is gone (also when it was gone
  // before perf started). A pid target that is not there gets one perf run, whose error
  // is the collector's to report.
  const first = processIdentity(o.pid);
  let target: ProcessIdentity | null = first ?? (follower ? null : { pid: o.pid, starttime: -1 });
  let goneAt: number | null = target === null ? o.clock.now() : null;
  const result = (end: PerfLoopResult['end']): PerfLoopResult => ({ rows: w.rows - rowsAtStart, valueRows, restarts, targetRestarts, end, targetGoneAtNs: end === 'target_exited' ? goneAt : null, pidfileRefused: follower?.refused ?? 0 });
  /** Whether the process perf counts is still there: a zombie, or another process under its pid, is gone. A pid target never seen alive is left to perf's own error. */
  const lives = (t: ProcessIdentity): boolean => t.starttime < 0 || sameProcess(processIdentity(t.pid), t);
  /** The process that replaced the counted one while it lived: taken on from a rewrite the pidfile no longer held (see PidfileFollower.superseded). */
  let replacement: ProcessIdentity | null = null;
  const superseded = (): boolean => (replacement ??= follower?.superseded() ?? null) !== null;
  /** Marks the first row of a run on a new process identity. */
  let event: 'started' | 'restarted' | null = 'started';

  while (!o.signal.aborted) {
    if (replacement !== null) {
      target = replacement;
      replacement = null;
      event = 'restarted';
      targetRestarts++;
      delay = o.restartDelayMs ?? 500;
    } else if (target === null) {
      // The target exited: wait, reading the pidfile every interval, for the process it names next.
      target = await nextTarget(follower!, o);
      if (target === null) return result('target_exited'); // the episode stopped while it was gone
      event = 'restarted';
      targetRestarts++;
      goneAt = null;
      delay = o.restartDelayMs ?? 500;
    }
    if (!lives(target)) {
      // Gone while perf waited to restart: no perf run on a pid that may be a stranger's now.
      goneAt = o.clock.now();
      if (!follower) return result('target_exited');
      target = null;
      continue;
    }
    const counted = target;
    const pid = target.pid;
    const acc = new PerfIntervals(o.events);
    const args = ['stat', '-j', '-I', String(o.intervalMs), '-e', o.events.join(','), '-p', String(pid), '--log-fd', '1'];
    const argv = [...setpriv, pre.perf, ...args];
    // perf's interval times count from its start: read the spawn instant on the episode clock.
    const spawnedAt = o.clock.fromMono(monoNowNs());
    const child = new PerfChild(argv, o.signal);
    const emit = () => {
      for (const r of acc.take()) {
        w.write('host_perf', spawnedAt + Math.round(r.end * 1e9), { pid, process_event: event, ...r.fields }, Object.keys(r.reasons).length ? r.reasons : undefined);
        event = null;
        const measured = (v: unknown) => typeof v === 'number';
        if (Object.entries(r.fields).some(([k, v]) => measured(v) && k !== 'interval_s' && k !== 'perf_interval_s') || Object.values(r.fields.other ?? {}).some(measured)) valueRows++;
      }
    };
    const lines = readline.createInterface({ input: child.stdout });
    const linesDone = new Promise<void>((resolve) => lines.once('close', resolve)); // listened for before it can happen
    lines.on('line', (line) => {
      const l = parsePerfLine(line);
      if (!l) return;
      acc.push(l);
      emit();
    });
    const rowsBefore = w.rows;
    // perf stat -p only stats /proc/PID, so it counts a zombie on and on (<not counted>): end it once the target is gone.
    // So is a process the pidfile no longer names, if it was taken on from a write caught mid-way.
    let interruptedAt: number | null = null;
    const watch = setInterval(() => {
      if (interruptedAt === null) {
        if (!superseded() && lives(counted)) return;
        interruptedAt = performance.now();
        child.kill('SIGINT'); // as at the end of a run: perf prints its last counts
      } else if (performance.now() - interruptedAt >= 1000) {
        child.kill(); // SIGTERM, then SIGKILL: perf did not end on SIGINT
      }
    }, o.intervalMs);
    let ran: Awaited<typeof child.done>;
    try {
      ran = await child.done;
      await linesDone;
    } finally {
      clearInterval(watch);
    }
    acc.end();
    emit();
    w.flush();
    if (o.signal.aborted) break;
    if (replacement !== null) continue;
    if (!sameProcess(processIdentity(pid), counted)) {
      goneAt = o.clock.now();
      if (!follower) return result('target_exited');
      target = null;
      continue;
    }
    if (w.rows > rowsBefore + 25) delay = o.restartDelayMs ?? 500; // it had been running well: start the backoff over
    const why = ran.signal ? `killed by ${ran.signal}` : `exited with code ${ran.exitCode}`;
    const stderr = String(ran.stderr ?? '').trim().split('\n').slice(-2).join(' ');
    o.reportError?.(`perf ${why}${stderr ? `: ${stderr}` : ''}; restarting in ${delay} ms`);
    restarts++;
    // The backoff, cut short when the target goes or is replaced meanwhile (the loop's top then follows it).
    if (!(await backoff(delay, o, () => superseded() || !lives(counted)))) break;
    delay = Math.min(delay * 2, 8000);
  }
  return result('stopped');
}

/** Sleeps `ms` one interval at a time, waking early once `gone()`; false when the episode stopped first. */
async function backoff(ms: number, o: PerfLoopOptions, gone: () => boolean): Promise<boolean> {
  const end = performance.now() + ms;
  for (let left = ms; left > 0 && !gone(); left = end - performance.now()) {
    try {
      await sleep(Math.min(left, o.intervalMs), undefined, { signal: o.signal });
    } catch {
      return false;
    }
  }
  return true;
}

/** Reads the pidfile now and then every interval until it names a new live process; null when the episode stops first. */
async function nextTarget(follower: PidfileFollower, o: PerfLoopOptions): Promise<ProcessIdentity | null> {
  for (;;) {
    const next = follower.next();
    o.onPidfilePoll?.(next);
    if (next) return next;
    try {
      await sleep(o.intervalMs, undefined, { signal: o.signal });
    } catch {
      return null;
    }
  }
}

export interface PerfRunLoopOptions {
  pid: number;
  pidfile?: string;
  outputPath: string;
  tMonoOriginNs: bigint | number | string;
  intervalMs: number;
  events: readonly string[];
  signal: AbortSignal;
  availableInDeployment?: boolean;
}

/** The field's idiom: run until `signal` aborts or the target exits for good; resolves to the rows written. */
export async function runLoop(o: PerfRunLoopOptions): Promise<number> {
  const { JsonlWriter } = await import('../../rows/jsonl-writer.js');
  const { EpisodeClock } = await import('../../clock/origin.js');
  const writer = new JsonlWriter(o.outputPath, { availableInDeployment: o.availableInDeployment ?? false });
  try {
    await perfLoop({ ...o, writer, clock: new EpisodeClock(o.tMonoOriginNs) });
  } finally {
    writer.close();
  }
  return writer.rows;
}
