// The agent's descriptor limit, not a fixed number, bounds the thread descriptors the proc collector keeps: a
// 2000-thread target sampled under `ulimit -n 256` gives every thread its values after the first samples and leaves
// the agent descriptors to open (the kept ones, at most soft limit / 16 threads', are given back at EMFILE); a thread
// file failing with EMFILE and a task/ listing that fails are reported through onError, not lost silently; and a
// /proc of another pid namespace (unshare -pf without --mount-proc) gives cpu_time_ns and run_delay_ns no figures but their own reason.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLOCK_OTHER_PID_NS } from '../../../src/collectors/proc/fields.js';
import { procLoop } from '../../../src/collectors/proc/run-loop.js';
import { EpisodeClock } from '../../../src/clock/origin.js';
import { JsonlWriter } from '../../../src/rows/jsonl-writer.js';
import { nativeAddon } from '../../../src/native/addon.js';
import { ROOT } from '../../helpers/cli.js';
import { has } from '../../helpers/programs.js';
import { tmpDir } from '../../helpers/tmp.js';
import { threadedTarget } from '../../helpers/threaded-target.js';

const THREADS = 2000;
const TICKS = 5;
const KINDS = nativeAddon() ? (['native', 'ts'] as const) : (['ts'] as const);

const src = (p: string) => JSON.stringify(path.join(ROOT, 'src', p));

