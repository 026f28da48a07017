// proc panels: CPU % of one core of the process and its busiest threads
// (vCPU threads named), RSS, and each vCPU thread's run delay (time runnable
// but waiting for a host CPU: the host-side steal). A CPU value, as a run
// delay, comes only from two
// consecutive samples of the same process (pid + starttime) or thread (tid +
// starttime): a restart, an exit, lost rows, a missing value or a silence
// leaves a gap in the line and a marker, never a rate across it.
import { cpuPercent, TICK_SLACK } from './cpu-bound.js';
import { type EpisodeMeta, num, type Row, type PanelSink, text } from './episode-rows.js';
import { Marks } from './marks.js';
import { Series } from './series.js';
import type { Marker, Panel } from './types.js';

const PANELS = ['proc-cpu', 'proc-rss', 'proc-run-delay'];
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

/**
 * Rows grouped into samples, as they are pushed: a process row and its thread
 * rows share a t_mono_ns. `onSample` gets each sample once the next one
 * starts, and the last at `end()`.
 */
class SampleGrouper {
  private s: Sample | null = null;
  constructor(private readonly onSample: (s: Sample) => void) {}

  push(r: Row): void {
    const tNs = r.t_mono_ns as number;
    const seq = num(r.seq);
    let s = this.s;
    if (!s || tNs !== s.tNs || (!('tid' in r) && s.proc)) {
      if (s) this.onSample(s);
      s = this.s = { tNs, proc: null, threads: [], firstSeq: seq, lastSeq: null, lostInside: [] };
    } else if (seq !== null && s.lastSeq !== null && seq !== s.lastSeq + 1) s.lostInside.push([s.lastSeq, seq]);
    if ('tid' in r) s.threads.push(r);
    else s.proc = r;
    s.lastSeq = seq ?? s.lastSeq;
  }

  end(): void {
    if (this.s) this.onSample(this.s);
    this.s = null;
  }
}

const ticksOf = (r: Row): number | null => {
  const u = num(r.cpu_user_jiffies);
  const s = num(r.cpu_sys_jiffies);
  return u === null || s === null ? null : u + s;
};

/** A thread's bound: one core. */
const ONE_CORE = (): number => 1;

/**
 * What was made for one thread under one owner (the process, or its pid,
 * and a tid): its names, made again only when the row's starttime, vCPU
 * or comm changes. Every row of it then hands the Maps the same strings,
 * which they find at once (a string keeps its hash), where a string made
 * anew per row was hashed per row.
 */
interface ThreadNames {
  /** `${owner}|${tid}` */
  owner: string;
  start: unknown;
  /** `${owner}/${starttime ?? '?'}`: the thread (tid + starttime), keying its previous reading. '' until made. */
  key: string;
  vcpu: unknown;
  comm: unknown;
  label: string;
  /** The key of the thread last seen under this owner and tid (a new one: the tid was reused). */
  seen: string | undefined;
}

const reasonOf = (r: Row, field: string): string => {
  const why = (r.null_reasons as Record<string, unknown> | undefined)?.[field];
  return typeof why === 'string' ? why : 'not in the row';
};

