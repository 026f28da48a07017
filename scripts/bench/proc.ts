// Benchmark (not a test): what sampling /proc/PID/{stat,statm,status,io}
// costs, side by side in one run, against one target process this script
// starts itself:
//   1. µs per sample in a tight loop: the native sampler, the pure-TS
//      sampler, a plain re-open-every-time baseline (proc-baseline.ts,
//      written the way a Node user would without labtel) and a C floor
//      (scripts/bench/proc-floor.c: four open descriptors, pread at offset 0,
//      no parsing);
//   2. the whole agent (runEpisode, in-process) at interval_ms 1: CPU per
//      host_proc row and the rate it keeps, then the same agent with proc
//      ticking in JS once per row (LABTEL_PROC_BATCH=0: the loop before the
//      native batch, "today's" figure); beside them, on the same 1 ms
//      schedule, the re-open baseline paced as a Node user paces it
//      (setInterval, and labtel's paced() on timers: CPU per sample and the
//      rate it keeps, runs taking turns with the agent's), and what waking
//      every 1 ms costs by itself here (Node's paced() with an empty tick, C
//      clock_nanosleep waking with no work, and the C floor sampling on that
//      schedule);
//   3. the targets, judged in the same run. The issue's bar, "0.75x a plain
//      Node re-open sampler", is judged like for like: the agent's steady
//      CPU per row at 1 ms against the baseline's CPU per sample paced at
//      1 ms. The tight-loop reading (against the baseline's wall time per
//      sample with no sleeping) is printed too, labelled as the reading no
//      program meets, with the C floor on the 1 ms schedule beside it.
// stdout: the markdown section of BENCHMARKS.md; stderr: progress, details, JSON.
//
//   npm run bench:proc
//
// Environment: BENCH_ITERS (default 20000), BENCH_RUNS (5), BENCH_EPISODE_S (5),
// BENCH_BASELINE_S (4: each paced-baseline run's steady window);
// BENCH_QUICK=1 makes them 2000, 3, 2, 2 (for developing the script).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { F, PROC_FIELDS, PROC_FILES, SAMPLE_ERRORS } from '../../src/collectors/proc/fields.js';
import { createProcSampler, type ProcSampler, type SamplerKind } from '../../src/collectors/proc/sampler.js';
import { parseManifest } from '../../src/manifest/load.js';
import { nativeStatus } from '../../src/native/addon.js';
import { sysconf } from '../../src/native/sysconf.js';
import { BATCH_MS, batchesRows } from '../../src/collectors/proc/native-batch.js';
import { newStopFlag, paced } from '../../src/util/pace.js';
import type { runEpisode as RunEpisodeFn } from '../../src/agent/run-episode.js';
import { commandLine, fmt, intEnv, log, machine, mdTable, printSection, type Target } from './section.js';
import { addonStale } from './addon-current.js';
import { baselineSample, PACINGS, pacedBaseline, type PacedBaseline, type Pacing } from './proc-baseline.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');

const ITERS = intEnv('BENCH_ITERS', 20000, 2000);
const RUNS = intEnv('BENCH_RUNS', 5, 3);
const WARMUP = Math.max(1000, Math.floor(ITERS / 10));
const EPISODE_S = intEnv('BENCH_EPISODE_S', 5, 2);
const INTERVAL_MS = 1;
const PACED_S = 2; // each pacing-only measurement
/** Each run of the paced re-open baseline: its steady window, after 0.5 s of warm-up. */
const BASELINE_S = intEnv('BENCH_BASELINE_S', 4, 2);

// The targets (BENCHMARKS.md).
const TARGET_NATIVE_US = 20;
const TARGET_SPEEDUP = 2.5;
const TARGET_AGENT_RATIO = 0.75;
/** The agent's steady CPU per row at 1 ms before the native batch loop (BENCHMARKS.md, bench:proc at 2026-12-05T02:37:39Z): issue 19 asks to stay at or below it. */
const BEFORE_STEADY_US = 65.52;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const r2 = (x: number): number => Math.round(x * 100) / 100;
const f2 = (x: number | null): string => (x === null || !Number.isFinite(x) ? '-' : x.toFixed(2));
const pad = (s: string, n: number): string => s.padEnd(n);
const lpad = (s: string, n: number): string => s.padStart(n);

// ---------------------------------------------------------------- target

/** An idle multi-threaded process with some resident memory (like a QEMU between bursts). */
async function startTarget(): Promise<ChildProcess> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS; // no tsx loader in the target
  const child = spawn(
    process.execPath,
    ['-e', "globalThis.keep = Buffer.alloc(64 << 20, 1); setInterval(() => {}, 1000); process.stdout.write('ready\\n');"],
    { stdio: ['ignore', 'pipe', 'inherit'], env },
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the target process did not start within 10 s')), 10_000);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the target process exited (code ${code})`)));
    child.stdout!.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  child.removeAllListeners('exit');
  child.stdout!.resume();
  return child;
}

// ---------------------------------------------------------------- timing

/** µs per call of fn over n calls. */
function timeLoop(n: number, fn: () => void): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

interface Method {
  name: string;
  label: string;
  /** One timed run: µs per sample. */
  run: () => number;
  runs: number[];
  skipped: string | null;
}

function samplerMethod(name: string, label: string, kind: SamplerKind, pid: number, pageSize: number, check: (v: Float64Array) => void): Method {
  const m: Method = { name, label, run: () => NaN, runs: [], skipped: null };
  let s: ProcSampler;
  try {
    const made = createProcSampler('/proc', pid, pageSize, kind);
    if (made.kind !== kind) throw new Error(`asked for ${kind}, got ${made.kind}`);
    s = made.sampler;
  } catch (err) {
    m.skipped = `skipped: ${(err as Error).message}`;
    return m;
  }
  const oe = s.open();
  if (oe !== 0) {
    m.skipped = `skipped: open() = errno ${oe}`;
    return m;
  }
  const v = new Float64Array(PROC_FIELDS.length);
  const e = new Int32Array(SAMPLE_ERRORS);
  s.sample(v, e);
  if (e.subarray(0, PROC_FILES.length).some((x) => x !== 0)) { // the CPU clock's slot: the TS sampler has none
    m.skipped = `skipped: sample errors [${[...e].join(',')}]`;
    return m;
  }
  check(v);
  timeLoop(WARMUP, () => s.sample(v, e));
  m.run = () => timeLoop(ITERS, () => s.sample(v, e));
  cleanups.push(() => s.close());
  return m;
}

