// proc follows a pidfile target from its very start, as perf does: a target
// already gone when proc's worker starts (QEMU restarted, or on its way) is
// waited for, not a failed collector. Real processes, the real /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { EpisodeClock } from '../../../src/clock/origin.js';
import { procLoop, type ProcLoopResult } from '../../../src/collectors/proc/run-loop.js';
import { nativeAddon } from '../../../src/native/addon.js';
import { JsonlWriter } from '../../../src/rows/jsonl-writer.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import { abortAfter, readJsonl, tmpDir } from '../../helpers/tmp.js';

const kinds = nativeAddon() ? (['native', 'ts'] as const) : (['ts'] as const);
const INTERVAL_MS = 50;
/** Not a timing assertion: if something hangs, the test fails naming what it waited for, and its workloads are still killed. */
const BOUND_MS = 20_000;

const sleeper = () => spawn('sleep', ['60'], { stdio: 'ignore' });
const exited = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));

/** A pid that was a process and is now gone (spawned, killed, reaped). */
async function deadPid(): Promise<number> {
  const a = sleeper();
  a.kill('SIGKILL');
  await exited(a);
  return a.pid!;
}

/** The episode clock, counting its reads: proc reads it once per tick, so the test can tell proc is ticking. */
class CountingClock extends EpisodeClock {
  reads = 0;
  override now(): number {
    this.reads++;
    return super.now();
  }
}

/** procLoop on a pidfile target, with its rows readable while it runs. */
function startProc(pid: number, pidfile: string, sampler: (typeof kinds)[number], more: Partial<Parameters<typeof procLoop>[0]> = {}) {
  const out = path.join(tmpDir(), 'telemetry-proc.jsonl');
  const writer = new JsonlWriter(out, { availableInDeployment: true });
  const stop = new AbortController();
  const bound = abortAfter(BOUND_MS);
  const state = { settled: false, error: null as Error | null };
  const clock = new CountingClock(0);
  const done: Promise<ProcLoopResult> = procLoop({ pid, pidfile, writer, clock, intervalMs: INTERVAL_MS, signal: AbortSignal.any([stop.signal, bound]), sampler, ...more })
    .catch((err: Error) => {
      state.error = err;
      throw err;
    })
    .finally(() => {
      state.settled = true;
      writer.close();
    });
  done.catch(() => {}); // awaited by the test; a rejection is read from state meanwhile
  const rows = () => {
    if (!state.settled) writer.flush();
    return fs.existsSync(out) ? readJsonl(out) : [];
  };
  return { out, stop, bound, state, done, rows, clock };
}

async function until(cond: () => boolean, what: string, p: ReturnType<typeof startProc>): Promise<void> {
  while (!cond()) {
    if (p.bound.aborted) throw new Error(`never happened (in ${BOUND_MS} ms): ${what}`);
    if (p.state.error) throw new Error(`proc failed before: ${what}: ${p.state.error.message}`);
    if (p.state.settled) throw new Error(`proc ended before: ${what}`);
    await sleep(10);
  }
}