/** Runs `body` (a module's text) in a node started by `sh -c "<prefix> node"`; returns its last stdout line as JSON. */
function runChild(prefix: string, body: string): Record<string, unknown> {
  const dir = tmpDir();
  const script = path.join(dir, 'child.mts');
  fs.writeFileSync(script, body.replaceAll('$DIR', JSON.stringify(dir)));
  // TSX_DISABLE_CACHE: with its disk cache, tsx's loader writes each new transform and walks its cache folder on
  // libuv's threads while the child runs, so a descriptor could come free in the middle of a sample this test starved
  // on purpose (seen under strace: the cache folder's descriptor closed during tick 1, which then hit no EMFILE).
  const r = spawnSync('sh', ['-c', `${prefix} "${process.execPath}" --import tsx "${script}"`], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, TSX_DISABLE_CACHE: '1' }, maxBuffer: 1 << 24 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

describe.runIf(has('python3'))(`a target with ${THREADS} threads, the collector under ulimit -n 256`, () => {
  it.each(KINDS)('%s: thread rows have values after the first sample, the agent can still open files, EMFILE is reported', async (kind) => {
    const target = await threadedTarget(THREADS);
    // Ticks 1 and 3 run with every descriptor but one taken: at tick 1 none is kept yet, so the thread files hit
    // EMFILE (reported); at tick 3 the kept ones are given back and the threads read with them. At each later tick
    // the agent opens a file of its own (which failed once the kept descriptors filled the limit).
    const got = runChild('ulimit -n 256; exec', `
import fs from 'node:fs';
import { procLoop } from ${src('collectors/proc/run-loop.ts')};
import { JsonlWriter } from ${src('rows/jsonl-writer.ts')};
import { EpisodeClock } from ${src('clock/origin.ts')};
const out = $DIR + '/rows.jsonl';
const writer = new JsonlWriter(out, { availableInDeployment: true });
const controller = new AbortController();
const clock = new EpisodeClock(0);
const now = clock.now.bind(clock);
let taken = 0;
const held = [];
const ownOpens = [];
clock.now = () => {
  taken++;
  for (const fd of held.splice(0)) fs.closeSync(fd);
  if (taken > 1) {
    try { fs.closeSync(fs.openSync('/dev/null', 'r')); ownOpens.push('ok'); } catch (err) { ownOpens.push(err.code); }
  }
  if (taken === 1 || taken === 3) {
    try { for (;;) held.push(fs.openSync('/dev/null', 'r')); } catch {}
    fs.closeSync(held.pop());
  }
  if (taken >= ${TICKS}) controller.abort();
  return now();
};
const errors = [];
const r = await procLoop({ pid: ${target.pid}, writer, clock, intervalMs: 1, signal: controller.signal, threads: true, sampler: ${JSON.stringify(kind)}, onError: (m) => errors.push(m) });
writer.close();
const rows = fs.readFileSync(out, 'utf8').trim().split('\\n').map((l) => JSON.parse(l));
const byTick = new Map();
for (const row of rows) if ('tid' in row) {
  const s = byTick.get(row.t_mono_ns) ?? { rows: 0, withValues: 0 };
  s.rows++;
  if (typeof row.cpu_user_jiffies === 'number' && typeof row.cpu_time_ns === 'number') s.withValues++;
  byTick.set(row.t_mono_ns, s);
}
console.log(JSON.stringify({
  ticks: [...byTick.values()], ownOpens, errors, threadFdExhausted: r.threadFdExhausted, threadListFailures: r.threadListFailures,
  limit: fs.readFileSync('/proc/self/limits', 'utf8').split('\\n').find((l) => l.startsWith('Max open files')),
}));
`);
    expect(got.limit).toMatch(/^Max open files\s+256\s/);
    const ticks = got.ticks as { rows: number; withValues: number }[];
    expect(ticks.length).toBeGreaterThanOrEqual(TICKS - 1);
    // Tick 1 was starved on purpose; every later one (tick 3 too, from the given-back descriptors) gives every thread its values.
    const later = ticks.slice(1);
    expect(later.length).toBeGreaterThan(0);
    for (const s of later) {
      expect(s.rows).toBeGreaterThanOrEqual(THREADS);
      expect(s.withValues).toBe(s.rows);
    }
    expect((got.ownOpens as string[]).length).toBeGreaterThan(0);
    expect(got.ownOpens).toEqual((got.ownOpens as string[]).map(() => 'ok'));
    // Tick 1's EMFILE: reported once, the rest counted.
    const errors = got.errors as string[];
    expect(errors.length).toBe(1);
    expect(errors[0]).toMatch(new RegExp(`^EMFILE opening /proc/${target.pid}/task/\\d+/(stat|schedstat): the agent is out of descriptors`));
    expect(got.threadFdExhausted as number).toBeGreaterThan(1);
    expect(got.threadListFailures).toBe(0);
  });
});

describe('a task/ listing that fails', () => {
  it.each(KINDS)('%s: is reported once with its errno and path, and counted', async (kind) => {
    // A process folder whose task is a file: listing it fails with ENOTDIR at every sample.
    const root = tmpDir();
    fs.mkdirSync(path.join(root, '4242'));
    for (const f of ['stat', 'statm', 'status', 'io']) fs.copyFileSync(`/proc/self/${f}`, path.join(root, '4242', f));
    fs.writeFileSync(path.join(root, '4242', 'task'), 'not a folder\n');
    const writer = new JsonlWriter(path.join(root, 'rows.jsonl'), { availableInDeployment: true });
    const controller = new AbortController();
    const clock = new EpisodeClock(0);
    const now = clock.now.bind(clock);
    let taken = 0;
    clock.now = () => {
      if (++taken >= 3) controller.abort();
      return now();
    };
    const errors: string[] = [];
    const r = await procLoop({ pid: 4242, procRoot: root, writer, clock, intervalMs: 1, signal: controller.signal, threads: true, sampler: kind, onError: (m) => errors.push(m) });
    writer.close();
    expect(errors).toEqual([`cannot list ${root}/4242/task: ENOTDIR: no thread rows for that sample (later failures are counted in detail.thread_list_failures)`]);
    expect(r.threadListFailures).toBe(3);
  });
});

describe.runIf(nativeAddon() !== null && has('unshare'))('/proc of another pid namespace', () => {
  it('unshare -pf without --mount-proc: cpu_time_ns and run_delay_ns are null with the pid-namespace reason, not the agent\'s own', () => {
    // In the new namespace the agent is pid 1, while /proc (the host's) shows pid 1 as the host's init.
    const got = runChild('exec unshare -pf', `
import { createProcSampler } from ${src('collectors/proc/sampler.ts')};
import { E_CLOCK, E_TASKSTATS, F, PROC_FIELDS, SAMPLE_ERRORS } from ${src('collectors/proc/fields.ts')};
import { processRowText } from ${src('collectors/proc/row-text.ts')};
const { sampler } = createProcSampler('/proc', 1, 4096, 'native');
const opened = sampler.open();
const v = new Float64Array(PROC_FIELDS.length), e = new Int32Array(SAMPLE_ERRORS);
sampler.sample(v, e);
const row = processRowText(1, null, null, null, v, e, '/proc');
console.log(JSON.stringify({
  pid: process.pid, opened, clockErr: e[E_CLOCK], cpuTimeNs: Number.isNaN(v[F.cpu_time_ns]) ? null : v[F.cpu_time_ns], reason: row.fieldReasons?.cpu_time_ns ?? null,
  taskstatsErr: e[E_TASKSTATS], runDelayNs: Number.isNaN(v[F.run_delay_ns]) ? null : v[F.run_delay_ns], delayReason: row.fieldReasons?.run_delay_ns ?? null,
}));
`);
    expect(got.pid).toBe(1);
    expect(got.opened).toBe(0);
    expect(got.cpuTimeNs).toBeNull();
    expect(got.clockErr).toBe(CLOCK_OTHER_PID_NS);
    expect(got.reason).toMatch(/^\/proc is not this process's pid namespace/);
    // taskstats goes by the agent's pid namespace too: not the host's pid 1's figures.
    expect(got.runDelayNs).toBeNull();
    expect(got.taskstatsErr).toBe(CLOCK_OTHER_PID_NS);
    expect(got.delayReason).toMatch(/^\/proc is not this process's pid namespace .*: the kernel's taskstats of pid 1 are not \/proc\/1's process$/);
  });
});