let floorBin: string | null = null;

function cFloorMethod(pid: number, tmp: string): Method {
  const m: Method = { name: 'c_floor', label: '(d) C floor: pread x4, no parse', run: () => NaN, runs: [], skipped: null };
  const src = path.join(HERE, 'proc-floor.c');
  const bin = path.join(tmp, 'proc-floor');
  const cc = spawnSync('cc', ['-O2', '-o', bin, src], { encoding: 'utf8' });
  if (cc.error) {
    m.skipped = (cc.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'skipped: no C compiler' : `skipped: cc: ${cc.error.message}`;
    return m;
  }
  if (cc.status !== 0) {
    m.skipped = `skipped: cc -O2 failed: ${(cc.stderr || '').trim().split('\n')[0]}`;
    return m;
  }
  floorBin = bin;
  m.run = () => {
    const r = spawnSync(bin, [String(pid), String(ITERS), String(WARMUP)], { encoding: 'utf8' });
    const us = Number((r.stdout || '').trim().split(' ')[0]);
    if (r.status !== 0 || !Number.isFinite(us)) throw new Error(`proc-floor failed: ${(r.stderr || r.stdout || '').trim()}`);
    return us;
  };
  return m;
}

// ---------------------------------------------------------------- pacing alone

/** CPU µs per tick of labtel's paced() at INTERVAL_MS with a tick that does nothing (this thread + GC). */
async function pacingOnly(): Promise<{ cpu_us_per_tick: number; thread_us_per_tick: number; ticks_per_s: number }> {
  const threadNs = (): number => Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), PACED_S * 1000);
  let n = 0;
  const c0 = process.cpuUsage();
  const s0 = threadNs();
  const t0 = process.hrtime.bigint();
  await paced(INTERVAL_MS, ac.signal, () => {
    n++;
    return true;
  });
  const c = process.cpuUsage(c0);
  const thread = (threadNs() - s0) / 1e3;
  clearTimeout(timer);
  return { cpu_us_per_tick: r2((c.user + c.system) / n), thread_us_per_tick: r2(thread / n), ticks_per_s: Math.round(n / (Number(process.hrtime.bigint() - t0) / 1e9)) };
}

/** The C floor on a fixed INTERVAL_MS schedule: CPU µs per sample, sleep and wake-up included. */
function cFloorPaced(pid: number): { cpu_us_per_sample: number; samples_per_s: number } | { skipped: string } {
  if (!floorBin) return { skipped: 'skipped: no C floor binary' };
  const n = Math.round((PACED_S * 1000) / INTERVAL_MS);
  const r = spawnSync(floorBin, [String(pid), String(n), '0', String(INTERVAL_MS * 1000)], { encoding: 'utf8' });
  const [cpu, , rate] = (r.stdout || '').trim().split(' ').map(Number);
  if (r.status !== 0 || !Number.isFinite(cpu)) return { skipped: `skipped: proc-floor failed: ${(r.stderr || '').trim()}` };
  return { cpu_us_per_sample: r2(cpu!), samples_per_s: Math.round(rate!) };
}

const WAKE_METHODS = {
  nanosleep: '`clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)` to k × 1 ms',
  timerfd: 'a periodic `timerfd`, one blocking `read(2)` per tick',
  futex: '`FUTEX_WAIT` with a timeout to the next deadline (what `Atomics.wait` sleeps in)',
} as const;
type WakeMethod = keyof typeof WAKE_METHODS;
type Wake = { cpu_us_per_wake: number; wakes_per_s: number; late_p99_us: number; deadlines_missed: number } | { skipped: string };

/**
 * The wake-up floor (scripts/bench/wake-floor.c): one wake-up's CPU on this machine on the INTERVAL_MS
 * schedule with no work at all, for each way to sleep (none busy-polls); the thread's schedstat over the run.
 */
function wakeFloor(tmp: string): Record<WakeMethod, Wake> {
  const bin = path.join(tmp, 'wake-floor');
  const cc = spawnSync('cc', ['-O2', '-o', bin, path.join(HERE, 'wake-floor.c')], { encoding: 'utf8' });
  const out = {} as Record<WakeMethod, Wake>;
  const n = Math.round((PACED_S * 1000) / INTERVAL_MS);
  for (const m of Object.keys(WAKE_METHODS) as WakeMethod[]) {
    if (cc.error || cc.status !== 0) {
      out[m] = { skipped: `skipped: cc -O2 wake-floor.c failed: ${cc.error?.message ?? (cc.stderr || '').trim().split('\n')[0]}` };
      continue;
    }
    const r = spawnSync(bin, [m, String(n), String(INTERVAL_MS * 1000)], { encoding: 'utf8' });
    const [cpu, rate, late, missed] = (r.stdout || '').trim().split(' ').map(Number);
    out[m] = r.status !== 0 || !Number.isFinite(cpu) ? { skipped: `skipped: wake-floor ${m} failed: ${(r.stderr || '').trim()}` } : { cpu_us_per_wake: r2(cpu!), wakes_per_s: Math.round(rate!), late_p99_us: r2(late!), deadlines_missed: missed! };
  }
  return out;
}

// ---------------------------------------------------------------- agent

/** On-CPU ns of each thread of this process (schedstat), by tid. */
function threadCpuNs(): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[];
  try {
    tids = fs.readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const t of tids) {
    try {
      out.set(Number(t), Number(fs.readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ')[0]));
    } catch {
      // thread gone
    }
  }
  return out;
}

interface Snap {
  t: bigint;
  cpuUs: number;
  threads: Map<number, number>;
}

const snap = (): Snap => {
  const c = process.cpuUsage();
  return { t: process.hrtime.bigint(), cpuUs: c.user + c.system, threads: threadCpuNs() };
};

/** The compiled agent when dist/ is at least as new as src/, else the source through tsx. */
async function loadRunEpisode(): Promise<{ runEpisode: typeof RunEpisodeFn; build: string }> {
  const distFile = path.join(ROOT, 'dist', 'agent', 'run-episode.js');
  let newestSrc = 0;
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|mjs)$/.test(e.name)) newestSrc = Math.max(newestSrc, fs.statSync(p).mtimeMs);
    }
  };
  walk(path.join(ROOT, 'src'));
  let why = 'dist/ is missing';
  if (fs.existsSync(distFile)) {
    const distTime = fs.statSync(distFile).mtimeMs;
    if (distTime >= newestSrc) {
      const mod = (await import(pathToFileURL(distFile).href)) as { runEpisode: typeof RunEpisodeFn };
      return { runEpisode: mod.runEpisode, build: 'dist (compiled JS, as installed)' };
    }
    why = 'dist/ is older than src/ (npm run build)';
  }
  const mod = await import('../../src/agent/run-episode.js');
  return { runEpisode: mod.runEpisode, build: `src via tsx (${why}; the worker compiles TS at start)` };
}

