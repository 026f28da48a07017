// Golden /proc fixtures (recorded by scripts/record-proc-fixtures.sh, plus a
// hostile case) read through procRoot: the native and the pure-TS sampler must
// both give exactly the expected values, and so the same rows.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { errnoName } from '../../../src/util/errno.js';
import { stopAfterSamples } from '../../helpers/stop-after.js';
import { CLOCK_NOT_PROC, CLOCK_TS, E_CLOCK, E_TASKSTATS, PROC_FIELDS, PROC_FILES, SAMPLE_ERRORS } from '../../../src/collectors/proc/fields.js';
import { procLoop } from '../../../src/collectors/proc/run-loop.js';
import { clockReason, taskstatsReason } from '../../../src/collectors/proc/row-text.js';
import { createProcSampler } from '../../../src/collectors/proc/sampler.js';
import { nativeAddon } from '../../../src/native/addon.js';
import { JsonlWriter } from '../../../src/rows/jsonl-writer.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import { ROOT } from '../../helpers/cli.js';
import { readJsonl, tmpDir } from '../../helpers/tmp.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'proc');
const CASES = fs.readdirSync(FIXTURES).filter((d) => fs.existsSync(path.join(FIXTURES, d, 'expected.json')));
const KINDS = ['native', 'ts'] as const;

interface Expected {
  pid: number;
  page_size: number;
  errors: Record<string, string | null>;
  process: Record<string, number | null>;
  threads: Array<Record<string, number | string | null>>;
}

const expectedOf = (c: string) => JSON.parse(fs.readFileSync(path.join(FIXTURES, c, 'expected.json'), 'utf8')) as Expected;

/** Process rows (no tid) and thread rows of a proc file. */
const split = (rows: Record<string, unknown>[]) => ({ procs: rows.filter((r) => !('tid' in r)), threads: rows.filter((r) => 'tid' in r) });

it('has the fixture cases, the hostile one among them', () => {
  expect(CASES.sort()).toEqual(['garbage', 'kernel-thread', 'no-io', 'qemu-like']);
  expect(nativeAddon()).not.toBeNull();
});

describe.each(CASES)('fixture %s', (c) => {
  const exp = expectedOf(c);
  const procRoot = path.join(FIXTURES, c, 'proc');

  it.each(KINDS)('the %s sampler reads exactly the expected values', (kind) => {
    const { sampler } = createProcSampler(procRoot, exp.pid, exp.page_size, kind);
    expect(sampler.open()).toBe(0);
    const v = new Float64Array(PROC_FIELDS.length);
    const e = new Int32Array(SAMPLE_ERRORS);
    sampler.sample(v, e);
    const threads = sampler.threads().sort((a, b) => a.tid - b.tid);
    sampler.close();
    const got = Object.fromEntries(PROC_FIELDS.map((n, i) => [n, Number.isNaN(v[i]!) ? null : v[i]]));
    expect(got).toEqual(exp.process);
    expect(Object.fromEntries(PROC_FILES.map((f, i) => [f, e[i] ? errnoName(e[i]!) : null]))).toEqual(exp.errors);
    // No CPU clock under a fixture root (the kernel's clock of that pid number is another process's), none on the TS path.
    expect(e[E_CLOCK]).toBe(kind === 'ts' ? CLOCK_TS : CLOCK_NOT_PROC);
    expect(e[E_TASKSTATS]).toBe(kind === 'ts' ? CLOCK_TS : CLOCK_NOT_PROC); // nor taskstats
    // sched_error by name, as errors are: qemu-like has schedstat files, the other cases none (ENOENT).
    expect(threads.map(({ error: _e, sched_error: se, ...t }) => ({ ...t, sched_error: se ? errnoName(se) : null }))).toEqual(exp.threads);
  });

  // Regression for: the test said "three samples" but stopped on rows flushed to disk
  // (every 200 ms), so at a 1 ms interval it took a couple of hundred.
  it('gives the same rows through the native and the TS path, in exactly the 3 samples it takes', async () => {
    const rowsOf = async (kind: (typeof KINDS)[number]) => {
      const out = path.join(tmpDir(), `${kind}.jsonl`);
      const writer = new JsonlWriter(out, { availableInDeployment: true });
      // Three samples, then stop: the fixtures do not change, so rows 2 and 3 repeat row 1's values.
      const { clock, signal } = stopAfterSamples(3);
      await procLoop({ pid: exp.pid, writer, clock, intervalMs: 1, signal, threads: true, procRoot, sampler: kind, pageSize: exp.page_size });
      writer.close();
      return readJsonl(out).map(({ t_mono_ns: _t, interval_s: _i, ...r }) => r);
    };
    const native = await rowsOf('native');
    const { procs, threads } = split(native);
    expect(procs).toHaveLength(3);
    expect(threads).toHaveLength(3 * exp.threads.length);
    expect(native).toHaveLength(3 * (1 + exp.threads.length));
    // The same rows but for the reasons of cpu_time_ns, run_delay_ns and run_periods (null on both paths here): the
    // TS path can read neither the CPU clock nor taskstats, the native one reads none under a fixture root. Those
    // reasons are set aside, after checking each path's.
    const withoutKernelReasons = (rows: Record<string, unknown>[], code: number) =>
      rows.map((r) => {
        if ('tid' in r) return r;
        const { cpu_time_ns: clock, run_delay_ns: delay, run_periods: periods, ...rest } = r.null_reasons as Record<string, string>;
        expect([r.cpu_time_ns, r.run_delay_ns, r.run_periods]).toEqual([null, null, null]);
        expect([clock, delay, periods]).toEqual([clockReason(code, 0, exp.pid), taskstatsReason(code, 0, exp.pid), taskstatsReason(code, 0, exp.pid)]);
        return { ...r, null_reasons: rest };
      });
    const ts = await rowsOf('ts');
    expect(ts).toHaveLength(native.length);
    expect(withoutKernelReasons(ts, CLOCK_TS)).toEqual(withoutKernelReasons(native, CLOCK_NOT_PROC));
    for (const r of native) {
      // Every row is valid, and every null says why.
      const full = { ...r, t_mono_ns: 0, interval_s: null };
      expect(() => ROW_SCHEMAS.host_proc!.parse(full)).not.toThrow();
      const reasons = (r.null_reasons ?? {}) as Record<string, string>;
      expect(Object.keys(r).length).toBeGreaterThan(0);
      for (const [k, val] of Object.entries(r)) if (val === null && k !== 'process_event' && k !== 'vcpu') expect(reasons[k], `${c}: ${k}`).toBeTruthy();
    }
  });
});

