// The proc collector's loop: sample /proc/<pid> every interval, write host_proc
// rows, record the target's exit, and follow a pidfile target to its next
// process. runLoop() is the stand-alone form the field's tests use.
import fs from 'node:fs';
import os from 'node:os';
import { EpisodeClock } from '../../clock/origin.js';
import { paced } from '../../util/pace.js';
import { errnoName } from '../../util/errno.js';
import { PidfileFollower, type PidfileFollowerOptions } from '../../util/pidfile-follower.js';
import type { ProcessIdentity } from '../../util/process-identity.js';
import { JsonlWriter } from '../../rows/jsonl-writer.js';
import { sysconf } from '../../native/sysconf.js';
import { F, PROC_FIELDS, SAMPLE_ERRORS } from './fields.js';
import { statNumber } from './parse.js';
import { createProcSampler, type ProcSampler, type SamplerKind } from './sampler.js';
import type { ProcProcessRow, ProcThreadRow } from './rows.js';
import { processRowText } from './row-text.js';
import { BATCH, BATCH_END, batchesRows, canBatch, formatBatches, type BatchingSampler } from './native-batch.js';
import { threadRole, USER_WORKER_FLAG } from './thread-role.js';
import { kernelKeepsSchedInfo } from './sched-info.js';

const { ESRCH, ENOENT, EMFILE, ENFILE } = os.constants.errno;
const VCPU = /^CPU (\d+)\/(?:KVM|TCG|HVF|WHPX)$/;
const ZOMBIE = 'Z'.charCodeAt(0);
const DEAD = 'X'.charCodeAt(0);
const EXITED_REASON = 'the target process exited';
/** Thread row fields read from task/TID/schedstat rather than task/TID/stat. */
const SCHED_FIELDS = new Set(['cpu_time_ns', 'run_delay_ns', 'run_periods']);

/**
 * The flags (field 9) of a stat file, or 0 when it cannot be read. Read again only for a thread named vhost-N: the
 * samplers keep no flags, and a rename is rare enough not to add a field to every sample.
 */
function statFlags(file: string): number {
  try {
    return statNumber(fs.readFileSync(file, 'latin1'), 9) || 0;
  } catch {
    return 0;
  }
}

export interface ProcLoopOptions {
  pid: number;
  /** When set, an exited target is followed to the process the pidfile names next. */
  pidfile?: string;
  /** What the follower may take on, and where a refused rewrite is reported (util/pidfile-follower.ts). */
  follow?: PidfileFollowerOptions;
  writer: JsonlWriter;
  clock: EpisodeClock;
  intervalMs: number;
  signal: AbortSignal;
  /** On a worker thread: sleep on this flag instead of timers (see util/pace.ts). */
  stopFlag?: Int32Array;
  threads?: boolean;
  /** Host thread id -> vCPU index (from QMP): names vCPU threads whatever QEMU called them. */
  vcpuThreads?: Record<string, number>;
  /** Host thread id -> iothread id (from QMP): their role is 'io' whatever QEMU called them. */
  ioThreads?: Record<string, string>;
  /** Whether the kernel keeps scheduler statistics (tests only: read from /proc/thread-self/schedstat otherwise). */
  kernelSchedInfo?: boolean;
  procRoot?: string;
  sampler?: SamplerKind;
  pageSize?: number;
  /**
   * With the native sampler, a stop flag, no threads and interval_ms up to 10: sleep, sample and format
   * steady rows in C++, BATCH_MS at a time (native-batch.ts). Default true; false keeps one JS tick per row.
   */
  batch?: boolean;
  /**
   * Where failures that cost rows are reported (the collector's reportError): the first failed listing of task/
   * (that sample has no thread rows) and the first thread file that failed with EMFILE/ENFILE, once each.
   */
  onError?: (message: string) => void;
  /** After each sample (each batch): the process sampled, null once the target exited. Work sharing this thread: the cgroup sampler (cgroup-loop.ts). */
  beside?: (target: { pid: number; starttime: number | null } | null) => void;
}

export interface ProcLoopResult {
  rows: number;
  end: 'stopped' | 'target_exited';
  sampler: SamplerKind;
  /** Process rows whose core metrics were measured (not all null). */
  rowsWithValues: number;
  /** Rewrites of the pidfile naming a process the follower refused (pid 1, labtel, another executable, ...). */
  pidfileRefused: number;
  /** Samples whose listing of task/ failed (no thread rows for them); the first is reported through onError. */
  threadListFailures: number;
  /** Thread rows with a file that failed with EMFILE/ENFILE (the agent ran out of descriptors); the first is reported. */
  threadFdExhausted: number;
}

