// The process row's scheduler figures (cpu_time_ns, run_delay_ns, run_periods): the sum over the threads' schedstat
// plus the carry of the threads that exited, the same from both samplers and from the native batch, never falling
// when a thread exits, and null with a reason rather than a sum missing a thread.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { EpisodeClock } from '../../../src/clock/origin.js';
import { E_SCHED, E_SCHED_TID, F, PROC_FIELDS, PROC_FILES, SAMPLE_ERRORS } from '../../../src/collectors/proc/fields.js';
import { procLoop } from '../../../src/collectors/proc/run-loop.js';
import { createProcSampler } from '../../../src/collectors/proc/sampler.js';
import { nativeAddon } from '../../../src/native/addon.js';
import { JsonlWriter } from '../../../src/rows/jsonl-writer.js';
import { errnoName } from '../../../src/util/errno.js';
import { newStopFlag } from '../../../src/util/pace.js';
import { ROOT } from '../../helpers/cli.js';
import { stopAfterSamples } from '../../helpers/stop-after.js';
import { readJsonl, tmpDir } from '../../helpers/tmp.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'proc');
const KINDS = ['native', 'ts'] as const;
/** A stat line whose num_threads is n (the samplers skip listing task/ while it counts the threads they know). */
const STAT = (n: number) => `77 (a) S 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 ${n} 0 5 1 1\n`;

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** One step of a generated process: each live thread's schedstat text (null: the file is missing beside its stat). */
type Step = Map<number, string | null>;

const big = (lo: bigint, hi: bigint) => fc.bigInt({ min: lo, max: hi });
/** A thread's counters over the steps: nondecreasing, small, near 2^53, or near 2^64. */
const counters = fc.oneof(big(0n, 1n << 40n), big((1n << 53n) - 64n, (1n << 53n) + 64n), big((1n << 64n) - (1n << 20n), (1n << 64n) - 1n));
const threadPlan = fc.record({
  tid: fc.integer({ min: 1, max: 60 }),
  from: fc.integer({ min: 0, max: 4 }),
  steps: fc.integer({ min: 1, max: 6 }),
  base: fc.tuple(counters, counters, counters),
  grow: fc.array(fc.tuple(big(0n, 1000n), big(0n, 1000n), big(0n, 3n)), { minLength: 6, maxLength: 6 }),
  // Steps whose schedstat is garbage (EBADMSG) or missing (ENOENT while the thread is listed).
  bad: fc.array(fc.constantFrom('ok', 'ok', 'ok', 'ok', 'garbage', 'missing'), { minLength: 6, maxLength: 6 }),
  // A step where the tid's counters start over from zero (a thread that exec()s takes the leader's tid); -1: never.
  reset: fc.integer({ min: -1, max: 5 }),
});

/** The plans as steps: which threads are listed at each step, and what their schedstat says. */
function stepsOf(plans: Array<typeof threadPlan extends fc.Arbitrary<infer T> ? T : never>): { steps: Step[]; values: Map<number, bigint[][]> } {
  const steps: Step[] = Array.from({ length: 6 }, () => new Map());
  const values = new Map<number, bigint[][]>();
  const seen = new Set<number>();
  for (const p of plans) {
    if (seen.has(p.tid)) continue; // a tid is one thread for life here
    seen.add(p.tid);
    const per: bigint[][] = [];
    let v = [...p.base];
    for (let s = p.from; s < Math.min(6, p.from + p.steps); s++) {
      if (s === p.reset && s > p.from) v = [0n, 0n, 0n];
      v = v.map((x, i) => {
        const y = x + p.grow[s]![i]!;
        return y > (1n << 64n) - 1n ? (1n << 64n) - 1n : y;
      });
      per[s] = v;
      steps[s]!.set(p.tid, p.bad[s] === 'garbage' ? `${v.join(' ')} x\n` : p.bad[s] === 'missing' ? null : `${v.join(' ')}\n`);
    }
    values.set(p.tid, per);
  }
  return { steps, values };
}