interface AgentResult {
  build: string;
  sampler: string | null;
  status: string;
  exit_reason: string;
  wall_s: number;
  cpu_us: number;
  rows: number;
  cpu_us_per_row: number;
  rows_per_s_episode: number;
  rows_per_s_sampling: number;
  first_row_after_s: number;
  row_interval_ms: { p50: number; p99: number; max: number };
  steady: {
    window_s: number;
    rows: number;
    rows_per_s: number;
    cpu_us_per_row: number;
    collector_thread_us_per_row: number;
    main_thread_us_per_row: number;
    other_threads_us_per_row: number;
  } | null;
  /** CPU not explained by the steady rate: start-up (worker, inventory, episode.json) and stop. */
  fixed_cpu_ms: number | null;
}

async function runAgent(pid: number, tmp: string, name: string): Promise<AgentResult> {
  const { runEpisode, build } = await loadRunEpisode();
  const outDir = path.join(tmp, `episode-${name}`);
  const manifest = parseManifest({
    output_dir: outDir,
    duration_s: EPISODE_S,
    target: { pid },
    collectors: { proc: { interval_ms: INTERVAL_MS } },
  });
  const before = threadCpuNs();
  const snaps: Snap[] = [];
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  snaps.push(snap());
  const timer = setInterval(() => snaps.push(snap()), 500);
  let result;
  try {
    result = await runEpisode({ manifest });
  } finally {
    clearInterval(timer);
  }
  const c1 = process.cpuUsage(c0);
  const wall_s = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu_us = c1.user + c1.system;

  const episode = JSON.parse(fs.readFileSync(path.join(outDir, 'episode.json'), 'utf8')) as { clock: { t_mono_origin_ns: string } };
  const origin = BigInt(episode.clock.t_mono_origin_ns);
  const times: bigint[] = []; // absolute CLOCK_MONOTONIC of each host_proc row
  const re = /"t_mono_ns":(-?\d+)/;
  for (const line of fs.readFileSync(path.join(outDir, 'telemetry-proc.jsonl'), 'utf8').split('\n')) {
    if (!line.includes('"source":"host_proc"')) continue;
    const m = re.exec(line);
    if (m) times.push(origin + BigInt(m[1]!));
  }
  const rows = times.length;
  const proc = result.summary.collectors.proc;
  const sampler = ((proc?.detail as { sampler?: string } | undefined)?.sampler) ?? null;

  const gaps: number[] = [];
  for (let i = 1; i < times.length; i++) gaps.push(Number(times[i]! - times[i - 1]!) / 1e6);
  gaps.sort((a, b) => a - b);
  const first = times[0] ?? t0;
  const last = times[times.length - 1] ?? t0;
  const spanS = Number(last - first) / 1e9;

  // Steady state: from 0.5 s after the first row to the last snapshot before the last row.
  let steady: AgentResult['steady'] = null;
  const a = snaps.find((s) => s.t >= first + 500_000_000n);
  const b = [...snaps].reverse().find((s) => s.t <= last);
  if (a && b && b.t > a.t) {
    let n = 0;
    for (const t of times) if (t > a.t && t <= b.t) n++;
    const dCpu = b.cpuUs - a.cpuUs;
    const main = ((b.threads.get(process.pid) ?? 0) - (a.threads.get(process.pid) ?? 0)) / 1e3;
    // The collector's worker: the busiest thread that did not exist before the episode.
    let worker = 0;
    let totalThreads = 0;
    for (const [tid, ns] of b.threads) {
      const d = (ns - (a.threads.get(tid) ?? 0)) / 1e3;
      totalThreads += d;
      if (!before.has(tid) && a.threads.has(tid) && d > worker) worker = d;
    }
    const other = totalThreads - main - worker;
    const winS = Number(b.t - a.t) / 1e9;
    steady = {
      window_s: r2(winS),
      rows: n,
      rows_per_s: Math.round(n / winS),
      cpu_us_per_row: r2(dCpu / n),
      collector_thread_us_per_row: r2(worker / n),
      main_thread_us_per_row: r2(main / n),
      other_threads_us_per_row: r2(other / n),
    };
  }
  const fixed_cpu_ms = steady ? r2((cpu_us - steady.cpu_us_per_row * rows) / 1e3) : null;

  return {
    build,
    sampler,
    status: proc?.status ?? 'missing',
    exit_reason: result.summary.exit_reason,
    wall_s: r2(wall_s),
    cpu_us: Math.round(cpu_us),
    rows,
    cpu_us_per_row: r2(cpu_us / rows),
    rows_per_s_episode: Math.round(rows / EPISODE_S),
    rows_per_s_sampling: Math.round(rows / spanS),
    first_row_after_s: r2(Number(first - t0) / 1e9),
    row_interval_ms: gaps.length ? { p50: r2(quantile(gaps, 0.5)), p99: r2(quantile(gaps, 0.99)), max: r2(gaps[gaps.length - 1]!) } : { p50: NaN, p99: NaN, max: NaN },
    steady,
    fixed_cpu_ms,
  };
}

// ---------------------------------------------------------------- main

const cleanups: Array<() => void> = [];
let target: ChildProcess | null = null;
let tmp: string | null = null;

function cleanup(): void {
  for (const c of cleanups.splice(0)) {
    try {
      c();
    } catch {
      // best effort
    }
  }
  if (target && target.exitCode === null && target.signalCode === null) target.kill('SIGKILL');
  target = null;
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = null;
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    cleanup();
    process.exit(130);
  });
}