describe('fixture specifics', () => {
  it('parses a comm that holds spaces and parentheses by the last ")"', () => {
    const exp = expectedOf('qemu-like');
    const { sampler } = createProcSampler(path.join(FIXTURES, 'qemu-like', 'proc'), exp.pid, 4096, 'native');
    sampler.open();
    const names = sampler.threads().map((t) => t.comm).sort();
    sampler.close();
    expect(names).toEqual(['CPU 0/TCG', 'CPU 1/TCG', 'qemu-system-x86']);
    expect(exp.process.cpu_user_jiffies).not.toBeNull();
  });

  // Regression for: schedstat not read at all (no cpu_time_ns), or a value past 2^53 converted differently on the two paths.
  it.each(KINDS)('reads qemu-like\'s schedstat on the %s path, 2^53 + 1 ns as the nearest double', (kind) => {
    const exp = expectedOf('qemu-like');
    const { sampler } = createProcSampler(path.join(FIXTURES, 'qemu-like', 'proc'), exp.pid, 4096, kind);
    sampler.open();
    const byComm = new Map(sampler.threads().map((t) => [t.comm, t]));
    sampler.close();
    const cpu0 = byComm.get('CPU 0/TCG');
    expect(cpu0).toMatchObject({ cpu_time_ns: 2 ** 53, run_delay_ns: 24173865, run_periods: 137, sched_error: 0 });
    expect(byComm.get('qemu-system-x86')).toMatchObject({ cpu_time_ns: 54920992, run_delay_ns: 10250362, run_periods: 99, sched_error: 0 });
  });

  it('names the vCPU threads in thread rows (one sample)', async () => {
    const exp = expectedOf('qemu-like');
    const out = path.join(tmpDir(), 'rows.jsonl');
    const writer = new JsonlWriter(out, { availableInDeployment: true });
    const { clock, signal } = stopAfterSamples(1);
    await procLoop({ pid: exp.pid, writer, clock, intervalMs: 10, signal, threads: true, procRoot: path.join(FIXTURES, 'qemu-like', 'proc') });
    writer.close();
    const { procs, threads } = split(readJsonl(out));
    expect(procs).toHaveLength(1);
    expect(threads).toHaveLength(exp.threads.length);
    const vcpus = new Map(threads.map((r) => [r.comm, r.vcpu]));
    expect(Object.fromEntries(vcpus)).toEqual({ 'qemu-system-x86': null, 'CPU 0/TCG': 0, 'CPU 1/TCG': 1 });
  });

  it('gives io fields null with the errno when /proc/PID/io cannot be read (one sample)', async () => {
    const exp = expectedOf('no-io');
    const out = path.join(tmpDir(), 'rows.jsonl');
    const writer = new JsonlWriter(out, { availableInDeployment: true });
    const { clock, signal } = stopAfterSamples(1);
    await procLoop({ pid: exp.pid, writer, clock, intervalMs: 10, signal, procRoot: path.join(FIXTURES, 'no-io', 'proc') });
    writer.close();
    const rows = readJsonl(out);
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row!.io_rchar).toBeNull();
    expect(row!.rss_bytes).not.toBeNull();
    expect((row!.null_reasons as Record<string, string>).io_rchar).toBe(`ENOENT reading ${path.join(FIXTURES, 'no-io', 'proc')}/${exp.pid}/io`);
  });
});