/** What the sums must be after each step, from the plan alone: BigInt sums, then the nearest double. */
function model(steps: Step[], values: Map<number, bigint[][]>): Array<{ v: number[] | null; err: string | null; tid: number }> {
  const last = new Map<number, bigint[]>();
  const carry = [0n, 0n, 0n];
  const out: Array<{ v: number[] | null; err: string | null; tid: number }> = [];
  for (const [s, step] of steps.entries()) {
    for (const [tid, l] of last) {
      if (!step.has(tid)) {
        for (let i = 0; i < 3; i++) carry[i]! += BigInt(Number(l[i]!)); // as read: the nearest double of each value
        last.delete(tid);
      }
    }
    let fail: { err: string; tid: number } | null = null;
    const sum = [...carry];
    for (const tid of [...step.keys()].sort((a, b) => a - b)) {
      const text = step.get(tid)!;
      if (text === null || text.includes('x')) {
        fail ??= { err: text === null ? 'ENOENT' : 'EBADMSG', tid };
        continue;
      }
      const v = values.get(tid)![s]!;
      const l = last.get(tid);
      // Below its last reading: another thread under the tid, the old one's figures carried.
      if (l && v.some((x, i) => Number(x) < Number(l[i]!))) {
        for (let i = 0; i < 3; i++) (carry[i]! += BigInt(Number(l[i]!))), (sum[i]! += BigInt(Number(l[i]!)));
      }
      last.set(tid, v);
      for (let i = 0; i < 3; i++) sum[i]! += BigInt(Number(v[i]!));
    }
    if (fail) out.push({ v: null, ...fail });
    else if (step.size === 0) out.push({ v: null, err: 'ESRCH', tid: 0 });
    else out.push({ v: sum.map((x) => Number(x)), err: null, tid: 0 });
  }
  return out;
}

describe.runIf(nativeAddon())('the process scheduler sums: native = TS = the plan', () => {
  // Regression for: the two samplers summing in another order (readdir order differs) or rounding past 2^53
  // differently; a thread that exits dropping out of the sum (the figure falls); a thread that cannot be read
  // leaving a sum that misses it.
  it('150 generated processes over 6 samples: threads come, go, fail to read; values near 2^53 and 2^64', () => {
    let compared = 0;
    let carried = 0;
    let replaced = 0;
    let failed = 0;
    fc.assert(
      fc.property(fc.array(threadPlan, { minLength: 1, maxLength: 8 }), (plans) => {
        const { steps, values } = stepsOf(plans);
        const want = model(steps, values);
        const root = tmpDir();
        const dir = path.join(root, '77');
        fs.mkdirSync(path.join(dir, 'task'), { recursive: true });
        for (const f of PROC_FILES) fs.writeFileSync(path.join(dir, f), f === 'stat' ? STAT(0) : '');
        const samplers = KINDS.map((k) => createProcSampler(root, 77, 4096, k).sampler);
        expect(samplers.length).toBeGreaterThan(0);
        expect(steps.length).toBeGreaterThan(0);
        for (const s of samplers) expect(s.open()).toBe(0);
        try {
          for (const [i, step] of steps.entries()) {
            for (const name of fs.readdirSync(path.join(dir, 'task'))) if (!step.has(Number(name))) fs.rmSync(path.join(dir, 'task', name), { recursive: true });
            // num_threads as the kernel counts them, but where a thread left: a kept-open schedstat of a thread that
            // exited reads ESRCH from the kernel, which tells the samplers to list task/ again, where a removed
            // fixture file still reads; a count that differs from the threads they know does the same here.
            const left = i > 0 && [...steps[i - 1]!.keys()].some((t) => !step.has(t));
            fs.writeFileSync(path.join(dir, 'stat'), STAT(left ? 0 : step.size));
            for (const [tid, text] of step) {
              const td = path.join(dir, 'task', String(tid));
              fs.mkdirSync(td, { recursive: true });
              fs.writeFileSync(path.join(td, 'stat'), STAT(1));
              // Rewritten in place (the kept-open descriptor sees it); a missing one is only ever a new thread's.
              if (text !== null) fs.writeFileSync(path.join(td, 'schedstat'), text);
              else if (fs.existsSync(path.join(td, 'schedstat'))) fs.writeFileSync(path.join(td, 'schedstat'), 'gone\n');
            }
            const got = samplers.map((s) => {
              const v = new Float64Array(PROC_FIELDS.length);
              const e = new Int32Array(SAMPLE_ERRORS);
              s.sample(v, e);
              return { v: [F.cpu_time_ns, F.run_delay_ns, F.run_periods].map((f) => (Number.isNaN(v[f]!) ? null : v[f]!)), err: e[E_SCHED], tid: e[E_SCHED_TID] };
            });
            expect(got[0], `step ${i}`).toEqual(got[1]);
            const w = want[i]!;
            // A thread made "missing" after it had a file reads the file's new text ('gone': EBADMSG) instead.
            const g = got[0]!;
            if (w.v === null) {
              expect(g.v, `step ${i}`).toEqual([null, null, null]);
              expect(g.tid, `step ${i}`).toBe(w.tid);
              expect([w.err, w.err === 'ENOENT' ? 'EBADMSG' : w.err]).toContain(errnoName(g.err!));
              failed++;
            } else {
              expect(g.v, `step ${i}`).toEqual(w.v);
              expect(g.err).toBe(0);
            }
            compared++;
          }
          if (steps.some((s, i) => i > 0 && [...steps[i - 1]!.keys()].some((t) => !s.has(t)))) carried++;
          if (plans.some((p) => p.reset > p.from && p.reset < p.from + p.steps)) replaced++;
        } finally {
          for (const s of samplers) s.close();
        }
      }),
      { numRuns: 150, seed: 2020 },
    );
    expect(compared).toBe(900);
    expect(carried).toBeGreaterThan(20); // the generator reaches exits, and failures, not only steady threads
    expect(failed).toBeGreaterThan(20);
    expect(replaced).toBeGreaterThan(20);
  });
});