async function main(): Promise<void> {
  const mach = machine();
  log('labtel proc sampling benchmark');
  log(`machine: ${mach.cpu}, nproc ${mach.cores}, ${mach.kernel}, node ${mach.node}, load ${mach.loadavg_1m} (1 min)`);
  const ns = nativeStatus();
  log(`native addon: ${ns.available ? 'loaded' : 'NOT loaded'} (${ns.reason})`);
  const stale = ns.path ? addonStale(ROOT, ns.path) : null;
  if (stale) throw new Error(`bench:proc: ${stale}`);

  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-bench-'));
  target = await startTarget();
  const pid = target.pid!;
  const dir = `/proc/${pid}`;
  const pageSize = sysconf().pageSize;
  const threads = fs.readdirSync(`${dir}/task`).length;
  const bytes = PROC_FILES.map((f) => fs.readFileSync(`${dir}/${f}`).length);
  log(`target: pid ${pid}, idle node with 64 MiB resident, ${threads} threads; ` + PROC_FILES.map((f, i) => `${f} ${bytes[i]} B`).join(', '));
  log(`method: ${ITERS} samples per run after ${WARMUP} warm-up, median of ${RUNS} runs (methods interleaved per run)`);
  log('');

  // Every path must fill the same fields: compare with the baseline's.
  const ref = new Float64Array(PROC_FIELDS.length);
  baselineSample(dir, pageSize, ref);
  const filled: Record<string, number> = { baseline: ref.filter((x) => !Number.isNaN(x)).length };
  const checkAs = (name: string) => (v: Float64Array) => {
    filled[name] = v.filter((x) => !Number.isNaN(x)).length;
    const stable = [F.starttime, F.num_threads, F.text_bytes];
    for (const i of stable) {
      if (v[i] !== ref[i]) log(`note: ${name} and the baseline disagree on ${PROC_FIELDS[i]}: ${v[i]} vs ${ref[i]}`);
    }
  };

  const v = new Float64Array(PROC_FIELDS.length);
  const baseline: Method = { name: 'baseline', label: '(c) baseline: readFileSync + split', run: () => timeLoop(ITERS, () => baselineSample(dir, pageSize, v)), runs: [], skipped: null };
  timeLoop(WARMUP, () => baselineSample(dir, pageSize, v));
  const methods: Method[] = [
    samplerMethod('native', "(a) native sampler ('native')", 'native', pid, pageSize, checkAs('native')),
    samplerMethod('ts', "(b) pure-TS sampler ('ts')", 'ts', pid, pageSize, checkAs('ts')),
    baseline,
    cFloorMethod(pid, tmp),
  ];
  for (let r = 0; r < RUNS; r++) {
    for (const m of methods) if (!m.skipped) m.runs.push(m.run());
  }

  const med = (name: string): number | null => {
    const m = methods.find((x) => x.name === name)!;
    return m.skipped || m.runs.length === 0 ? null : median(m.runs);
  };
  const base = med('baseline')!;
  const nat = med('native');

  log('1. us per sample of stat+statm+status+io (lower is better)');
  log(`   ${pad('path', 38)}${lpad('median', 9)}${lpad('min', 9)}${lpad('max', 9)}${lpad('vs base', 10)}  fields`);
  for (const m of methods) {
    if (m.skipped) {
      log(`   ${pad(m.label, 38)} ${m.skipped}`);
      continue;
    }
    const md = median(m.runs);
    const f = m.name === 'c_floor' ? 'n/a' : `${filled[m.name] ?? '?'}/${PROC_FIELDS.length}`;
    log(`   ${pad(m.label, 38)}${lpad(f2(md), 9)}${lpad(f2(Math.min(...m.runs)), 9)}${lpad(f2(Math.max(...m.runs)), 9)}${lpad(`${f2(base / md)}x`, 10)}  ${f}`);
  }
  log('');

  // The re-open baseline paced at 1 ms, each pacing twice: before the agent's episodes and after them.
  const pacedRuns: Record<Pacing, PacedBaseline[]> = { setInterval: [], paced: [] };
  const runPaced = async () => {
    for (const p of Object.keys(PACINGS) as Pacing[]) pacedRuns[p].push(await pacedBaseline(dir, pageSize, p, INTERVAL_MS, BASELINE_S));
  };
  log(`2. the whole agent: runEpisode in-process, proc at interval_ms ${INTERVAL_MS}, ${EPISODE_S} s; the re-open baseline paced at ${INTERVAL_MS} ms before and after (${BASELINE_S} s each)`);
  await runPaced();
  const ag = await runAgent(pid, tmp, 'batch');
  // What the agent's proc worker ran: the batch loop only where the addon it loads has batch() (an older build ticks in JS).
  const nativeBatch = ag.sampler === 'native' && batchesRows('native', createProcSampler('/proc', pid, pageSize, 'native').sampler, { intervalMs: INTERVAL_MS, stopFlag: newStopFlag() });
  // "Today's" CPU per row, in this run: the same agent with proc ticking in JS once per row, the loop before the batch.
  let perTick: AgentResult | null = null;
  if (nativeBatch) {
    process.env.LABTEL_PROC_BATCH = '0';
    try {
      perTick = await runAgent(pid, tmp, 'per-tick');
    } finally {
      delete process.env.LABTEL_PROC_BATCH;
    }
  }
  await runPaced();
  // Each pacing: the run of median CPU per sample (of two: their mean); the bar is the cheaper pacing's.
  const pacedMed = (Object.keys(PACINGS) as Pacing[]).map((p) => {
    const runs = pacedRuns[p];
    const cpu = median(runs.map((r) => r.cpu_us_per_sample));
    return { pacing: p, cpu_us_per_sample: r2(cpu), thread_us_per_sample: r2(median(runs.map((r) => r.thread_us_per_sample))), samples_per_s: Math.round(median(runs.map((r) => r.samples_per_s))), runs };
  });
  const pacedBar = pacedMed.reduce((a, b) => (b.cpu_us_per_sample < a.cpu_us_per_sample ? b : a));
  const pacedUs = pacedBar.cpu_us_per_sample;
  const beforeUs = perTick ? (perTick.steady?.cpu_us_per_row ?? null) : BEFORE_STEADY_US;
  const beforeWhat = perTick ? 'the per-tick JS loop (LABTEL_PROC_BATCH=0) in this run' : `the per-tick JS loop as recorded (bench:proc of 2026-12-05T02:37:39Z), this run having ticked in JS itself`;
  const agentRatio = ag.cpu_us_per_row / base;
  const asked = 1000 / INTERVAL_MS;
  const keepsPace = ag.rows_per_s_sampling >= 0.98 * asked;
  log(`   agent code: ${ag.build}; sampler: ${ag.sampler ?? '?'}; collector ${ag.status}, exit ${ag.exit_reason}`);
  log(`   ${pad('process CPU (user+sys, all threads)', 48)}${(ag.cpu_us / 1e3).toFixed(1)} ms over ${ag.wall_s} s wall`);
  log(`   ${pad('host_proc rows', 48)}${ag.rows}`);
  log(`   ${pad('CPU per row, whole episode', 48)}${f2(ag.cpu_us_per_row)} us = ${f2(agentRatio)}x baseline (c)`);
  if (ag.steady) {
    const s = ag.steady;
    log(`   ${pad(`CPU per row, steady state (${s.window_s} s, ${s.rows} rows)`, 48)}${f2(s.cpu_us_per_row)} us = ${f2(s.cpu_us_per_row / base)}x baseline (c)`);
    log(`   ${pad('  of which collector worker thread', 48)}${f2(s.collector_thread_us_per_row)} us`);
    log(`   ${pad('  of which main thread', 48)}${f2(s.main_thread_us_per_row)} us`);
    log(`   ${pad('  of which other threads (GC, libuv, ...)', 48)}${f2(s.other_threads_us_per_row)} us`);
  }
  log(`   ${pad('start/stop CPU (total - steady x rows)', 48)}${ag.fixed_cpu_ms === null ? '-' : `${ag.fixed_cpu_ms} ms`} (first row ${ag.first_row_after_s} s after start)`);
  log(`   ${pad('rows/s over the episode', 48)}${ag.rows_per_s_episode} (asked ${asked})`);
  log(`   ${pad('rows/s while sampling (first..last row)', 48)}${ag.rows_per_s_sampling} (asked ${asked}): keeps pace: ${keepsPace ? 'yes' : 'NO'}`);
  if (ag.steady) log(`   ${pad('rows/s, steady state', 48)}${ag.steady.rows_per_s}`);
  log(`   ${pad('row interval ms p50 / p99 / max', 48)}${ag.row_interval_ms.p50} / ${ag.row_interval_ms.p99} / ${ag.row_interval_ms.max}`);
  if (perTick) {
    const s = perTick.steady;
    log(`   the same agent, proc ticking in JS once per row (LABTEL_PROC_BATCH=0): ${perTick.rows} rows, ${perTick.rows_per_s_sampling}/s while sampling`);
    log(`   ${pad('  CPU per row, steady state', 48)}${s ? `${f2(s.cpu_us_per_row)} us (collector thread ${f2(s.collector_thread_us_per_row)}, main ${f2(s.main_thread_us_per_row)}, other ${f2(s.other_threads_us_per_row)})` : 'no steady window'}`);
  }
  for (const m of pacedMed) {
    log(`   the re-open baseline paced at ${INTERVAL_MS} ms by ${m.pacing} (${m.runs.length} runs of ${BASELINE_S} s, before and after the agent's):`);
    log(`   ${pad('  CPU per sample (process, all threads)', 48)}${f2(m.cpu_us_per_sample)} us (runs: ${m.runs.map((r) => f2(r.cpu_us_per_sample)).join(', ')}; ${f2(m.thread_us_per_sample)} us on the sampling thread)`);
    log(`   ${pad('  samples/s (asked ' + asked + ')', 48)}${m.samples_per_s}${m.samples_per_s < 0.98 * asked ? ': cannot keep pace; compared per sample anyway' : ''}; interval ms p50 / p99 / max ${m.runs.map((r) => `${r.interval_ms.p50} / ${r.interval_ms.p99} / ${r.interval_ms.max}`).join(', ')}`);
  }
  log(`   what waking every ${INTERVAL_MS} ms costs by itself on this machine (${PACED_S} s each):`);
  const pace = await pacingOnly();
  log(`   ${pad("  Node: labtel's paced(), empty tick, main thr.", 48)}${f2(pace.cpu_us_per_tick)} us CPU per tick = ${f2(pace.cpu_us_per_tick / base)}x baseline (c), ${pace.ticks_per_s}/s (${f2(pace.thread_us_per_tick)} us on the ticking thread)`);
  const wakes = wakeFloor(tmp!);
  for (const [m, w] of Object.entries(wakes)) {
    if ('skipped' in w) log(`   ${pad(`  C wake-floor ${m}, no work`, 48)}${w.skipped}`);
    else log(`   ${pad(`  C wake-floor ${m}, no work`, 48)}${f2(w.cpu_us_per_wake)} us CPU per wake-up, ${w.wakes_per_s}/s, late p99 ${f2(w.late_p99_us)} us, ${w.deadlines_missed} deadlines missed`);
  }
  const wake = wakes.nanosleep;
  const cp = cFloorPaced(pid);
  if ('skipped' in cp) log(`   ${pad('  C floor, clock_nanosleep schedule', 48)}${cp.skipped}`);
  else log(`   ${pad('  C floor, clock_nanosleep schedule', 48)}${f2(cp.cpu_us_per_sample)} us CPU per sample = ${f2(cp.cpu_us_per_sample / base)}x baseline (c), ${cp.samples_per_s}/s`);
  log('');

  const speedup = nat === null ? null : base / nat;
  const pacedBudget = TARGET_AGENT_RATIO * pacedUs;
  const tightBudget = TARGET_AGENT_RATIO * base;
  const steadyUs = ag.steady?.cpu_us_per_row ?? null;
  const cpUs = 'skipped' in cp ? null : cp.cpu_us_per_sample;
  const targets = {
    native_us_le_20: { value: nat === null ? null : r2(nat), target: TARGET_NATIVE_US, pass: nat !== null && nat <= TARGET_NATIVE_US },
    native_speedup_ge_2_5: { value: speedup === null ? null : r2(speedup), target: TARGET_SPEEDUP, pass: speedup !== null && speedup >= TARGET_SPEEDUP },
    agent_cpu_per_row_le_0_75x_paced_baseline: { value: r2(ag.cpu_us_per_row / pacedUs), target: TARGET_AGENT_RATIO, baseline_us: pacedUs, pacing: pacedBar.pacing, pass: ag.cpu_us_per_row <= pacedBudget },
    agent_steady_cpu_per_row_le_before: { value: steadyUs, target: beforeUs, same_run: perTick !== null, recorded: BEFORE_STEADY_US, pass: steadyUs !== null && beforeUs !== null && steadyUs <= beforeUs },
    agent_steady_cpu_per_row_le_0_75x_paced_baseline: { value: steadyUs === null ? null : r2(steadyUs / pacedUs), target: TARGET_AGENT_RATIO, baseline_us: pacedUs, pacing: pacedBar.pacing, pass: steadyUs !== null && steadyUs <= pacedBudget },
    // The tight-loop reading: the baseline's wall time per sample with no sleeping. No program sampling once per wake-up meets it (C floor on the schedule beside it).
    agent_steady_cpu_per_row_le_0_75x_tight_baseline: { value: steadyUs === null ? null : r2(steadyUs / base), whole_episode: r2(agentRatio), target: TARGET_AGENT_RATIO, baseline_us: r2(base), c_floor_on_schedule_us: cpUs, c_floor_on_schedule_meets: cpUs !== null && cpUs <= tightBudget, pass: steadyUs !== null && steadyUs <= tightBudget },
  };
  const mark = (p: boolean) => (p ? 'PASS' : 'MISS');
  log('3. targets');
  log(`   ${mark(targets.native_us_le_20.pass)}  native <= ${TARGET_NATIVE_US} us per sample: ${f2(nat)} us`);
  log(`   ${mark(targets.native_speedup_ge_2_5.pass)}  native >= ${TARGET_SPEEDUP}x faster than the re-open baseline: ${f2(speedup)}x (${f2(base)} / ${f2(nat)} us)`);
  log(`   ${mark(targets.agent_cpu_per_row_le_0_75x_paced_baseline.pass)}  agent CPU per row, whole episode, <= ${TARGET_AGENT_RATIO}x the baseline paced at ${INTERVAL_MS} ms (${pacedBar.pacing}, ${f2(pacedUs)} us): ${f2(ag.cpu_us_per_row / pacedUs)}x (${f2(ag.cpu_us_per_row)} us)`);
  log(`   ${mark(targets.agent_steady_cpu_per_row_le_before.pass)}  agent steady CPU per row <= ${f2(beforeUs)} us (${beforeWhat}): ${f2(steadyUs)} us` + (perTick ? ` (recorded before the batch loop: ${BEFORE_STEADY_US} us)` : ''));
  log(`   ${mark(targets.agent_steady_cpu_per_row_le_0_75x_paced_baseline.pass)}  agent steady CPU per row <= ${TARGET_AGENT_RATIO}x the baseline paced at ${INTERVAL_MS} ms (${f2(pacedBudget)} us): ${f2(steadyUs)} us = ${f2(steadyUs === null ? null : steadyUs / pacedUs)}x`);
  log(`   ${mark(targets.agent_steady_cpu_per_row_le_0_75x_tight_baseline.pass)}  tight-loop reading${cpUs !== null && cpUs > tightBudget ? ', which no program meets here' : ''}: agent steady CPU per row <= ${TARGET_AGENT_RATIO}x the baseline's tight-loop time (${f2(tightBudget)} us): ${f2(steadyUs)} us = ${f2(steadyUs === null ? null : steadyUs / base)}x; C floor on the ${INTERVAL_MS} ms schedule ${f2(cpUs)} us = ${f2(cpUs === null ? null : cpUs / base)}x`);
  log(`   info  agent keeps pace at ${asked} rows/s: ${keepsPace ? 'yes' : 'no'} (${ag.rows_per_s_sampling}/s)`);
  log('');

  const per_sample_us: Record<string, unknown> = {};
  for (const m of methods) {
    per_sample_us[m.name] = m.skipped ? { skipped: m.skipped } : { median: r2(median(m.runs)), runs: m.runs.map(r2) };
  }
  const json = {
    bench: 'proc',
    machine: mach,
    target: { threads, bytes: Object.fromEntries(PROC_FILES.map((f, i) => [f, bytes[i]])) },
    iterations: ITERS,
    warmup: WARMUP,
    runs: RUNS,
    per_sample_us,
    speedup_vs_baseline: Object.fromEntries(methods.filter((m) => !m.skipped).map((m) => [m.name, r2(base / median(m.runs))])),
    agent: { interval_ms: INTERVAL_MS, duration_s: EPISODE_S, ...ag, native_batch: nativeBatch, cpu_per_row_vs_baseline: r2(agentRatio), keeps_pace: keepsPace },
    agent_per_tick: perTick,
    baseline_paced: { interval_ms: INTERVAL_MS, window_s: BASELINE_S, bar: pacedBar.pacing, pacings: pacedMed },
    pacing_only: { interval_ms: INTERVAL_MS, seconds: PACED_S, node_paced_empty_tick: pace, wake_floor: wakes, c_floor_paced: cp },
    targets,
  };

  // ---- the markdown section
  const labels: Record<string, string> = {
    native: 'labtel native sampler (descriptors kept open, `pread` at 0, C++ parse)',
    ts: 'labtel pure-TS sampler (descriptors kept open, `readSync` at 0)',
    baseline: 'baseline: `fs.readFileSync` of each file every sample + string split',
    c_floor: 'C floor (`proc-floor.c`): four kept-open descriptors, `pread` only, no parsing',
  };
  const sampleRows = methods.map((m) => {
    if (m.skipped) return [labels[m.name]!, m.skipped, '', '', '', ''];
    const md = median(m.runs);
    return [
      labels[m.name]!,
      m.name === 'native' ? `**${f2(md)}**` : f2(md),
      f2(Math.min(...m.runs)),
      f2(Math.max(...m.runs)),
      `${f2(base / md)}x`,
      m.name === 'c_floor' ? 'none (no parse)' : `${filled[m.name] ?? '?'} of ${PROC_FIELDS.length}`,
    ];
  });
  const floor = med('c_floor');
  const agentRows: string[][] = [
    ['host_proc rows written', `${ag.rows} (sampler: ${ag.sampler ?? 'unknown'}; collector ${ag.status}, episode ended by ${ag.exit_reason}; agent code: ${ag.build})`],
    ['how the proc worker makes the rows', nativeBatch ? `native batch loop: C++ sleeps to each deadline, samples and formats the row; the worker's JavaScript appends and writes the rows once per ${BATCH_MS} ms` : 'one JavaScript tick per row (Atomics.wait between them)'],
    [`rows/s while sampling, first to last row (asked ${asked})`, `${ag.rows_per_s_sampling}: keeps pace ${keepsPace ? 'yes' : 'no'} (98% of asked or more)`],
    ['row interval p50 / p99 / max', `${fmt(ag.row_interval_ms.p50)} / ${fmt(ag.row_interval_ms.p99)} / ${fmt(ag.row_interval_ms.max)} ms`],
    ...(ag.steady
      ? [[`CPU per row, steady state (${ag.steady.window_s} s window, ${ag.steady.rows} rows)`, `${f2(ag.steady.cpu_us_per_row)} µs (collector thread ${f2(ag.steady.collector_thread_us_per_row)}, main thread ${f2(ag.steady.main_thread_us_per_row)}, other threads ${f2(ag.steady.other_threads_us_per_row)})`]]
      : [['CPU per row, steady state', 'not measured: no 0.5 s snapshot window inside the sampling span']]),
    ...(perTick
      ? [[`the same agent in this run with proc ticking in JS once per row (\`LABTEL_PROC_BATCH=0\`, the loop before the batch): CPU per row, steady state`, perTick.steady ? `${f2(perTick.steady.cpu_us_per_row)} µs (collector thread ${f2(perTick.steady.collector_thread_us_per_row)}, main thread ${f2(perTick.steady.main_thread_us_per_row)}, other threads ${f2(perTick.steady.other_threads_us_per_row)}); ${perTick.rows} rows, ${perTick.rows_per_s_sampling}/s while sampling` : 'not measured: no steady window']]
      : []),
    ...pacedMed.map((m) => [
      `the re-open baseline (c) paced at ${INTERVAL_MS} ms by ${PACINGS[m.pacing]}, in this process: CPU per sample, steady (${m.runs.length} runs of ${BASELINE_S} s, one before the agent's episodes and one after)${m.pacing === pacedBar.pacing ? ' — the bar' : ''}`,
      `${f2(m.cpu_us_per_sample)} µs (runs ${m.runs.map((r) => f2(r.cpu_us_per_sample)).join(', ')}; ${f2(m.thread_us_per_sample)} on the sampling thread); ${m.samples_per_s} samples/s` +
        (m.samples_per_s < 0.98 * asked ? ` (cannot keep ${asked}/s: Node's timers have 1 ms granularity and the next wait starts after the sample; compared per sample anyway)` : '') +
        `; interval p50 / p99 / max ${m.runs.map((r) => `${fmt(r.interval_ms.p50)} / ${fmt(r.interval_ms.p99)} / ${fmt(r.interval_ms.max)}`).join(' and ')} ms`,
    ]),
    [`CPU per row, whole ${EPISODE_S} s episode incl. start and stop`, `${f2(ag.cpu_us_per_row)} µs (${(ag.cpu_us / 1e3).toFixed(1)} ms CPU over ${ag.wall_s} s wall)`],
    ['start and stop CPU (whole-episode CPU minus steady per-row CPU × rows)', ag.fixed_cpu_ms === null ? 'not measured (no steady window)' : `${ag.fixed_cpu_ms} ms; first row ${ag.first_row_after_s} s after start`],
    [`Node: labtel's \`paced()\` at ${INTERVAL_MS} ms with an empty tick (${PACED_S} s)`, `${f2(pace.cpu_us_per_tick)} µs CPU per tick (process), ${f2(pace.thread_us_per_tick)} µs on the ticking thread, ${pace.ticks_per_s} ticks/s`],
    ...(Object.keys(WAKE_METHODS) as WakeMethod[]).map((m) => {
      const w = wakes[m];
      return [`wake-up floor (\`wake-floor.c ${m}\`): ${WAKE_METHODS[m]}, no work (${PACED_S} s)`, 'skipped' in w ? w.skipped : `${f2(w.cpu_us_per_wake)} µs CPU per wake-up, ${w.wakes_per_s}/s, late p99 ${f2(w.late_p99_us)} µs, ${w.deadlines_missed} deadlines missed (not counted as wake-ups)`];
    }),
    [`C floor sampling on that ${INTERVAL_MS} ms schedule (${PACED_S} s)`, 'skipped' in cp ? cp.skipped : `${f2(cp.cpu_us_per_sample)} µs CPU per sample, ${cp.samples_per_s}/s`],
  ];
  const pacedWhat = `the re-open baseline's CPU per sample paced at ${INTERVAL_MS} ms (${pacedBar.pacing}, the cheaper pacing in this run: ${f2(pacedUs)} µs; ${TARGET_AGENT_RATIO}x = ${f2(pacedBudget)} µs)`;
  const tgs: Target[] = [
    { what: `native ≤ ${TARGET_NATIVE_US} µs per sample`, pass: nat === null ? null : nat <= TARGET_NATIVE_US, value: nat === null ? 'the native sampler did not run' : `${f2(nat)} µs` },
    { what: `native at least ${TARGET_SPEEDUP}x faster than the re-open baseline`, pass: speedup === null ? null : speedup >= TARGET_SPEEDUP, value: speedup === null ? 'the native sampler did not run' : `${f2(speedup)}x` },
    {
      what: `agent CPU per proc row at ${INTERVAL_MS} ms in steady state at most ${beforeWhat} (${f2(beforeUs)} µs${perTick ? `; recorded before the batch loop: ${BEFORE_STEADY_US} µs` : ''})`,
      pass: steadyUs !== null && beforeUs !== null ? targets.agent_steady_cpu_per_row_le_before.pass : null,
      value: steadyUs !== null ? `${f2(steadyUs)} µs` + (beforeUs !== null ? ` = ${f2(steadyUs / beforeUs)}x` : '') : 'no steady window',
    },
    {
      what: `the issue's bar, like for like: agent CPU per proc row at ${INTERVAL_MS} ms in steady state at most ${TARGET_AGENT_RATIO}x ${pacedWhat}`,
      pass: steadyUs !== null ? targets.agent_steady_cpu_per_row_le_0_75x_paced_baseline.pass : null,
      value: steadyUs !== null ? `${f2(steadyUs)} µs = ${f2(steadyUs / pacedUs)}x` : 'no steady window',
    },
    {
      what: `agent CPU per proc row over the whole ${EPISODE_S} s episode (start and stop included) at most ${TARGET_AGENT_RATIO}x ${pacedWhat}`,
      pass: targets.agent_cpu_per_row_le_0_75x_paced_baseline.pass,
      value: `${f2(ag.cpu_us_per_row)} µs = ${f2(ag.cpu_us_per_row / pacedUs)}x`,
    },
    {
      what: `the tight-loop reading${cpUs !== null && cpUs > tightBudget ? ', which no program sampling once per wake-up meets here (the C floor on the same schedule is over it)' : ''}: agent CPU per proc row at ${INTERVAL_MS} ms in steady state at most ${TARGET_AGENT_RATIO}x the baseline's wall time per sample in a tight loop, with no sleeping (${TARGET_AGENT_RATIO} × ${f2(base)} = ${f2(tightBudget)} µs)`,
      pass: steadyUs !== null ? targets.agent_steady_cpu_per_row_le_0_75x_tight_baseline.pass : null,
      value:
        (steadyUs !== null ? `${f2(steadyUs)} µs = ${f2(steadyUs / base)}x in steady state` : 'no steady window') +
        `; ${f2(ag.cpu_us_per_row)} µs = ${f2(agentRatio)}x over the whole episode; ` +
        (cpUs === null ? 'the C floor on the schedule did not run' : `the C floor sampling on the same ${INTERVAL_MS} ms schedule, with no parsing and no rows, costs ${f2(cpUs)} µs = ${f2(cpUs / base)}x (${cpUs <= tightBudget ? 'within' : 'over'} it)`),
    },
  ];
  const notes: string[] = [];
  if (nat !== null && floor !== null) notes.push(`The native sampler costs ${f2(nat - floor)} µs per sample over the C floor's raw reads: one N-API call, the parse, and what the floor does not read: the process's CPU clock (twice) and one taskstats request over netlink (run_delay_ns, run_periods).`);
  if (!('skipped' in wake)) {
    notes.push(
      `The wake-up floor on this machine, measured by \`scripts/bench/wake-floor.c\` (\`clock_nanosleep\` to an absolute 1 ms schedule, no work, the thread's schedstat): ${f2(wake.cpu_us_per_wake)} µs of CPU per wake-up` +
        ((['timerfd', 'futex'] as const).every((m) => !('skipped' in wakes[m])) ? ` (timerfd ${f2((wakes.timerfd as { cpu_us_per_wake: number }).cpu_us_per_wake)}, futex with a timeout ${f2((wakes.futex as { cpu_us_per_wake: number }).cpu_us_per_wake)})` : '') +
        `. One wake-up plus the kernel's formatting of the four files is the C floor on that schedule: ${cpUs === null ? 'not measured in this run' : `${f2(cpUs)} µs per sample`}. ` +
        `The tight-loop reading of the bar (${f2(tightBudget)} µs per row) is ${cpUs !== null && cpUs > tightBudget ? 'below it, so no program that samples once per 1 ms wake-up meets that reading here' : cpUs === null ? 'not compared with it' : 'above it in this run'}; ` +
        `the like-for-like bar (${f2(pacedBudget)} µs per row, 0.75x the re-open baseline paced at ${INTERVAL_MS} ms) ${cpUs !== null && cpUs <= pacedBudget ? 'leaves room above it' : 'is below it'}.` +
        (steadyUs !== null && cpUs !== null ? ` The agent's steady cost is ${f2(steadyUs - cpUs)} µs per row above the C floor on the same schedule.` : ''),
    );
  }
  notes.push(
    (nativeBatch
      ? 'What the agent does to keep the per-row cost low: at `interval_ms` up to 10 the proc worker hands the loop to C++ (`native/core/proc_batch.cc`): it sleeps to each deadline with `clock_nanosleep`, samples and formats the row there, and the worker\'s JavaScript wakes once per 50 ms batch to append the rows and write them in one `write(2)` (rows unlike the last, as a first row, an exit or a new null, go back through the JavaScript row code; both write the same bytes). The per-row cost left is the wake-up, the kernel\'s formatting of the four files, the parse and the row text. '
      : 'The proc worker ticked in JavaScript in this run (the addon it loaded has no batch loop: `npm run build:native`, or the pure-TS sampler): one `Atomics.wait` per period (woken at once by the stop flag), each row built as one string with no intermediate objects. ') +
      'The start and stop cost (host inventory, worker start, module load, fsync) is paid once per episode, so the whole-episode figure is the steady one plus that fixed cost spread over the rows.',
  );
  printSection(
    {
      title: 'proc sampling',
      command: commandLine('bench:proc', ['BENCH_ITERS', 'BENCH_RUNS', 'BENCH_EPISODE_S', 'BENCH_BASELINE_S']),
      machine: mach,
      body: [
        `Target: an idle node process this script starts, holding 64 MiB resident, ${threads} threads (` + PROC_FILES.map((f, i) => `${f} ${bytes[i]} B`).join(', ') + `). ` +
          `${ITERS.toLocaleString('en-US')} samples per run after ${WARMUP.toLocaleString('en-US')} warm-up samples, ${RUNS} runs with the methods interleaved; wall time per sample.`,
        mdTable([`path (stat + statm + status + io, ${PROC_FIELDS.length} fields)`, `µs per sample, median of ${RUNS}`, 'min', 'max', 'vs re-open baseline', 'fields filled'], sampleRows),
        `### The whole agent at \`interval_ms: ${INTERVAL_MS}\``,
        `\`runEpisode\` in-process for ${EPISODE_S} s with proc at ${INTERVAL_MS} ms on the same target. CPU is \`process.cpuUsage()\` (user + system, all threads); the split by thread is each thread's on-CPU time from \`/proc/self/task/*/schedstat\`, snapshotted every 500 ms; the steady window runs from 0.5 s after the first row to the last snapshot before the last row.${perTick ? ' Then the same episode again with proc ticking in JS once per row (`LABTEL_PROC_BATCH=0`, the loop before the native batch).' : ''} Around them (one run before the agent's episodes, one after), the re-open baseline (c) sampling the same target every ${INTERVAL_MS} ms on this process's main thread, paced as a Node user paces it, CPU per sample by \`process.cpuUsage()\` over a ${BASELINE_S} s steady window after 0.5 s of warm-up: the like-for-like comparison for the issue's bar. Then, in the same run, what waking every ${INTERVAL_MS} ms costs by itself here.`,
        mdTable(['measure', 'value'], agentRows),
        ...notes,
      ],
      targets: tgs,
    },
    json,
  );
}

try {
  await main();
} finally {
  cleanup();
}