describe.each(kinds)('proc follows a pidfile target from its start (%s sampler)', (sampler) => {
  // Regression for: proc failed at start with "cannot sample /proc/PID: ENOENT" when a pidfile
  // target was gone before its worker started, while perf waited for the pidfile's next process.
  it('a target gone before proc starts, the pidfile still naming it: proc waits (no rows, no error), then takes on the process the rewritten pidfile names', async () => {
    const pidfile = path.join(tmpDir(), 'qemu.pid');
    const a = await deadPid();
    fs.writeFileSync(pidfile, `${a}\n`);
    const p = startProc(a, pidfile, sampler);
    const b = sleeper();
    let r: ProcLoopResult;
    try {
      // Waiting: neither failed nor ended, and nothing written for a process that is not there.
      await until(() => p.clock.reads >= 3, 'proc ticking three times while the target is gone', p);
      expect(p.state.settled).toBe(false);
      expect(p.rows()).toEqual([]);
      fs.writeFileSync(pidfile, `${b.pid}\n`);
      await until(() => p.rows().length >= 2, 'two rows of the process the rewritten pidfile names', p);
      p.stop.abort();
      r = await p.done;
    } finally {
      b.kill('SIGKILL');
      p.stop.abort();
    }
    expect(r).toMatchObject({ end: 'stopped' });
    const rows = readJsonl(p.out);
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const x of rows) {
      expect(x.pid).toBe(b.pid);
      expect(() => ROW_SCHEMAS.host_proc!.parse(x)).not.toThrow();
    }
    expect(rows[0]!.process_event).toBe('restarted');
    expect((rows[0]!.null_reasons as Record<string, string>).interval_s).toBe('first sample after the restart');
    expect(rows.filter((x) => x.process_event !== null)).toHaveLength(1); // no 'exited' row for a process proc never saw
  });

  // Regression for: after a restart, QMP's thread maps of the old process still named the new one's threads (a tid
  // repeating one of the old vCPUs or iothreads was written as that vCPU, with role vcpu or io).
  it("a restart drops QMP's thread maps: the new process's threads are named by their names alone", async () => {
    const pidfile = path.join(tmpDir(), 'qemu.pid');
    const a = sleeper();
    const b = sleeper();
    fs.writeFileSync(pidfile, `${a.pid}\n`);
    // Maps as QMP gave them for the old process, naming (as a repeated tid would) the new one's main thread.
    const p = startProc(a.pid!, pidfile, sampler, { threads: true, vcpuThreads: { [String(b.pid)]: 0 }, ioThreads: { [String(b.pid)]: 'iothread1' } });
    try {
      await until(() => p.rows().some((x) => x.pid === a.pid && 'tid' in x), 'a thread row of the first process', p);
      a.kill('SIGKILL');
      await until(() => p.rows().some((x) => x.process_event === 'exited'), 'the exit row', p);
      fs.writeFileSync(pidfile, `${b.pid}\n`);
      await until(() => p.rows().filter((x) => x.pid === b.pid && 'tid' in x).length >= 2, 'two thread rows of the new process', p);
      p.stop.abort();
      await p.done;
    } finally {
      a.kill('SIGKILL');
      b.kill('SIGKILL');
      p.stop.abort();
    }
    const mine = readJsonl(p.out).filter((x) => x.pid === b.pid && x.tid === b.pid);
    expect(mine.length).toBeGreaterThan(0);
    for (const x of mine) expect([x.vcpu, x.role]).toEqual([null, 'main']);
  });

  // Regression for: the same failure when QEMU had already restarted (the pidfile names its successor).
  it('a target gone before proc starts, the pidfile already naming its successor: proc follows it at its first tick', async () => {
    const pidfile = path.join(tmpDir(), 'qemu.pid');
    const a = await deadPid();
    const b = sleeper();
    fs.writeFileSync(pidfile, `${b.pid}\n`);
    const p = startProc(a, pidfile, sampler); // the pid the agent read before the restart
    let r: ProcLoopResult;
    try {
      await until(() => p.rows().length >= 2, 'two rows of the new process', p);
      p.stop.abort();
      r = await p.done;
    } finally {
      b.kill('SIGKILL');
      p.stop.abort();
    }
    expect(r.end).toBe('stopped');
    const rows = readJsonl(p.out);
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const x of rows) expect(x.pid).toBe(b.pid);
    expect(rows.map((x) => x.process_event)).toEqual(['restarted', ...rows.slice(1).map(() => null)]);
  });

  // Regression for: a pidfile read mid-way through a non-atomic rewrite ("1" of "1234\n") named
  // another live process (here pid 1); proc took it on and, since it never exits, sampled it for
  // the rest of the episode although the pidfile soon named the restarted QEMU.
  it('a pidfile caught mid-way through a rewrite, naming another live process: proc moves on to the process the completed pidfile names', async () => {
    const pidfile = path.join(tmpDir(), 'qemu.pid');
    const a = sleeper();
    fs.writeFileSync(pidfile, `${a.pid}\n`);
    const p = startProc(a.pid!, pidfile, sampler);
    const b = sleeper();
    let c: ChildProcess | undefined;
    let r: ProcLoopResult;
    try {
      await until(() => p.rows().length >= 2, 'two rows of the first process', p);
      fs.rmSync(pidfile);
      a.kill('SIGKILL');
      await exited(a);
      await until(() => p.rows().some((x) => x.process_event === 'exited'), "proc's exited row", p);
      // What a half-written pid names: a live process of the same executable (pid 1 is refused outright: test/util/pidfile-follower.test.ts).
      c = sleeper();
      fs.writeFileSync(pidfile, `${c.pid}`);
      await until(() => p.rows().some((x) => x.pid === c!.pid), 'proc taking on the process the half-written pidfile names', p);
      fs.writeFileSync(pidfile, `${b.pid}\n`);
      await until(() => p.rows().filter((x) => x.pid === b.pid).length >= 2, 'two rows of the process the completed pidfile names', p);
      p.stop.abort();
      r = await p.done;
    } finally {
      a.kill('SIGKILL');
      b.kill('SIGKILL');
      c?.kill('SIGKILL');
      p.stop.abort();
    }
    expect(r.end).toBe('stopped');
    const rows = readJsonl(p.out);
    const pids = rows.map((x) => x.pid).filter((x, i, all) => i === 0 || x !== all[i - 1]);
    expect(pids).toEqual([a.pid, c!.pid, b.pid]);
    expect(rows.map((x) => x.process_event).filter((e) => e !== null)).toEqual(['started', 'exited', 'restarted', 'restarted']);
    expect(rows.filter((x) => x.process_event === 'restarted').map((x) => x.pid)).toEqual([c!.pid, b.pid]);
  });

  // Regression for: a pidfile was known as rewritten only by its inode, mtime and size. File
  // times are coarse on most kernels (one tick, 4 ms at HZ=250, before Linux 6.13's fine-grained
  // times), so a restart that rewrote it in the same tick, with a pid of as many digits, read as
  // the same pidfile: never followed. Here the same mtime is set with utimes, as such a kernel does.
  it('a pidfile rewritten with the same mtime and size (coarse file times): still a rewrite, followed', async () => {
    const pidfile = path.join(tmpDir(), 'qemu.pid');
    const tick = new Date(1_700_000_000_000);
    const a = sleeper();
    let b = sleeper();
    const spare: ChildProcess[] = [];
    while (String(b.pid).length !== String(a.pid).length) {
      spare.push(b);
      b = sleeper();
    }
    for (const x of spare) x.kill('SIGKILL');
    fs.writeFileSync(pidfile, `${a.pid}\n`);
    fs.utimesSync(pidfile, tick, tick);
    const p = startProc(a.pid!, pidfile, sampler);
    let r: ProcLoopResult;
    try {
      await until(() => p.rows().length >= 1, 'a row of the first process', p);
      a.kill('SIGKILL');
      await exited(a);
      await until(() => p.rows().some((x) => x.process_event === 'exited'), "proc's exited row", p);
      fs.writeFileSync(pidfile, `${b.pid}\n`);
      fs.utimesSync(pidfile, tick, tick);
      expect(fs.statSync(pidfile).size).toBe(String(a.pid).length + 1);
      await until(() => p.rows().filter((x) => x.pid === b.pid).length >= 2, 'two rows of the process the rewritten pidfile names', p);
      p.stop.abort();
      r = await p.done;
    } finally {
      a.kill('SIGKILL');
      b.kill('SIGKILL');
      p.stop.abort();
    }
    expect(r.end).toBe('stopped');
    const rows = readJsonl(p.out);
    expect(rows.filter((x) => x.process_event === 'restarted').map((x) => x.pid)).toEqual([b.pid]);
  });

  // Guards: a pidfile that holds no pid (garbage, emptied mid-rewrite, a symlink) is waited past, never taken for a pid.
  it('a pidfile rewritten with garbage, then emptied, then replaced by a symlink: proc waits through each, then follows the pid written', async () => {
    const dir = tmpDir();
    const pidfile = path.join(dir, 'qemu.pid');
    const a = sleeper();
    const b = sleeper();
    fs.writeFileSync(pidfile, `${a.pid}\n`);
    const p = startProc(a.pid!, pidfile, sampler);
    let r: ProcLoopResult;
    try {
      await until(() => p.rows().length >= 1, 'a row of the first process', p);
      a.kill('SIGKILL');
      await exited(a);
      await until(() => p.rows().some((x) => x.process_event === 'exited'), "proc's exited row", p);
      const bad: Array<[string, () => void]> = [
        ['garbage', () => fs.writeFileSync(pidfile, `${b.pid}x\n`)],
        ['empty', () => fs.writeFileSync(pidfile, '')],
        ['a symlink to a file naming the new pid', () => {
          fs.writeFileSync(path.join(dir, 'elsewhere'), `${b.pid}\n`);
          fs.rmSync(pidfile);
          fs.symlinkSync(path.join(dir, 'elsewhere'), pidfile);
        }],
      ];
      expect(bad).toHaveLength(3);
      for (const [what, write] of bad) {
        write();
        const reads = p.clock.reads;
        await until(() => p.clock.reads >= reads + 2, `two ticks with the pidfile ${what}`, p);
        expect(p.rows().filter((x) => x.pid === b.pid), what).toEqual([]);
      }
      fs.rmSync(pidfile);
      fs.writeFileSync(pidfile, `${b.pid}\n`);
      await until(() => p.rows().filter((x) => x.pid === b.pid).length >= 2, 'two rows of the process the pidfile names at last', p);
      p.stop.abort();
      r = await p.done;
    } finally {
      a.kill('SIGKILL');
      b.kill('SIGKILL');
      p.stop.abort();
    }
    expect(r.end).toBe('stopped');
    const rows = readJsonl(p.out);
    expect(rows.map((x) => x.process_event).filter((e) => e !== null)).toEqual(['started', 'exited', 'restarted']);
  });
});