export async function procLoop(o: ProcLoopOptions): Promise<ProcLoopResult> {
  const procRoot = o.procRoot ?? '/proc';
  const pageSize = o.pageSize ?? sysconf().pageSize;
  const w = o.writer;
  const rowsAtStart = w.rows;
  const v = new Float64Array(PROC_FIELDS.length);
  const err = new Int32Array(SAMPLE_ERRORS);
  let pid = o.pid;
  let made = createProcSampler(procRoot, pid, pageSize, o.sampler);
  let sampler: ProcSampler | null = made.sampler;
  const openErr = sampler.open();
  if (openErr !== 0) {
    sampler.close();
    sampler = null;
    // A pidfile target gone before this worker started (QEMU restarted, or on its way) is
    // waited for as after an exit: the next tick reads the pidfile. A pid target cannot come back.
    if (!o.pidfile || (openErr !== ENOENT && openErr !== ESRCH)) {
      throw new Error(`cannot sample ${procRoot}/${pid}: ${errnoName(openErr)}${openErr === ENOENT ? ' (no such process)' : ''}`);
    }
  }
  let identity: number | null = null; // starttime of the process being sampled
  let event: ProcProcessRow['process_event'] = 'started';
  let prevT: number | null = null;
  const threadPrev = new Map<number, number>();
  let end: ProcLoopResult['end'] = 'stopped';
  let rowsWithValues = 0;
  // After an exit, only a rewritten pidfile names the next process (a stale one may name a reused pid).
  const follower = o.pidfile ? new PidfileFollower(o.pidfile, pid, procRoot, o.follow) : null;

  const n = (i: number): number | null => (Number.isNaN(v[i]!) ? null : v[i]!);

  const writeExited = (t: number) => {
    const reasons: Record<string, string> = {};
    const row: Record<string, unknown> = { pid, starttime: identity, process_event: 'exited', interval_s: null };
    for (const name of PROC_FIELDS) if (name !== 'starttime') { row[name] = null; reasons[name] = EXITED_REASON; }
    reasons.interval_s = EXITED_REASON;
    if (identity === null) reasons.starttime = 'never read before the exit';
    w.write('host_proc', t, row, reasons);
    w.flush(); // the thread may now sleep a long time: the exit must be on disk
  };

  // QMP's thread maps describe the process QMP answered for: a process the pidfile moved to has other threads
  // (whose tids may even repeat the old ones), named by their names alone (switchTo() drops the maps).
  let vcpuThreads = o.vcpuThreads;
  let ioThreads = o.ioThreads;
  const keepsSchedInfo = o.kernelSchedInfo ?? (o.threads ? kernelKeepsSchedInfo() : true);
  let threadListFailures = 0;
  let threadFdExhausted = 0;
  const sampleThreads = (t: number, s: ProcSampler) => {
    const threads = s.threads().sort((a, b) => a.tid - b.tid);
    const listErr = s.threadsError?.() ?? 0;
    if (listErr !== 0 && threadListFailures++ === 0) {
      o.onError?.(`cannot list ${procRoot}/${pid}/task: ${errnoName(listErr)}: no thread rows for that sample (later failures are counted in detail.thread_list_failures)`);
    }
    const live = new Set<number>();
    for (const th of threads) live.add(th.tid);
    for (const th of threads) {
      const prev = threadPrev.get(th.tid);
      threadPrev.set(th.tid, t);
      const m = VCPU.exec(th.comm);
      const vcpu = vcpuThreads?.[th.tid] ?? (m ? Number(m[1]) : null);
      // "0 0 0" where the kernel keeps no scheduler statistics; where it keeps them, a thread that has not run yet.
      const noSchedInfo = !keepsSchedInfo && th.sched_error === 0 && th.cpu_time_ns === 0 && th.run_delay_ns === 0 && th.run_periods === 0;
      const userWorker = () => statFlags(`${procRoot}/${pid}/task/${th.tid}/stat`) & USER_WORKER_FLAG;
      const row: ProcThreadRow = {
        pid, tid: th.tid, comm: th.comm, vcpu, role: threadRole({ pid, tid: th.tid, comm: th.comm, vcpu, ioThreads, tids: live, userWorker }),
        starttime: th.starttime, interval_s: prev === undefined ? null : (t - prev) / 1e9,
        state: th.state === null ? null : String.fromCharCode(th.state), processor: th.processor,
        cpu_user_jiffies: th.cpu_user_jiffies, cpu_sys_jiffies: th.cpu_sys_jiffies, minflt: th.minflt, majflt: th.majflt,
        cpu_time_ns: noSchedInfo ? null : th.cpu_time_ns, run_delay_ns: noSchedInfo ? null : th.run_delay_ns, run_periods: noSchedInfo ? null : th.run_periods,
      };
      let reasons: Record<string, string> | undefined;
      if (prev === undefined) reasons = { interval_s: 'first sample of this thread' };
      const file = `${procRoot}/${pid}/task/${th.tid}/stat`;
      const schedFile = `${procRoot}/${pid}/task/${th.tid}/schedstat`;
      const exhausted = th.error === EMFILE || th.error === ENFILE ? th.error : th.sched_error === EMFILE || th.sched_error === ENFILE ? th.sched_error : 0;
      if (exhausted !== 0 && threadFdExhausted++ === 0) {
        o.onError?.(`${errnoName(exhausted)} opening ${th.error === exhausted ? file : schedFile}: the agent is out of descriptors, this thread row is null (later ones are counted in detail.thread_fd_exhausted)`);
      }
      for (const [k, val] of Object.entries(row)) {
        if (val !== null || k === 'interval_s' || k === 'vcpu') continue;
        if (SCHED_FIELDS.has(k)) {
          (reasons ??= {})[k] = noSchedInfo
            ? `${schedFile} reads "0 0 0": this kernel keeps no scheduler statistics for it`
            : th.sched_error ? `${errnoName(th.sched_error)} reading ${schedFile}` : `absent or malformed in ${schedFile}`;
          continue;
        }
        (reasons ??= {})[k] = th.error ? `${errnoName(th.error)} reading ${file}` : `absent or malformed in ${file}`;
      }
      w.write('host_proc', t, row, reasons);
    }
    for (const tid of threadPrev.keys()) if (!live.has(tid)) threadPrev.delete(tid);
  };

  /** Samples the process the follower took on, from this tick: its first row says 'restarted'. */
  const switchTo = (next: ProcessIdentity): void => {
    const candidate = createProcSampler(procRoot, next.pid, pageSize, o.sampler).sampler;
    if (candidate.open() !== 0) { candidate.close(); return; } // gone already: the next rewrite names the one after
    sampler = candidate;
    pid = next.pid;
    identity = null;
    event = 'restarted';
    prevT = null;
    threadPrev.clear();
    vcpuThreads = undefined;
    ioThreads = undefined;
  };

  /** The pidfile's say before a sample: a newer process to move to, or the one to wait for. */
  const followPidfile = (): void => {
    if (sampler && follower) {
      // Taken on from a rewrite that the pidfile no longer holds (caught mid-way, or rewritten again at once).
      const next = follower.superseded();
      if (next !== null) {
        sampler.close();
        sampler = null;
        switchTo(next);
      }
    } else if (!sampler) {
      // Following a pidfile: wait for a live process it names.
      const next = follower?.next() ?? null;
      if (next !== null) switchTo(next);
    }
  };

  /** Set by the batched loop: the signature of each row written here goes to the native sampler. */
  let batching = false;

  /** One sample, in v and err, taken at t: its row (or the exit's), and the threads'. */
  const onSample = (t: number): boolean => {
    if (!sampler) return true;
    // A zombie's files are still readable, full of zeros: it has exited all the same.
    if (err[0] === ESRCH || err[0] === ENOENT || v[F.state] === ZOMBIE || v[F.state] === DEAD) {
      o.beside?.(null); // first: writeExited's flush puts both exits on disk
      writeExited(t);
      sampler.close();
      sampler = null;
      identity = null;
      if (!o.pidfile) { end = 'target_exited'; return false; }
      return true;
    }
    const starttime = n(F.starttime);
    if (identity !== null && starttime !== null && starttime !== identity) {
      event = 'restarted'; // same pid, another process: counters start over
      prevT = null;
    }
    if (starttime !== null) identity = starttime;
    const r = processRowText(pid, starttime, event, prevT === null ? null : (t - prevT) / 1e9, v, err, procRoot);
    // What the native batch may write from now on: rows with these errors and nulls (null_reasons without interval_s).
    if (batching && canBatch(sampler)) sampler.batchSignature(v, err, r.fieldReasons ? JSON.stringify(r.fieldReasons) : '');
    let reasons = r.fieldReasons;
    if (prevT === null) (reasons ??= {}).interval_s = event === 'restarted' ? 'first sample after the restart' : 'first sample';
    w.writeMembers('host_proc', t, r.members, reasons);
    if (r.measured) rowsWithValues++;
    prevT = t;
    event = null;
    if (o.threads) sampleThreads(t, sampler);
    o.beside?.({ pid, starttime: identity });
    w.flushIfDue();
    return true;
  };

  const tick = (): boolean => {
    const t = o.clock.now();
    followPidfile();
    if (!sampler) {
      w.flushIfDue();
      return true;
    }
    sampler.sample(v, err);
    return onSample(t);
  };

  /**
   * paced()'s schedule and stop flag, with the sleeps, samples and steady rows of each BATCH_MS in C++: one
   * wake-up of this thread, one append and one write(2) per batch. Rows the native loop does not cover (the
   * first of a process, an exit, a restart, new nulls) come back as samples for onSample(), which also gives
   * the native sampler the signature of the rows it may write.
   */
  const batched = (stopFlag: Int32Array): void => {
    const period = o.intervalMs * 1e6;
    const st = new Float64Array(8);
    let formatted: BatchingSampler | null = null;
    let next = Number(process.hrtime.bigint());
    const stopped = () => o.signal.aborted || Atomics.load(stopFlag, 0) !== 0;
    batching = true;
    if (stopped() || !tick()) return;
    while (!stopped()) {
      const s = sampler;
      if (s && canBatch(s) && prevT !== null && identity !== null && event === null) {
        if (formatted !== s) {
          formatBatches(s, w, o.clock.originNs, o.intervalMs);
          formatted = s;
        }
        st[BATCH.seq] = w.nextSeq('host_proc');
        st[BATCH.prevT] = prevT;
        st[BATCH.identity] = identity;
        st[BATCH.nextNs] = next;
        const text = s.batch(st, stopFlag, v, err);
        next = st[BATCH.nextNs]!;
        prevT = st[BATCH.prevT]!;
        w.appendLines('host_proc', text, st[BATCH.rows]!);
        rowsWithValues += st[BATCH.measured]!;
        if (st[BATCH.end] === BATCH_END.handoff && !onSample(st[BATCH.handoffT]!)) return;
        if (sampler) o.beside?.({ pid, starttime: identity });
        w.flush(); // one write per batch: a killed worker loses at most the batch held in C++
        if (st[BATCH.end] === BATCH_END.stopped) return;
        followPidfile();
        continue;
      }
      // As paced(): sleep to the next deadline, then a tick here.
      next += period;
      const now = Number(process.hrtime.bigint());
      const waitNs = next - now;
      if (waitNs < -10 * period) next = now;
      if (waitNs > 0) Atomics.wait(stopFlag, 0, 0, waitNs / 1e6);
      if (stopped()) return;
      if (!tick()) return;
    }
  };

  try {
    if (batchesRows(made.kind, made.sampler, o)) batched(o.stopFlag!);
    else await paced(o.intervalMs, o.signal, tick, o.stopFlag);
    w.flush(); // so that `rows` counts every row this loop wrote
  } finally {
    sampler?.close();
  }
  return { rows: w.rows - rowsAtStart, end, sampler: made.kind, rowsWithValues, pidfileRefused: follower?.refused ?? 0, threadListFailures, threadFdExhausted };
}

export interface RunLoopOptions {
  pid: number;
  outputPath: string;
  /** The episode's CLOCK_MONOTONIC origin, ns (0: rows carry raw CLOCK_MONOTONIC). */
  tMonoOriginNs: bigint | number | string;
  intervalMs: number;
  signal: AbortSignal;
  threads?: boolean;
  /** Host thread id -> vCPU index (from QMP): names vCPU threads whatever QEMU called them. */
  vcpuThreads?: Record<string, number>;
  /** Host thread id -> iothread id (from QMP). */
  ioThreads?: Record<string, string>;
  procRoot?: string;
  sampler?: SamplerKind;
  availableInDeployment?: boolean;
}

/** Samples until `signal` aborts or the target exits; resolves to the rows written. */
export async function runLoop(o: RunLoopOptions): Promise<number> {
  const writer = new JsonlWriter(o.outputPath, { availableInDeployment: o.availableInDeployment ?? true });
  try {
    const r = await procLoop({ ...o, writer, clock: new EpisodeClock(o.tMonoOriginNs) });
    return r.rows;
  } finally {
    writer.close();
  }
}
