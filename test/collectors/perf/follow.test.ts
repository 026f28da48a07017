// perf follows a pidfile target across restarts as proc does, against the
// real perf and real workload processes: a restart row, perf re-attached to
// the new pid, and never a collector quietly ended while the episode goes on.
// Skips only where perf is absent (CI installs it).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { runEpisode } from '../../../src/agent/run-episode.js';
import { EpisodeClock, monoNowNs } from '../../../src/clock/origin.js';
import { perfLoop, type PerfLoopResult } from '../../../src/collectors/perf/run-loop.js';
import { parseManifest } from '../../../src/manifest/load.js';
import { JsonlWriter } from '../../../src/rows/jsonl-writer.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import type { ProcessIdentity } from '../../../src/util/process-identity.js';
import { has, isRoot } from '../../helpers/programs.js';
import { abortAfter, readJsonl, tmpDir } from '../../helpers/tmp.js';

const hasPerf = has('perf');
const EVENTS = ['cpu-clock', 'page-faults', 'context-switches'];
const INTERVAL_MS = 100;
/** Not a timing assertion: if something hangs, the test fails naming what it waited for, and its busy workloads are still killed. */
const BOUND_MS = 20_000;

/** `exec yes` so the pid is the busy process itself, not a shell waiting on it. */
const busy = () => spawn('sh', ['-c', 'exec yes >/dev/null'], { stdio: 'ignore' });
const exited = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));

/**
 * Waits for `cond`, failing with `what` if `ended()` names why the collector
 * ended first, or if the safety bound passes (a hang, not a timing assertion).
 */
async function until(cond: () => boolean, what: string, bound: AbortSignal, ended: () => string | null = () => null): Promise<void> {
  while (!cond()) {
    if (bound.aborted) throw new Error(`never happened (in ${BOUND_MS} ms): ${what}`); // the bound also stops the loop: first
    const why = ended();
    if (why !== null) throw new Error(`perf ended (${why}) before: ${what}`);
    await sleep(20);
  }
}

/** The rows on disk so far, whole lines only (a read may meet a write). */
function rowsSoFar(file: string): Record<string, unknown>[] {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * A busy target whose parent does not reap it until told: once killed it stays
 * a zombie, as QEMU does under a parent slow to wait for it. `reap()` lets the
 * parent (a shell blocked in `read`) reap it and exit.
 */
async function unreaped(): Promise<{ pid: number; reap: () => Promise<void> }> {
  const parent = spawn('sh', ['-c', 'yes >/dev/null & echo $!; read x; wait'], { stdio: ['pipe', 'pipe', 'ignore'] });
  const pid = await new Promise<number>((resolve, reject) => {
    parent.stdout!.once('data', (d) => resolve(Number(String(d).trim())));
    parent.once('exit', () => reject(new Error('the parent shell exited before naming its child')));
  });
  const reap = async () => {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone already */ }
    parent.stdin!.end('\n');
    await exited(parent);
  };
  return { pid, reap };
}