/** The proc panels, from the rows of telemetry-proc.jsonl pushed in file order. */
export function procPanels(meta: EpisodeMeta): PanelSink<{ panels: Panel[]; markers: Marker[] }> {
  const intervalNs = meta.intervalMs('proc', 100) * 1e6;
  const marks = new Marks('proc', PANELS);
  const cpu = new Series();
  const rss = new Series();
  const delay = new Series();
  /** Markers of the run delay panel alone (a vCPU's run delay not read, or falling). */
  const delayMarks = new Marks('proc', ['proc-run-delay']);
  const prevDelay = new Map<string, { sample: number; tNs: number; ns: number }>();
  const prev = new Map<string, { sample: number; tNs: number; ticks: number; threads: number | null }>();
  /** Per owner (the process key, else its pid) and tid: the thread's names, and the thread last seen under it. */
  const threadNames = new Map<string, Map<number | null, ThreadNames>>();
  const namesOf = (owner: string, tid: number | null, th: Row): ThreadNames => {
    let byTid = threadNames.get(owner);
    if (!byTid) threadNames.set(owner, (byTid = new Map()));
    let n = byTid.get(tid);
    if (!n) byTid.set(tid, (n = { owner: `${owner}|${tid}`, start: undefined, key: '', vcpu: undefined, comm: undefined, label: '', seen: undefined }));
    if (n.key === '' || n.start !== th.starttime) {
      n.start = th.starttime;
      n.key = `${n.owner}/${text(th.starttime ?? '?')}`;
    }
    if (n.label === '' || n.vcpu !== th.vcpu || n.comm !== th.comm) {
      n.vcpu = th.vcpu;
      n.comm = th.comm;
      n.label = th.vcpu !== null && th.vcpu !== undefined ? `vCPU ${text(th.vcpu)}` : `${text(th.comm)} (${tid})`;
    }
    return n;
  };
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
    const before = prev.get(key);
    if (!before) {
      prev.set(key, { sample: sampleNo, tNs, ticks, threads });
      return null;
    }
    // The reading is kept in place (one object per thing read, not per row): the previous one first.
    const pSample = before.sample;
    const pTNs = before.tNs;
    const pTicks = before.ticks;
    const pThreads = before.threads;
    (before.sample = sampleNo), (before.tNs = tNs), (before.ticks = ticks), (before.threads = threads);
    if (pSample !== sampleNo - 1 || tNs <= pTNs) return null;
    const dtS = (tNs - pTNs) / 1e9;
    let r = cpuPercent(ticks - pTicks, dtS, meta.clkTck, cores(pThreads));
    if (r.kind === 'dropped' && ticks >= pTicks && hardCores !== cores(pThreads)) r = cpuPercent(ticks - pTicks, dtS, meta.clkTck, hardCores);
    if (r.kind === 'value') return r.pct;
    if (r.kind === 'at_bound') return atBound++, r.pct;
    marks.add(x, 'dropped', `${label}: ${r.why}: dropped`, 'CPU values dropped as impossible', ['proc-cpu']);
    return null;
  };

  /**
   * A vCPU thread's run delay over the interval, ms per s: from this reading and the previous sample's of the same
   * thread (tid + starttime, under the same process), or null (its first, after a gap, a null or a restart).
   */
  const runDelay = (n: ThreadNames, th: Row, x: number, tNs: number): void => {
    if (!delay.at(x)) return;
    const ns = num(th.run_delay_ns);
    if (ns === null) {
      delayMarks.add(x, 'break', `${n.label} run delay not read (${reasonOf(th, 'run_delay_ns')})`, 'values missing');
      delay.set(n.label, null);
      return;
    }
    const before = prevDelay.get(n.key);
    if (!before) prevDelay.set(n.key, { sample: sampleNo, tNs, ns });
    const consecutive = before !== undefined && before.sample === sampleNo - 1 && tNs > before.tNs;
    const d = consecutive ? ns - before.ns : null;
    const dt = consecutive ? tNs - before.tNs : 0;
    if (before) (before.sample = sampleNo), (before.tNs = tNs), (before.ns = ns);
    if (d !== null && d < 0) delayMarks.add(x, 'dropped', `${n.label}: run delay fell by ${-d} ns: dropped`, 'run delay values dropped as impossible');
    delay.set(n.label, d === null || d < 0 ? null : d / 1e6 / (dt / 1e9));
  };

  const sample = (s: Sample): void => {
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
    // The sample's CPU values go straight to the series (the labels it sets; the others are null there).
    const drawn = cpu.at(x);
    const p = s.proc;
    let procKey: string | null = null;
    const pid = p ? num(p.pid) : null;
    const event = p ? (p.process_event ?? p.event) : null; // (a row that names it `event`, as other sources do)
    if (p && event === 'exited') {
      marks.add(x, 'break', `target exited (pid ${pid})`, 'exits');
      if (drawn) cpu.set('process', null);
      if (rss.at(x)) rss.set('RSS MiB', null);
      curKey = null;
    } else if (p) {
      procKey = `${pid}/${text(p.starttime ?? '?')}`;
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
        const now = threadsNow !== null && threadsNow > 0 ? threadsNow : null;
        const then = threadsBefore !== null && threadsBefore > 0 ? threadsBefore : null;
        const most = now === null ? then : then === null ? now : Math.max(now, then);
        if (most === null) return meta.hostCpus;
        return meta.hostCpus === null ? most : Math.min(most, meta.hostCpus);
      };
      const v = rate(procKey, 'process', x, s.tNs, ticks, byThreads, meta.hostCpus, threadsNow);
      if (drawn) cpu.set('process', v);
      const r = num(p.rss_bytes);
      if (r === null) marks.add(x, 'break', `RSS not read (${reasonOf(p, 'rss_bytes')})`, 'values missing');
      if (rss.at(x)) rss.set('RSS MiB', r === null ? null : r / 2 ** 20);
    }
    for (const th of s.threads) {
      const tid = num(th.tid);
      const n = namesOf(procKey ?? String(num(th.pid)), tid, th);
      const { key, label } = n;
      // A tid the process reused for a new thread: its line breaks (no rate against the old thread), and the reader is told why.
      if (n.seen !== undefined && n.seen !== key) marks.add(x, 'break', `${label}: a new thread under the same tid`, 'threads replaced under a reused tid', ['proc-cpu']);
      n.seen = key;
      const ticks = ticksOf(th);
      if (ticks === null) marks.add(x, 'break', `${label} CPU not read (${reasonOf(th, num(th.cpu_user_jiffies) === null ? 'cpu_user_jiffies' : 'cpu_sys_jiffies')})`, 'values missing');
      // Two threads of one label in a sample (a vCPU named twice): a value wins over a null, the later over the earlier.
      const v = rate(key, label, x, s.tNs, ticks, ONE_CORE, 1);
      if (drawn) cpu.set(label, v);
      if (th.role === 'vcpu') runDelay(n, th, x, s.tNs);
    }
    if (p) lastPid = pid;
    lastExited = event === 'exited';
    lastSeq = s.lastSeq ?? lastSeq;
    lastTNs = s.tNs;
  };
  const samples = new SampleGrouper(sample);

  const finish = (): { panels: Panel[]; markers: Marker[] } => {
    samples.end();
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
    const vcpus = delay.labels().sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)) || a.localeCompare(b));
    const delayNotes = [
      "each vCPU thread's run delay (task/TID/schedstat: time runnable but waiting for a host CPU, the host-side steal) per second of the interval, from two consecutive samples of the same thread (tid + starttime) under the same process; a restart, an exit, lost rows, a null or a silence over 3 intervals is a gap",
      ...marks.notes('proc-run-delay'),
      ...delayMarks.notes(),
    ];
    const panels = [
      cpu.panel('proc-cpu', 'CPU per thread (proc)', '% of a core', notes, ['process', ...busiest], marks.on('proc-cpu')),
      rss.panel('proc-rss', 'Resident memory (proc)', 'MiB', marks.notes('proc-rss'), undefined, marks.on('proc-rss')),
      // Only where vCPU threads were recorded: another target's episode gets no empty panel.
      vcpus.length ? delay.panel('proc-run-delay', 'Run delay per vCPU (proc)', 'ms per s', delayNotes, vcpus, marks.on('proc-run-delay') || delayMarks.on('proc-run-delay')) : null,
    ].filter((x): x is Panel => x !== null);
    return { panels, markers: [...marks.list, ...delayMarks.list] };
  };
  return { push: (r) => samples.push(r), finish };
}
