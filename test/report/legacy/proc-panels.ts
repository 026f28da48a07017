// Frozen copy of src/report/proc-panels.ts as of da5b2d9 (before the one-pass report): the old path, kept only for
// test/report/one-pass.test.ts, which holds the new report to its bytes. Do not edit.
// proc panels: CPU % of one core of the process and its busiest threads
// (vCPU threads named), and RSS. A CPU value comes only from two
// consecutive samples of the same process (pid + starttime) or thread (tid +
// starttime): a restart, an exit, lost rows, a missing value or a silence
// leaves a gap in the line and a marker, never a rate across it.
import { cpuPercent, TICK_SLACK } from './cpu-bound.js';
import { type EpisodeMeta, num, type Row, rowsOf } from './episode-rows.js';
import { Marks } from './marks.js';
import { Series } from './series.js';
import type { Marker, Panel } from './types.js';

const PANELS = ['proc-cpu', 'proc-rss'];
/** A silence longer than this many intervals breaks every line. */
const SILENCE_INTERVALS = 3;
const SHOWN_THREADS = 8;

interface Sample {
  tNs: number;
  proc: Row | null;
  threads: Row[];
  firstSeq: number | null;
  lastSeq: number | null;
  /** Seq gaps between rows of this sample (rows of it that were lost): [before, after]. */
  lostInside: Array<[number, number]>;
}

/** Rows grouped into samples: a process row and its thread rows share a t_mono_ns. */
function* samplesOf(rows: Iterable<Row>): Generator<Sample> {
  let s: Sample | null = null;
  for (const r of rows) {
    const tNs = r.t_mono_ns as number;
    const seq = num(r.seq);
    if (!s || tNs !== s.tNs || (!('tid' in r) && s.proc)) {
      if (s) yield s;
      s = { tNs, proc: null, threads: [], firstSeq: seq, lastSeq: null, lostInside: [] };
    } else if (seq !== null && s.lastSeq !== null && seq !== s.lastSeq + 1) s.lostInside.push([s.lastSeq, seq]);
    if ('tid' in r) s.threads.push(r);
    else s.proc = r;
    s.lastSeq = seq ?? s.lastSeq;
  }
  if (s) yield s;
}

const ticksOf = (r: Row): number | null => {
  const u = num(r.cpu_user_jiffies);
  const s = num(r.cpu_sys_jiffies);
  return u === null || s === null ? null : u + s;
};

const reasonOf = (r: Row, field: string): string => {
  const why = (r.null_reasons as Record<string, unknown> | undefined)?.[field];
  return typeof why === 'string' ? why : 'not in the row';
};

