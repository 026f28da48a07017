// bench:proc's comparison: a plain Node re-open sampler, written the way a
// Node user would without labtel (fs.readFileSync of each file by path every
// sample, string split), timed two ways:
//   - in a tight loop (µs of wall time per sample, no sleeping): what the
//     sampling itself costs;
//   - paced at 1 ms as a Node user paces it, on the same schedule as the
//     agent: `setInterval(sample, 1)`, and labtel's own paced() loop on
//     timers (absolute deadlines, rounded to Node's 1 ms timers). CPU per
//     sample is process.cpuUsage() (user + system, all threads) over a steady
//     window, as the agent's CPU per row is measured: the like-for-like
//     reading of "0.75x a plain Node re-open sampler" at 1 ms.
import fs from 'node:fs';
import { F, PROC_FIELDS } from '../../src/collectors/proc/fields.js';
import { paced } from '../../src/util/pace.js';

/**
 * One sample: readFileSync each file by path, split and pick the fields.
 * Fills the same fields as the samplers (NaN when absent).
 */
export function baselineSample(dir: string, pageSize: number, v: Float64Array): void {
  v.fill(NaN);
  const stat = fs.readFileSync(`${dir}/stat`, 'utf8');
  const s = stat.slice(stat.lastIndexOf(')') + 2).trim().split(' '); // s[0] is field 3 (state)
  v[F.state] = s[0]!.charCodeAt(0);
  v[F.minflt] = Number(s[7]);
  v[F.majflt] = Number(s[9]);
  v[F.cpu_user_jiffies] = Number(s[11]);
  v[F.cpu_sys_jiffies] = Number(s[12]);
  v[F.num_threads] = Number(s[17]);
  v[F.starttime] = Number(s[19]);
  v[F.vsize_bytes] = Number(s[20]);
  v[F.processor] = Number(s[36]);

  const m = fs.readFileSync(`${dir}/statm`, 'utf8').trim().split(' ').map(Number);
  v[F.rss_bytes] = m[1]! * pageSize;
  v[F.shared_bytes] = m[2]! * pageSize;
  v[F.text_bytes] = m[3]! * pageSize;
  v[F.data_bytes] = m[5]! * pageSize;

  for (const line of fs.readFileSync(`${dir}/status`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const val = parseInt(line.slice(i + 1).trim(), 10);
    switch (line.slice(0, i)) {
      case 'VmHWM': v[F.rss_peak_bytes] = val * 1024; break;
      case 'VmSwap': v[F.swap_bytes] = val * 1024; break;
      case 'voluntary_ctxt_switches': v[F.voluntary_ctxt_switches] = val; break;
      case 'nonvoluntary_ctxt_switches': v[F.nonvoluntary_ctxt_switches] = val; break;
    }
  }

  for (const line of fs.readFileSync(`${dir}/io`, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const val = Number(line.slice(i + 1).trim());
    switch (line.slice(0, i)) {
      case 'rchar': v[F.io_rchar] = val; break;
      case 'wchar': v[F.io_wchar] = val; break;
      case 'read_bytes': v[F.io_read_bytes] = val; break;
      case 'write_bytes': v[F.io_write_bytes] = val; break;
    }
  }
}

/** How the paced baseline is scheduled. */
export const PACINGS = {
  setInterval: '`setInterval(sample, 1)`',
  paced: "labtel's `paced()` on timers (k × 1 ms deadlines, each wait rounded to Node's 1 ms timers)",
} as const;
export type Pacing = keyof typeof PACINGS;

export interface PacedBaseline {
  pacing: Pacing;
  window_s: number;
  samples: number;
  samples_per_s: number;
  /** process.cpuUsage() (user + system, all threads) over the window, per sample. */
  cpu_us_per_sample: number;
  /** The thread that samples (this one), from its schedstat. */
  thread_us_per_sample: number;
  interval_ms: { p50: number; p99: number; max: number };
}

const threadNs = (): number => Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
const r2 = (x: number): number => Math.round(x * 100) / 100;

/**
 * The baseline sampling `dir` every intervalMs on this thread for warmupS + seconds, paced as `pacing` says;
 * CPU and rate over the last `seconds` (the steady window: JIT and timers settled).
 */
export async function pacedBaseline(dir: string, pageSize: number, pacing: Pacing, intervalMs: number, seconds: number, warmupS = 0.5): Promise<PacedBaseline> {
  const v = new Float64Array(PROC_FIELDS.length);
  const times: bigint[] = [];
  let start: { t: bigint; cpu: NodeJS.CpuUsage; thread: number; n: number } | null = null;
  const tick = (): boolean => {
    baselineSample(dir, pageSize, v);
    times.push(process.hrtime.bigint());
    return true;
  };
  const ac = new AbortController();
  const warm = setTimeout(() => {
    start = { t: process.hrtime.bigint(), cpu: process.cpuUsage(), thread: threadNs(), n: times.length };
  }, warmupS * 1000);
  let stopAt!: () => void;
  const stopped = new Promise<void>((resolve) => (stopAt = resolve));
  const end = setTimeout(() => {
    ac.abort();
    stopAt();
  }, (warmupS + seconds) * 1000);
  // Read the end of the window in the timer that ends it, before the next sample.
  let stop: { t: bigint; cpu: NodeJS.CpuUsage; thread: number; n: number } | null = null;
  ac.signal.addEventListener('abort', () => {
    stop = { t: process.hrtime.bigint(), cpu: process.cpuUsage(), thread: threadNs(), n: times.length };
  });
  if (pacing === 'setInterval') {
    const h = setInterval(tick, intervalMs);
    await stopped;
    clearInterval(h);
  } else {
    await paced(intervalMs, ac.signal, tick);
  }
  clearTimeout(warm);
  clearTimeout(end);
  const a = start as { t: bigint; cpu: NodeJS.CpuUsage; thread: number; n: number } | null;
  const b = stop as { t: bigint; cpu: NodeJS.CpuUsage; thread: number; n: number } | null;
  if (!a || !b || b.n <= a.n) throw new Error(`the ${pacing} baseline took no samples in its ${seconds} s window`);
  const n = b.n - a.n;
  const windowS = Number(b.t - a.t) / 1e9;
  const gaps: number[] = [];
  for (let i = a.n + 1; i < b.n; i++) gaps.push(Number(times[i]! - times[i - 1]!) / 1e6);
  gaps.sort((x, y) => x - y);
  const q = (p: number): number => (gaps.length ? gaps[Math.min(gaps.length - 1, Math.floor(p * gaps.length))]! : NaN);
  return {
    pacing,
    window_s: r2(windowS),
    samples: n,
    samples_per_s: Math.round(n / windowS),
    cpu_us_per_sample: r2((b.cpu.user - a.cpu.user + b.cpu.system - a.cpu.system) / n),
    thread_us_per_sample: r2((b.thread - a.thread) / 1e3 / n),
    interval_ms: { p50: r2(q(0.5)), p99: r2(q(0.99)), max: r2(gaps[gaps.length - 1] ?? NaN) },
  };
}
