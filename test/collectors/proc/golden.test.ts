// Golden /proc fixtures (recorded by scripts/record-proc-fixtures.sh, plus a
// hostile case) read through procRoot: the native and the pure-TS sampler must
// both give exactly the expected values, and so the same rows.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { errnoName } from '../../../src/agent/errno.js';
import { EpisodeClock } from '../../../src/clock/origin.js';
import { PROC_FIELDS, PROC_FILES } from '../../../src/collectors/proc/fields.js';
import { procLoop } from '../../../src/collectors/proc/run-loop.js';
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
    const e = new Int32Array(PROC_FILES.length);
    sampler.sample(v, e);
    const threads = sampler.threads().sort((a, b) => a.tid - b.tid);
    sampler.close();
    const got = Object.fromEntries(PROC_FIELDS.map((n, i) => [n, Number.isNaN(v[i]!) ? null : v[i]]));
    expect(got).toEqual(exp.process);
    expect(Object.fromEntries(PROC_FILES.map((f, i) => [f, e[i] ? errnoName(e[i]!) : null]))).toEqual(exp.errors);
    expect(threads.map(({ error: _e, ...t }) => t)).toEqual(exp.threads);
  });

  it('gives the same rows through the native and the TS path', async () => {
    const rowsOf = async (kind: (typeof KINDS)[number]) => {
      const out = path.join(tmpDir(), `${kind}.jsonl`);
      const writer = new JsonlWriter(out, { availableInDeployment: true });
      const controller = new AbortController();
      // Three samples, then stop: the fixtures do not change, so rows 2 and 3 repeat row 1's values.
      const orig = writer.write.bind(writer);
      writer.write = (...a: Parameters<JsonlWriter['write']>) => {
        orig(...a);
        if (writer.rows >= 3 * (1 + exp.threads.length)) controller.abort();
      };
      await procLoop({ pid: exp.pid, writer, clock: new EpisodeClock(0), intervalMs: 1, signal: controller.signal, threads: true, procRoot, sampler: kind, pageSize: exp.page_size });
      writer.close();
      return readJsonl(out).map(({ t_mono_ns: _t, interval_s: _i, ...r }) => r);
    };
    const native = await rowsOf('native');
    expect(native.length).toBeGreaterThanOrEqual(3);
    expect(await rowsOf('ts')).toEqual(native);
    for (const r of native) {
      // Every row is valid, and every null says why.
      const full = { ...r, t_mono_ns: 0, interval_s: null };
      expect(() => ROW_SCHEMAS.host_proc!.parse(full)).not.toThrow();
      const reasons = (r.null_reasons ?? {}) as Record<string, string>;
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

  it('names the vCPU threads in thread rows', async () => {
    const exp = expectedOf('qemu-like');
    const out = path.join(tmpDir(), 'rows.jsonl');
    const writer = new JsonlWriter(out, { availableInDeployment: true });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    await procLoop({ pid: exp.pid, writer, clock: new EpisodeClock(0), intervalMs: 10, signal: controller.signal, threads: true, procRoot: path.join(FIXTURES, 'qemu-like', 'proc') });
    writer.close();
    const vcpus = new Map(readJsonl(out).filter((r) => 'tid' in r).map((r) => [r.comm, r.vcpu]));
    expect(Object.fromEntries(vcpus)).toEqual({ 'qemu-system-x86': null, 'CPU 0/TCG': 0, 'CPU 1/TCG': 1 });
  });

  it('gives io fields null with the errno when /proc/PID/io cannot be read', async () => {
    const exp = expectedOf('no-io');
    const out = path.join(tmpDir(), 'rows.jsonl');
    const writer = new JsonlWriter(out, { availableInDeployment: true });
    await procLoop({ pid: exp.pid, writer, clock: new EpisodeClock(0), intervalMs: 10, signal: AbortSignal.timeout(25), procRoot: path.join(FIXTURES, 'no-io', 'proc') });
    writer.close();
    const [row] = readJsonl(out);
    expect(row!.io_rchar).toBeNull();
    expect(row!.rss_bytes).not.toBeNull();
    expect((row!.null_reasons as Record<string, string>).io_rchar).toBe(`ENOENT reading ${path.join(FIXTURES, 'no-io', 'proc')}/${exp.pid}/io`);
  });
});