export function procPanels(dir: string, meta: EpisodeMeta): { panels: Panel[]; markers: Marker[] } {
  const intervalNs = meta.intervalMs('proc', 100) * 1e6;
  const marks = new Marks('proc', PANELS);
  const cpu = new Series();
  const rss = new Series();
  const prev = new Map<string, { sample: number; tNs: number; ticks: number; threads: number | null }>();
  /** Per process and tid, the thread (tid + starttime) last seen under it. */
  const threadKeys = new Map<string, string>();
  let sampleNo = 0;
  let lastSeq: number | null = null;
  let lastTNs: number | null = null;
  let curKey: string | null = null;
  let lastPid: number | null = null;
  let lastExited = false;
  let atBound = 0;

  /**
   * CPU % from this reading and the previous sample's reading of the same
   * thing, or null. `cores`: what it could use; `hardCores`, when larger,
   * what it could use with threads no sample saw (a process's utime + stime
   * include threads that started and exited between two samples, as a
   * QEMU's I/O workers do): a reading past `cores` by more than the
   * counters' resolution is held to that instead, not dropped.
   */
  const rate = (key: string, label: string, x: number, tNs: number, ticks: number | null, cores: (threadsBefore: number | null) => number | null, hardCores: number | null, threads: number | null = null): number | null => {
    if (ticks === null) return null;
    const p = prev.get(key);
    prev.set(key, { sample: sampleNo, tNs, ticks, threads });
    if (!p || p.sample !== sampleNo - 1 || tNs <= p.tNs) return null;
    const dtS = (tNs - p.tNs) / 1e9;
    let r = cpuPercent(ticks - p.ticks, dtS, meta.clkTck, cores(p.threads));
    if (r.kind === 'dropped' && ticks >= p.ticks && hardCores !== cores(p.threads)) r = cpuPercent(ticks - p.ticks, dtS, meta.clkTck, hardCores);
    if (r.kind === 'value') return r.pct;
    if (r.kind === 'at_bound') return atBound++, r.pct;
    marks.add(x, 'dropped', `${label}: ${r.why}: dropped`, 'CPU values dropped as impossible', ['proc-cpu']);
    return null;
  };

  for (const s of samplesOf(rowsOf(dir, 'proc'))) {
    sampleNo++;
    const x = s.tNs / 1e9;
    if (lastSeq !== null && s.firstSeq !== null && s.firstSeq !== lastSeq + 1) {
      sampleNo++;
      const lost = s.firstSeq - lastSeq - 1;
      marks.add(x, 'break', lost > 0 ? `${lost} rows missing (seq ${lastSeq}→${s.firstSeq})` : `rows out of order (seq ${lastSeq}→${s.firstSeq})`, 'rows missing or out of order');
      rss.breakBefore(x);
    } else if (lastTNs !== null && s.tNs - lastTNs > SILENCE_INTERVALS * intervalNs && !lastExited) {
      sampleNo++;
      marks.add(x, 'break', `no sample for ${((s.tNs - lastTNs) / 1e9).toFixed(2)} s`, 'silences');
      rss.breakBefore(x);
    }
    // Rows lost inside this sample (thread rows): marked here; the threads they were are absent, so no rate spans them.
    for (const [a, b] of s.lostInside) marks.add(x, 'break', b > a ? `${b - a - 1} rows missing (seq ${a}→${b})` : `rows out of order (seq ${a}→${b})`, 'rows missing or out of order');
    const values: Record<string, number | null> = {};
    const p = s.proc;
    let procKey: string | null = null;
    const pid = p ? num(p.pid) : null;
    const event = p ? (p.process_event ?? p.event) : null; // (a row that names it `event`, as other sources do)
    if (p && event === 'exited') {
      marks.add(x, 'break', `target exited (pid ${pid})`, 'exits');
      values.process = null;
      rss.point(x, { 'RSS MiB': null });
      curKey = null;
    } else if (p) {
      procKey = `${pid}/${p.starttime ?? '?'}`;
      if (event === 'restarted' || (curKey !== null && procKey !== curKey)) {
        const from = curKey !== null ? curKey.split('/')[0] : lastPid;
        marks.add(x, 'break', from !== null && Number(from) !== pid ? `target restarted (pid ${from}→${pid})` : `target restarted (pid ${pid}, a new process)`, 'restarts');
        rss.breakBefore(x);
      }
      curKey = procKey;
      const ticks = ticksOf(p);
      if (ticks === null) marks.add(x, 'break', `process CPU not read (${reasonOf(p, num(p.cpu_user_jiffies) === null ? 'cpu_user_jiffies' : 'cpu_sys_jiffies')})`, 'values missing');
      // Held to its threads at the two samples within the counters' resolution; past that, to the host's CPUs
      // (threads that started and exited between the samples count in utime + stime).
      const threadsNow = num(p.num_threads);
      const byThreads = (threadsBefore: number | null): number | null => {
        const ts = [threadsNow, threadsBefore].filter((v): v is number => v !== null && v > 0);
        if (!ts.length) return meta.hostCpus;
        return meta.hostCpus === null ? Math.max(...ts) : Math.min(Math.max(...ts), meta.hostCpus);
      };
      values.process = rate(procKey, 'process', x, s.tNs, ticks, byThreads, meta.hostCpus, threadsNow);
      const r = num(p.rss_bytes);
      if (r === null) marks.add(x, 'break', `RSS not read (${reasonOf(p, 'rss_bytes')})`, 'values missing');
      rss.point(x, { 'RSS MiB': r === null ? null : r / 2 ** 20 });
    }
    for (const th of s.threads) {
      const tid = num(th.tid);
      const label = th.vcpu !== null && th.vcpu !== undefined ? `vCPU ${th.vcpu}` : `${String(th.comm)} (${tid})`;
      const owner = `${procKey ?? num(th.pid)}|${tid}`;
      const key = `${owner}/${th.starttime ?? '?'}`;
      // A tid the process reused for a new thread: its line breaks (no rate against the old thread), and the reader is told why.
      const before = threadKeys.get(owner);
      if (before !== undefined && before !== key) marks.add(x, 'break', `${label}: a new thread under the same tid`, 'threads replaced under a reused tid', ['proc-cpu']);
      threadKeys.set(owner, key);
      const ticks = ticksOf(th);
      if (ticks === null) marks.add(x, 'break', `${label} CPU not read (${reasonOf(th, num(th.cpu_user_jiffies) === null ? 'cpu_user_jiffies' : 'cpu_sys_jiffies')})`, 'values missing');
      const v = rate(key, label, x, s.tNs, ticks, () => 1, 1);
      if (v !== null || !(label in values)) values[label] = v;
    }
    cpu.point(x, values);
    if (p) lastPid = pid;
    lastExited = event === 'exited';
    lastSeq = s.lastSeq ?? lastSeq;
    lastTNs = s.tNs;
  }

  // The busiest threads only: a QEMU has dozens.
  const drawable = cpu
    .labels()
    .filter((k) => k !== 'process' && cpu.hasValue(k))
    .map((k) => [k, cpu.sum(k)] as const)
    .sort((a, b) => b[1] - a[1]);
  const busiest = drawable.slice(0, SHOWN_THREADS).map(([k]) => k);
  const hidden = drawable.length - busiest.length;
  const notes = [
    'CPU from two consecutive samples of the same process (pid + starttime) or thread (tid + starttime); a restart, an exit, lost rows, a missing value or a silence over 3 intervals is a gap',
    ...(atBound
      ? [`readings up to ${TICK_SLACK} clock ticks over what could be used (one core for a thread; for the process, its threads at the two samples, or past that the host's CPUs; the counters' resolution: ${((TICK_SLACK / ((intervalNs / 1e9) * meta.clkTck)) * 100).toFixed(0)}% at this interval), drawn at that bound: ${atBound}`]
      : []),
    ...(hidden > 0 ? [`${hidden} more threads not drawn (the ${SHOWN_THREADS} with the most CPU are)`] : []),
    ...marks.notes('proc-cpu'),
  ];
  const panels = [
    cpu.panel('proc-cpu', 'CPU per thread (proc)', '% of a core', notes, ['process', ...busiest], marks.on('proc-cpu')),
    rss.panel('proc-rss', 'Resident memory (proc)', 'MiB', marks.notes('proc-rss'), undefined, marks.on('proc-rss')),
  ].filter((x): x is Panel => x !== null);
  return { panels, markers: marks.list };
}