/** State letter of /proc/PID/stat ('Z' for a zombie), or null when there is no such process. */
function stateOf(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/** The perf processes attached to `pid` (`perf stat ... -p PID`), read from /proc: none may outlive its loop. */
function perfAttachedTo(pid: number): number[] {
  const found: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${d}/cmdline`, 'latin1').split('\0');
    } catch {
      continue; // gone meanwhile
    }
    const p = argv.indexOf('-p');
    if (path.basename(argv[0] ?? '') === 'perf' && argv[1] === 'stat' && p > 0 && argv[p + 1] === String(pid)) found.push(Number(d));
  }
  return found;
}

/**
 * Starts a busy process under `pid`, which must be free: the kernel gives the next
 * fork ns_last_pid + 1 (root only). Fails, saying so, if another fork took it first.
 */
function busyWithPid(pid: number): ChildProcess {
  fs.writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
  const p = busy();
  if (p.pid !== pid) {
    p.kill('SIGKILL');
    throw new Error(`could not stage the pid reuse: another fork took pid ${pid} (got ${p.pid})`);
  }
  return p;
}

/** perfLoop on a pidfile (or a plain pid) target, with its rows readable while it runs. */
function startPerf(target: { pid: number; pidfile?: string }, extra: { restartDelayMs?: number } = {}) {
  const out = path.join(tmpDir(), 'telemetry-perf.jsonl');
  const writer = new JsonlWriter(out, { availableInDeployment: false });
  const stop = new AbortController();
  const bound = abortAfter(BOUND_MS);
  const polls: Array<{ afterWrite: boolean; next: ProcessIdentity | null }> = [];
  const state = { pidfileWritten: false, settled: false, end: null as string | null };
  const errors: string[] = [];
  const done: Promise<PerfLoopResult> = perfLoop({
    ...target,
    ...extra,
    reportError: (m) => errors.push(m),
    writer,
    clock: new EpisodeClock(0),
    intervalMs: INTERVAL_MS,
    events: EVENTS,
    signal: AbortSignal.any([stop.signal, bound]),
    onPidfilePoll: (next) => polls.push({ afterWrite: state.pidfileWritten, next }),
  }).then((r) => {
    state.end = r.end;
    return r;
  }).finally(() => {
    state.settled = true;
    writer.close();
  });
  const rows = () => {
    if (!state.settled) writer.flush();
    return readJsonl(out);
  };
  const ended = () => (state.settled ? `end: ${state.end ?? 'threw'}` : null);
  return { out, stop, bound, polls, errors, state, done, rows, ended };
}

describe.skipIf(!hasPerf)('perf follows a pidfile target like proc does', () => {
  // Regression for: with a pidfile target, perf ended with target_exited when QEMU restarted,
  // and the episode went on with perf quietly ended while proc followed the new process.
  it('a target killed and restarted under a new pid: a restarted row, perf re-attached at the first pidfile read, real counts of the new process', async () => {
    const dir = tmpDir();
    const pidfile = path.join(dir, 'qemu.pid');
    const a = busy();
    fs.writeFileSync(pidfile, `${a.pid}\n`);
    const p = startPerf({ pid: a.pid!, pidfile });
    let b: ChildProcess | undefined;
    let tWrite = 0;
    let r: PerfLoopResult;
    try {
      await until(() => p.rows().filter((x) => x.pid === a.pid).length >= 2, 'two rows of the first process', p.bound, p.ended);
      // QEMU removes its pidfile as it exits; a restart manager writes the new one.
      fs.rmSync(pidfile);
      a.kill('SIGKILL');
      await exited(a);
      await until(() => p.polls.length >= 2, 'perf reading the pidfile while the target is gone', p.bound, p.ended);
      expect(p.state.settled).toBe(false); // waiting, not ended
      b = busy();
      tWrite = Number(monoNowNs());
      fs.writeFileSync(pidfile, `${b.pid}\n`);
      p.state.pidfileWritten = true; // the loop runs on this thread: no read can fall between the write and this
      await until(() => p.rows().filter((x) => x.pid === b!.pid).length >= 3, 'three rows of the new process', p.bound, p.ended);
      p.stop.abort();
      r = await p.done;
    } finally {
      a.kill('SIGKILL');
      b?.kill('SIGKILL');
      p.stop.abort();
    }
    expect(r).toMatchObject({ end: 'stopped', targetRestarts: 1, restarts: 0, targetGoneAtNs: null });
    const rows = readJsonl(p.out);
    expect(rows).toHaveLength(r.rows);
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const row of rows) expect(() => ROW_SCHEMAS.host_perf!.parse(row)).not.toThrow();

    // The first process, then the new one, never interleaved; each marked on its first row.
    const first = rows.findIndex((x) => x.pid === b!.pid);
    expect(first).toBeGreaterThanOrEqual(2);
    const ofFirst = rows.slice(0, first);
    const ofNew = rows.slice(first);
    expect(ofFirst.length).toBeGreaterThanOrEqual(2);
    expect(ofNew.length).toBeGreaterThanOrEqual(3);
    expect(ofFirst.every((x) => x.pid === a.pid)).toBe(true);
    expect(ofNew.every((x) => x.pid === b!.pid)).toBe(true);
    expect(rows.map((x) => x.process_event).filter((e) => e !== null)).toEqual(['started', 'restarted']);
    expect(rows[0]!.process_event).toBe('started');
    const restart = rows[first]!;
    expect(restart.process_event).toBe('restarted');

    // One clock, in order: the new run starts after the pidfile named the new process.
    const times = rows.map((x) => x.t_mono_ns as number);
    expect(times.length).toBeGreaterThanOrEqual(5);
    expect(times).toEqual([...times].sort((x, y) => x - y)); // in order
    expect(new Set(times).size).toBe(times.length); // and strictly: no two rows at one instant
    const reattachedAt = (restart.t_mono_ns as number) - Math.round((restart.perf_interval_s as number) * 1e9);
    expect(reattachedAt).toBeGreaterThanOrEqual(tWrite);
    expect(reattachedAt).toBeGreaterThan(rows[first - 1]!.t_mono_ns as number);
    // Its own run: the restart row counts from the re-attach, not from the first process's perf.
    expect(restart.interval_s).toBe(restart.perf_interval_s);

    // Within one interval: perf waited reading the pidfile every interval, and the first
    // read after the pidfile named the new process re-attached to it.
    const before = p.polls.filter((x) => !x.afterWrite);
    const after = p.polls.filter((x) => x.afterWrite);
    expect(before.length).toBeGreaterThanOrEqual(2);
    for (const x of before) expect(x.next).toBeNull();
    expect(after).toHaveLength(1);
    expect(after[0]!.next).toMatchObject({ pid: b!.pid });

    // Real counts of the new process: it counted a busy CPU, and an interval in which this
    // loaded host did not run it at all is null with perf's reason, never 0.
    const newRows = rows.slice(first, first + 3);
    expect(newRows).toHaveLength(3);
    expect(newRows.some((x) => (x.cpu_clock_ms as number) > 0)).toBe(true);
    for (const x of newRows) {
      if (x.cpu_clock_ms === null) expect((x.null_reasons as Record<string, string>).cpu_clock_ms).toMatch(/^perf: <not counted>/);
      else expect(x.cpu_clock_ms as number).toBeGreaterThan(0);
    }
    expect(r.valueRows).toBeGreaterThanOrEqual(5);
  });

  // Regression for: a pidfile target that was gone when the episode stopped left perf "stopped",
  // as if it had been counting to the end.
  it('a pidfile target that does not come back: perf waits, then ends target_exited when the episode stops', async () => {
    const pidfile = path.join(tmpDir(), 'qemu.pid');
    const a = busy();
    fs.writeFileSync(pidfile, `${a.pid}\n`);
    const p = startPerf({ pid: a.pid!, pidfile });
    let r: PerfLoopResult;
    try {
      await until(() => p.rows().length >= 1, 'a row of the target', p.bound, p.ended);
      a.kill('SIGKILL');
      await exited(a);
      await until(() => p.polls.length >= 3, 'perf reading the pidfile while the target is gone', p.bound, p.ended);
      expect(p.state.settled).toBe(false);
      p.stop.abort();
      r = await p.done;
    } finally {
      a.kill('SIGKILL');
      p.stop.abort();
    }
    // The stale pidfile still names the dead pid: never followed.
    expect(p.polls.length).toBeGreaterThanOrEqual(3);
    for (const x of p.polls) expect(x.next).toBeNull();
    expect(r).toMatchObject({ end: 'target_exited', targetRestarts: 0 });
    const rows = readJsonl(p.out);
    expect(rows.length).toBeGreaterThanOrEqual(1);
    for (const x of rows) expect(x.pid).toBe(a.pid);
    // When it saw the target gone, for verify: after its last row, on the same clock.
    expect(r.targetGoneAtNs).toBeGreaterThanOrEqual(rows.at(-1)!.t_mono_ns as number);
  });

  // Regression for: a target that restarted before perf started (the agent resolved the pidfile,
  // then QEMU restarted and rewrote it) left perf waiting for a rewrite that had already happened.
  it('a target gone before perf starts, the pidfile already naming its successor: perf follows it at the first read', async () => {
    const pidfile = path.join(tmpDir(), 'qemu.pid');
    const a = busy();
    fs.writeFileSync(pidfile, `${a.pid}\n`);
    a.kill('SIGKILL');
    await exited(a);
    const b = busy();
    fs.writeFileSync(pidfile, `${b.pid}\n`);
    const p = startPerf({ pid: a.pid!, pidfile }); // the pid the agent read before the restart
    let r: PerfLoopResult;
    try {
      await until(() => p.rows().length >= 2, 'two rows of the new process', p.bound, p.ended);
      p.stop.abort();
      r = await p.done;
    } finally {
      b.kill('SIGKILL');
      p.stop.abort();
    }
    expect(r).toMatchObject({ end: 'stopped', targetRestarts: 1 });
    expect(p.polls.map((x) => x.next?.pid ?? null)).toEqual([b.pid]);
    const rows = readJsonl(p.out);
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const x of rows) expect(x.pid).toBe(b.pid);
    expect(rows.map((x) => x.process_event)).toEqual(['restarted', ...rows.slice(1).map(() => null)]);
  });

  // Regression for: `perf stat -p` takes a zombie for a live task (it only stats /proc/PID), so
  // when QEMU died under a parent slow to reap it, perf wrote <not counted> rows for the dead
  // process for as long as the zombie lasted and never followed the restart proc followed.
  it('a pidfile target that dies unreaped (a zombie): perf sees it gone, as proc does, and follows the restart', async () => {
    const pidfile = path.join(tmpDir(), 'qemu.pid');
    const a = await unreaped();
    fs.writeFileSync(pidfile, `${a.pid}\n`);
    const p = startPerf({ pid: a.pid, pidfile });
    let b: ChildProcess | undefined;
    let r: PerfLoopResult;
    try {
      await until(() => p.rows().length >= 2, 'two rows of the first process', p.bound, p.ended);
      fs.rmSync(pidfile);
      process.kill(a.pid, 'SIGKILL');
      await until(() => stateOf(a.pid) === 'Z', 'the first process a zombie', p.bound);
      b = busy();
      fs.writeFileSync(pidfile, `${b.pid}\n`);
      await until(() => p.rows().filter((x) => x.pid === b!.pid).length >= 2, 'two rows of the new process (the first one still a zombie)', p.bound, p.ended);
      expect(stateOf(a.pid)).toBe('Z'); // followed while the zombie was still there
      expect(perfAttachedTo(a.pid)).toEqual([]); // perf no longer counts the zombie
      p.stop.abort();
      r = await p.done;
    } finally {
      b?.kill('SIGKILL');
      p.stop.abort();
      await a.reap();
    }
    expect(r).toMatchObject({ end: 'stopped', targetRestarts: 1, restarts: 0 });
    const rows = readJsonl(p.out);
    expect(rows.filter((x) => x.process_event === 'restarted').map((x) => x.pid)).toEqual([b!.pid]);
    expect(perfAttachedTo(b!.pid!)).toEqual([]);
  });

  // Regression for: a plain pid target that died unreaped kept perf running on the zombie
  // (rows of nulls) instead of ending target_exited as proc does.
  it('a plain pid target that dies unreaped (a zombie): perf ends target_exited by itself', async () => {
    const a = await unreaped();
    const p = startPerf({ pid: a.pid });
    let r: PerfLoopResult;
    try {
      await until(() => p.rows().length >= 1, 'a row of the target', p.bound, p.ended);
      process.kill(a.pid, 'SIGKILL');
      await until(() => stateOf(a.pid) === 'Z', 'the target a zombie', p.bound);
      await until(() => p.state.settled, 'perf ending with its target (still a zombie)', p.bound);
      expect(stateOf(a.pid)).toBe('Z');
      r = await p.done;
    } finally {
      p.stop.abort();
      await a.reap();
    }
    expect(r).toMatchObject({ end: 'target_exited', restarts: 0 });
    expect(p.bound.aborted).toBe(false);
    expect(perfAttachedTo(a.pid)).toEqual([]);
  });

  // Regression for: when perf died while the target lived, perf waited out its restart backoff
  // (0.5 s doubling to 8 s) before it looked at the target again, so a QEMU restart during the
  // backoff was re-attached only after it, not within one interval.
  it('the target restarts while perf waits to restart after dying (SIGKILL): re-attached at the first pidfile read, not after the backoff', async () => {
    const pidfile = path.join(tmpDir(), 'qemu.pid');
    const a = busy();
    fs.writeFileSync(pidfile, `${a.pid}\n`);
    // A backoff longer than the test's bound: re-attaching after it would never happen here.
    const p = startPerf({ pid: a.pid!, pidfile }, { restartDelayMs: 10 * BOUND_MS });
    let b: ChildProcess | undefined;
    let r: PerfLoopResult;
    try {
      await until(() => p.rows().length >= 2, 'two rows of the first process', p.bound, p.ended);
      const perfs = perfAttachedTo(a.pid!);
      expect(perfs).toHaveLength(1);
      for (const x of perfs) process.kill(x, 'SIGKILL');
      await until(() => p.errors.length >= 1, 'perf reporting its death', p.bound, p.ended);
      expect(p.errors[0]).toMatch(/^perf killed by SIGKILL; restarting in \d+ ms$/);
      fs.rmSync(pidfile);
      a.kill('SIGKILL');
      await exited(a);
      b = busy();
      fs.writeFileSync(pidfile, `${b.pid}\n`);
      p.state.pidfileWritten = true;
      await until(() => p.rows().filter((x) => x.pid === b!.pid).length >= 2, 'two rows of the new process', p.bound, p.ended);
      p.stop.abort();
      r = await p.done;
    } finally {
      a.kill('SIGKILL');
      b?.kill('SIGKILL');
      p.stop.abort();
    }
    expect(r).toMatchObject({ end: 'stopped', restarts: 1, targetRestarts: 1 });
    const after = p.polls.filter((x) => x.afterWrite);
    expect(after).toHaveLength(1);
    expect(after[0]!.next).toMatchObject({ pid: b!.pid });
    const rows = readJsonl(p.out);
    expect(rows.filter((x) => x.process_event === 'restarted').map((x) => x.pid)).toEqual([b!.pid]);
    expect(perfAttachedTo(a.pid!)).toEqual([]);
    expect(perfAttachedTo(b!.pid!)).toEqual([]);
  });

  // Regression for: a pidfile read mid-way through a non-atomic rewrite ("1" of "1234\n") named
  // another live process (here pid 1); perf took it on and, since it never exits, stayed on it
  // for the rest of the episode although the pidfile soon named the restarted QEMU.
  it('a pidfile caught mid-way through a rewrite, naming another live process: perf moves on to the process the completed pidfile names', async () => {
    const pidfile = path.join(tmpDir(), 'qemu.pid');
    const a = busy();
    fs.writeFileSync(pidfile, `${a.pid}\n`);
    const p = startPerf({ pid: a.pid!, pidfile });
    let b: ChildProcess | undefined;
    let c: ChildProcess | undefined;
    let r: PerfLoopResult;
    try {
      await until(() => p.rows().length >= 2, 'two rows of the first process', p.bound, p.ended);
      fs.rmSync(pidfile);
      a.kill('SIGKILL');
      await exited(a);
      b = busy();
      // What a half-written pid names: a live process of the same executable (pid 1 is refused outright: test/util/pidfile-follower.test.ts).
      c = busy();
      fs.writeFileSync(pidfile, `${c.pid}`);
      await until(() => p.polls.some((x) => x.next?.pid === c!.pid), 'perf taking on the process the half-written pidfile names', p.bound, p.ended);
      fs.writeFileSync(pidfile, `${b.pid}\n`);
      await until(() => p.rows().filter((x) => x.pid === b!.pid).length >= 2, 'two rows of the process the completed pidfile names', p.bound, p.ended);
      p.stop.abort();
      r = await p.done;
    } finally {
      a.kill('SIGKILL');
      b?.kill('SIGKILL');
      c?.kill('SIGKILL');
      p.stop.abort();
    }
    expect(r).toMatchObject({ end: 'stopped', targetRestarts: 2, restarts: 0 });
    const rows = readJsonl(p.out);
    // Each process's rows together, in the order followed, the last one the completed pidfile's.
    const pids = rows.map((x) => x.pid).filter((x, i, all) => i === 0 || x !== all[i - 1]);
    expect([[a.pid, c!.pid, b!.pid], [a.pid, b!.pid]]).toContainEqual(pids); // perf on the half-written pid's process may have been ended before its first row
    const restarted = rows.filter((x) => x.process_event === 'restarted').map((x) => x.pid);
    expect(restarted.at(-1)).toBe(b!.pid);
    expect(perfAttachedTo(c!.pid!)).toEqual([]);
  });

  // Regression for: QEMU restarted under the same pid (reused; a new starttime) and perf went on
  // counting the dead process (<not counted>), because `perf stat -p` only checks that /proc/PID
  // exists; the pidfile rewritten for the new process was never followed.
  it.runIf(isRoot())('a target restarted under the same pid (a new starttime), the pidfile rewritten: perf re-attaches to the new process', async () => {
    const pidfile = path.join(tmpDir(), 'qemu.pid');
    const a = busy();
    fs.writeFileSync(pidfile, `${a.pid}\n`);
    const p = startPerf({ pid: a.pid!, pidfile });
    let b: ChildProcess | undefined;
    let r: PerfLoopResult;
    try {
      await until(() => p.rows().length >= 2, 'two rows of the first process', p.bound, p.ended);
      a.kill('SIGKILL');
      await exited(a);
      b = busyWithPid(a.pid!);
      fs.writeFileSync(pidfile, `${b.pid}\n`);
      const restartedAt = (rows: Record<string, unknown>[]) => rows.findIndex((x) => x.process_event === 'restarted');
      await until(() => { const rows = p.rows(); return restartedAt(rows) >= 0 && rows.length >= restartedAt(rows) + 3; }, 'a restarted row for the new process under the same pid, and two rows after it', p.bound, p.ended);
      p.stop.abort();
      r = await p.done;
    } finally {
      a.kill('SIGKILL');
      b?.kill('SIGKILL');
      p.stop.abort();
    }
    expect(r).toMatchObject({ end: 'stopped', targetRestarts: 1, restarts: 0 });
    const rows = readJsonl(p.out);
    for (const x of rows) expect(x.pid).toBe(a.pid);
    expect(rows.map((x) => x.process_event).filter((e) => e !== null)).toEqual(['started', 'restarted']);
    // The new process's counts, not the dead one's <not counted>: from the restart on, it counted a busy CPU.
    const after = rows.slice(rows.findIndex((x) => x.process_event === 'restarted'));
    expect(after.length).toBeGreaterThanOrEqual(3);
    expect(after.some((x) => (x.cpu_clock_ms as number) > 0)).toBe(true);
  });

  // Guards the follower's rule: a pid reused by a stranger, the pidfile not rewritten, is never followed.
  it.runIf(isRoot())('the target dead and its pid reused by another process, the pidfile not rewritten: perf does not count the stranger, and waits', async () => {
    const pidfile = path.join(tmpDir(), 'qemu.pid');
    const a = busy();
    fs.writeFileSync(pidfile, `${a.pid}\n`);
    const p = startPerf({ pid: a.pid!, pidfile });
    let stranger: ChildProcess | undefined;
    let r: PerfLoopResult;
    try {
      await until(() => p.rows().length >= 1, 'a row of the target', p.bound, p.ended);
      a.kill('SIGKILL');
      await exited(a);
      stranger = busyWithPid(a.pid!);
      await until(() => p.polls.length >= 3, 'perf reading the pidfile while the target is gone', p.bound, p.ended);
      expect(perfAttachedTo(a.pid!)).toEqual([]); // not counting the stranger
      p.stop.abort();
      r = await p.done;
    } finally {
      a.kill('SIGKILL');
      stranger?.kill('SIGKILL');
      p.stop.abort();
    }
    expect(r).toMatchObject({ end: 'target_exited', targetRestarts: 0 });
    expect(p.polls.length).toBeGreaterThanOrEqual(3);
    for (const x of p.polls) expect(x.next).toBeNull();
    const rows = readJsonl(p.out);
    expect(rows.map((x) => x.process_event).filter((e) => e !== null)).toEqual(['started']);
  });

  // Guards: three restarts within one interval end with perf on the last process, no perf left on any.
  it('three restarts within one interval: perf ends up on the last process the pidfile names, and no perf is left on the others', async () => {
    const pidfile = path.join(tmpDir(), 'qemu.pid');
    const a = busy();
    fs.writeFileSync(pidfile, `${a.pid}\n`);
    const p = startPerf({ pid: a.pid!, pidfile });
    const all: ChildProcess[] = [a];
    let r: PerfLoopResult;
    try {
      await until(() => p.rows().length >= 2, 'two rows of the first process', p.bound, p.ended);
      a.kill('SIGKILL');
      for (let i = 0; i < 3; i++) {
        const next = busy();
        all.push(next);
        fs.writeFileSync(pidfile, `${next.pid}\n`);
        if (i < 2) next.kill('SIGKILL'); // gone again at once
      }
      await until(() => p.rows().filter((x) => x.pid === all[3]!.pid).length >= 2, 'two rows of the last process', p.bound, p.ended);
      p.stop.abort();
      r = await p.done;
    } finally {
      for (const x of all) x.kill('SIGKILL');
      p.stop.abort();
    }
    expect(r.end).toBe('stopped');
    const rows = readJsonl(p.out);
    const restarted = rows.filter((x) => x.process_event === 'restarted').map((x) => x.pid);
    expect(restarted.at(-1)).toBe(all[3]!.pid);
    expect(r.targetRestarts).toBeGreaterThanOrEqual(restarted.length);
    expect(rows.at(-1)!.pid).toBe(all[3]!.pid);
    for (const x of all) expect(perfAttachedTo(x.pid!)).toEqual([]);
  });

  // Guards: a pidfile rewritten while the old process still runs (the new QEMU up first) keeps
  // perf on the old one until it exits, as proc does, then on the new one.
  it('the pidfile rewritten before the old process exits: perf counts the old one to its exit, then the new one', async () => {
    const pidfile = path.join(tmpDir(), 'qemu.pid');
    const a = busy();
    fs.writeFileSync(pidfile, `${a.pid}\n`);
    const p = startPerf({ pid: a.pid!, pidfile });
    const b = busy();
    let r: PerfLoopResult;
    let rowsBeforeExit = 0;
    try {
      await until(() => p.rows().length >= 1, 'a row of the first process', p.bound, p.ended);
      fs.writeFileSync(pidfile, `${b.pid}\n`);
      const n = p.rows().length;
      await until(() => p.rows().length >= n + 2, 'two more rows after the rewrite', p.bound, p.ended);
      rowsBeforeExit = p.rows().length;
      a.kill('SIGKILL');
      await exited(a);
      await until(() => p.rows().filter((x) => x.pid === b.pid).length >= 2, 'two rows of the new process', p.bound, p.ended);
      p.stop.abort();
      r = await p.done;
    } finally {
      a.kill('SIGKILL');
      b.kill('SIGKILL');
      p.stop.abort();
    }
    expect(r).toMatchObject({ end: 'stopped', targetRestarts: 1 });
    const rows = readJsonl(p.out);
    const whileOld = rows.slice(0, rowsBeforeExit);
    expect(whileOld.length).toBeGreaterThanOrEqual(3);
    expect(whileOld.every((x) => x.pid === a.pid)).toBe(true); // still the old one while it ran
    expect(rows.filter((x) => x.process_event === 'restarted').map((x) => x.pid)).toEqual([b.pid]);
    expect(perfAttachedTo(a.pid!)).toEqual([]);
  });

  // Guards the old behaviour: a pid target cannot come back, so perf ends with it.
  it('a plain pid target: perf ends target_exited by itself when the target exits, reading no pidfile', async () => {
    const a = busy();
    const p = startPerf({ pid: a.pid! });
    let r: PerfLoopResult;
    try {
      await until(() => p.rows().length >= 1, 'a row of the target', p.bound);
      a.kill('SIGKILL');
      r = await p.done;
    } finally {
      a.kill('SIGKILL');
    }
    expect(r).toMatchObject({ end: 'target_exited', restarts: 0 });
    expect(p.bound.aborted).toBe(false); // it ended by itself, not at the safety bound
    expect(p.polls).toEqual([]);
    const rows = readJsonl(p.out);
    expect(rows.length).toBeGreaterThanOrEqual(1);
    for (const x of rows) expect(x.pid).toBe(a.pid);
  });

  // Regression for: the episode went on with perf quietly ended (summary: target_exited)
  // while proc followed the restarted QEMU.
  it('a whole episode on a pidfile target: proc and perf both follow the restart, and perf ends stopped, not target_exited', async () => {
    const dir = tmpDir();
    const pidfile = path.join(dir, 'qemu.pid');
    const out = path.join(dir, 'ep');
    const a = busy();
    fs.writeFileSync(pidfile, `${a.pid}\n`);
    const stop = new AbortController();
    const bound = abortAfter(BOUND_MS);
    const perfFile = path.join(out, 'telemetry-perf.jsonl');
    const procFile = path.join(out, 'telemetry-proc.jsonl');
    const perfRows = () => rowsSoFar(perfFile);
    const manifest = parseManifest({
      output_dir: out,
      target: { pidfile },
      collectors: { proc: { interval_ms: INTERVAL_MS }, perf: { interval_ms: INTERVAL_MS, events: EVENTS } },
    });
    /** The agent's own record of perf ending, if it did. */
    const perfEnded = () => {
      const row = rowsSoFar(path.join(out, 'telemetry-agent.jsonl')).find((x) => x.event === 'collector_ended' && x.collector === 'perf');
      return row ? `the agent recorded collector_ended: ${String(row.message)}` : null;
    };
    const run = runEpisode({ manifest, stop: AbortSignal.any([stop.signal, bound]) });
    let b: ChildProcess | undefined;
    try {
      // Both collectors on the first process before it goes (their workers start one by one).
      await until(() => perfRows().length >= 2 && rowsSoFar(procFile).length >= 2, 'two perf and two proc rows of the first process', bound, perfEnded);
      fs.rmSync(pidfile);
      a.kill('SIGKILL');
      await exited(a);
      b = busy();
      fs.writeFileSync(pidfile, `${b.pid}\n`);
      await until(() => perfRows().filter((x) => x.pid === b!.pid).length >= 3, 'three perf rows of the new process', bound, perfEnded);
      stop.abort();
      const { summary } = await run;
      expect(bound.aborted).toBe(false);
      expect(summary.collectors.perf, JSON.stringify(summary.collectors.perf)).toMatchObject({ status: 'ok', end: 'stopped', detail: { restarts: 0, target_restarts: 1, target_gone_at_ns: null } });
      expect(summary.collectors.proc, JSON.stringify(summary.collectors.proc)).toMatchObject({ status: 'ok', end: 'stopped' });
    } finally {
      a.kill('SIGKILL');
      b?.kill('SIGKILL');
      stop.abort();
      await run.catch(() => {});
    }
    const perf = readJsonl(perfFile);
    const proc = readJsonl(procFile);
    expect(perf.filter((x) => x.process_event === 'restarted').map((x) => x.pid)).toEqual([b!.pid]);
    expect(proc.filter((x) => x.process_event === 'restarted').map((x) => x.pid)).toEqual([b!.pid]);
    const afterRestart = perf.slice(perf.findIndex((x) => x.process_event === 'restarted'));
    expect(afterRestart.length).toBeGreaterThanOrEqual(3);
    for (const x of afterRestart) expect(x.pid).toBe(b!.pid);
  });
});