/** A python process whose threads each spin ~30 ms and exit, one started every 40 ms: threads come and go. */
function churn(): number {
  const child = spawn('python3', ['-c', 'import threading,time\ndef spin():\n  t=time.time()+0.03\n  while time.time()<t: pass\nwhile True:\n  threading.Thread(target=spin).start(); time.sleep(0.04)'], { stdio: 'ignore' });
  children.push(child);
  return child.pid!;
}

/** Process rows (no tid) after the first, checked to carry the three figures, which never fall. */
function expectNeverFalls(rows: Record<string, unknown>[]): void {
  const procs = rows.filter((r) => !('tid' in r) && r.process_event !== 'exited');
  expect(procs.length).toBeGreaterThan(50);
  for (const k of ['cpu_time_ns', 'run_delay_ns', 'run_periods']) {
    let prev = -1;
    for (const [i, r] of procs.entries()) {
      expect(typeof r[k], `${k} of row ${i}: ${JSON.stringify(r.null_reasons)}`).toBe('number');
      expect(r[k] as number, `${k} of row ${i}`).toBeGreaterThanOrEqual(prev);
      prev = r[k] as number;
    }
  }
  expect(procs[procs.length - 1]!.cpu_time_ns as number).toBeGreaterThan(procs[0]!.cpu_time_ns as number);
  // Threads exited during the run (num_threads fell), so the carry was needed for the figures not to fall.
  expect(procs.some((r, i) => i > 0 && (r.num_threads as number) < (procs[i - 1]!.num_threads as number))).toBe(true);
}

describe('the process scheduler sums on a real process whose threads exit', () => {
  // Regression for: a process figure summed over the live threads alone, which falls by an exited thread's time.
  it.each(KINDS)('the %s sampler, one JS tick per row with thread rows: the figures never fall', async (kind) => {
    const pid = churn();
    const out = path.join(tmpDir(), 'proc.jsonl');
    const writer = new JsonlWriter(out, { availableInDeployment: true });
    const { clock, signal } = stopAfterSamples(150);
    await procLoop({ pid, writer, clock, intervalMs: 5, signal, threads: true, sampler: kind });
    writer.close();
    const rows = readJsonl(out);
    expectNeverFalls(rows);
    // Thread rows show the same churn: more threads came and went than the process ever had at once.
    const tids = new Set(rows.filter((r) => 'tid' in r).map((r) => r.tid));
    const most = Math.max(...rows.filter((r) => !('tid' in r) && r.num_threads !== null).map((r) => r.num_threads as number));
    expect(tids.size).toBeGreaterThan(most);
  });

  it.runIf(nativeAddon())('the native batch loop (1 ms, no thread rows): the figures never fall', async () => {
    const pid = churn();
    const out = path.join(tmpDir(), 'proc.jsonl');
    const writer = new JsonlWriter(out, { availableInDeployment: true });
    const stopFlag = newStopFlag();
    // The batch loop blocks this thread: another raises the flag after 600 ms.
    const raiser = new Worker('const { workerData: flag } = require("node:worker_threads"); Atomics.wait(flag, 0, 0, 600); Atomics.store(flag, 0, 1); Atomics.notify(flag, 0);', { eval: true, workerData: stopFlag });
    let r;
    try {
      r = await procLoop({ pid, writer, clock: new EpisodeClock(0), intervalMs: 1, signal: new AbortController().signal, stopFlag, sampler: 'native' });
    } finally {
      writer.close();
      await raiser.terminate();
    }
    expect(r.rows).toBeGreaterThan(100);
    expectNeverFalls(readJsonl(out));
  });
});

describe('the process scheduler sums: null, with the reason', () => {
  const fixture = path.join(FIXTURES, 'qemu-like', 'proc');
  const rowsOf = async (procRoot: string, kind: (typeof KINDS)[number], kernelSchedInfo: boolean) => {
    const out = path.join(tmpDir(), `${kind}.jsonl`);
    const writer = new JsonlWriter(out, { availableInDeployment: true });
    const { clock, signal } = stopAfterSamples(3);
    await procLoop({ pid: 3728, writer, clock, intervalMs: 1, signal, procRoot, sampler: kind, pageSize: 4096, kernelSchedInfo });
    writer.close();
    return readJsonl(out);
  };

  it.each(KINDS)('the %s sampler on a kernel that keeps no scheduler statistics: null, saying so', async (kind) => {
    const rows = await rowsOf(fixture, kind, false);
    expect(rows.length).toBe(3);
    for (const r of rows) {
      expect([r.cpu_time_ns, r.run_delay_ns, r.run_periods]).toEqual([null, null, null]);
      expect((r.null_reasons as Record<string, string>).run_delay_ns).toBe('this kernel keeps no scheduler statistics (every task schedstat reads "0 0 0")');
    }
  });

  it.each(KINDS)('the %s sampler where one thread\'s schedstat is not its format: null, naming that thread', async (kind) => {
    const root = tmpDir();
    fs.cpSync(fixture, root, { recursive: true });
    fs.writeFileSync(path.join(root, '3728', 'task', '3781', 'schedstat'), '1 2\n');
    const rows = await rowsOf(root, kind, true);
    expect(rows.length).toBe(3);
    for (const r of rows) {
      expect(r.cpu_time_ns).toBeNull();
      expect((r.null_reasons as Record<string, string>).cpu_time_ns).toBe(`EBADMSG reading ${root}/3728/task/3781/schedstat: a sum without that thread could fall below the last one`);
    }
    // Read again, the figure is the sum of the three threads (9007199254740993 ns among them: the nearest doubles).
    const good = await rowsOf(fixture, kind, true);
    expect(good.map((r) => [r.cpu_time_ns, r.run_delay_ns, r.run_periods])).toEqual(Array(3).fill([9007199409775796, 60335841, 356]));
  });
});
