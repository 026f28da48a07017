// One interface over the native sampler and its pure-TS twin. Both keep the
// process's descriptors open and re-read them at offset 0.
import fs from 'node:fs';
import os from 'node:os';
import { nativeAddon } from '../../native/addon.js';
import type { NativeThreadSample } from '../../native/types.js';
import { E_SCHED, E_SCHED_TID, F, PROC_FIELDS, PROC_FILES, SCHED_NONE } from './fields.js';
import { parseIo, parseSchedstat, parseStat, parseStatm, parseStatus, type SchedStat } from './parse.js';

export interface ProcSampler {
  /** 0, or the errno of the process directory (ENOENT: no such process). */
  open(): number;
  /**
   * Fills values (NaN = not collected) and errors (SAMPLE_ERRORS slots: errno per file, 0 = read; then the scheduler
   * sum's errno and the tid it names). The sum (cpu_time_ns, run_delay_ns, run_periods) is over every thread's
   * task/TID/schedstat, plus the last values of the threads of this identity that exited since: see TsProcSampler.sched().
   */
  sample(values: Float64Array, errors: Int32Array): void;
  threads(): NativeThreadSample[];
  close(): void;
}

export type SamplerKind = 'native' | 'ts';

const E = os.constants.errno;
const EBADMSG = E.EBADMSG;
const ESRCH = E.ESRCH;
const ENOENT = E.ENOENT;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** readThread(): the thread has exited. */
const EXITED = -2;

function errnoOf(err: unknown): number {
  const code = (err as NodeJS.ErrnoException).code;
  return (code && (E as Record<string, number>)[code]) || E.EIO;
}

/** A thread's descriptors, kept open between samples like the process's. */
interface ThreadFds {
  stat: number;
  /** -1 when schedstat could not be opened; schedOpenErr is its errno then, reported by every sample. */
  sched: number;
  schedOpenErr: number;
}

function closeThread(t: ThreadFds): void {
  fs.closeSync(t.stat);
  if (t.sched >= 0) fs.closeSync(t.sched);
}

/** A thread in the process's scheduler sum: its schedstat, kept open, and the last values read from it. */
interface SchedThread {
  fd: number;
  /** [cpu_time_ns, run_delay_ns, run_periods] last read; null before the first read. */
  last: [number, number, number] | null;
  /** Read at this sample. */
  now: boolean;
  /** The sample that last listed it. */
  gen: number;
}

const SCHED_AT = [F.cpu_time_ns, F.run_delay_ns, F.run_periods] as const;

export class TsProcSampler implements ProcSampler {
  private dir: string;
  private fds: number[] = [];
  private openErr: number[] = [];
  private threadFds = new Map<number, ThreadFds>();
  private buf = Buffer.alloc(8192);
  private schedThreads = new Map<number, SchedThread>();
  /** Exact: the last values of the threads that exited, as integers (the doubles read, so as C++ sums them). */
  private carry = [0n, 0n, 0n];
  private schedStarttime = NaN;
  private schedGen = 0;
  /** schedThreads is the last listing of task/ (and what has happened to it since). */
  private schedListed = false;

  /** schedInfo: whether the kernel keeps scheduler statistics (false: the sums are null, errors[E_SCHED] = SCHED_NONE). */
  constructor(procRoot: string, pid: number, private readonly pageSize: number, private readonly schedInfo = true) {
    this.dir = `${procRoot}/${pid}`;
  }

  open(): number {
    this.close();
    try {
      if (!fs.statSync(this.dir).isDirectory()) return E.ENOTDIR;
    } catch (err) {
      return errnoOf(err);
    }
    for (const f of PROC_FILES) {
      try {
        this.fds.push(fs.openSync(`${this.dir}/${f}`, 'r'));
        this.openErr.push(0);
      } catch (err) {
        this.fds.push(-1);
        this.openErr.push(errnoOf(err));
      }
    }
    return 0;
  }

  private read(fd: number): string {
    let len = 0;
    for (;;) {
      const r = fs.readSync(fd, this.buf, len, this.buf.length - len, len);
      len += r;
      if (r === 0 || len < this.buf.length || this.buf.length >= 1 << 20) break;
      const bigger = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(bigger);
      this.buf = bigger;
    }
    return this.buf.toString('latin1', 0, len);
  }

  sample(values: Float64Array, errors: Int32Array): void {
    values.fill(NaN);
    errors[E_SCHED] = 0;
    errors[E_SCHED_TID] = 0;
    for (let f = 0; f < PROC_FILES.length; f++) {
      let e = 0;
      const fd = this.fds[f] ?? -1;
      if (fd < 0) {
        e = this.openErr[f] || E.EBADF;
      } else {
        try {
          const text = this.read(fd);
          const ok =
            f === 0 ? parseStat(text, values) !== null
            : f === 1 ? parseStatm(text, this.pageSize, values)
            : f === 2 ? parseStatus(text, values)
            : parseIo(text, values);
          if (!ok) e = EBADMSG;
        } catch (err) {
          e = errnoOf(err);
        }
      }
      errors[f] = e;
      if (f === 0 && (e === ESRCH || e === ENOENT)) {
        errors.fill(e, 1, PROC_FILES.length);
        errors[E_SCHED] = e;
        return;
      }
    }
    this.sched(values, errors);
  }

  private dropSched(): void {
    for (const t of this.schedThreads.values()) if (t.fd >= 0) fs.closeSync(t.fd);
    this.schedThreads.clear();
    this.carry = [0n, 0n, 0n];
  }

  private carryOf(t: SchedThread): void {
    if (t.last) for (let i = 0; i < 3; i++) this.carry[i]! += BigInt(t.last[i]!);
  }

  /**
   * The process's scheduler figures: the sum over the threads alive now plus the carry (the last values read of
   * the threads that exited since the first sample of this identity), so it never falls when a thread exits. Null
   * (errors[E_SCHED]) when task/ cannot be listed, no thread could be read, or any live thread's schedstat failed
   * (errors[E_SCHED_TID]: the lowest such tid), since a sum missing a thread could fall. The twin of
   * native/core/proc_sampler.cc's sample_sched(): the same sums, exact as integers, then the nearest double.
   */
  /** One thread's schedstat into t (opened first when it is not open): 0 and its values in t.last, an errno, or EXITED. */
  private readThread(tid: number, t: SchedThread): number {
    let e = 0;
    let s: SchedStat | null = null;
    if (t.fd < 0) {
      try {
        t.fd = fs.openSync(`${this.dir}/task/${tid}/schedstat`, 'r');
      } catch (err) {
        e = errnoOf(err);
      }
    }
    if (e === 0) {
      try {
        s = parseSchedstat(this.read(t.fd));
        if (s === null) e = EBADMSG;
      } catch (err) {
        e = errnoOf(err);
      }
    }
    // ESRCH: the thread exited; ENOENT too when its directory went with it (a schedstat missing beside a live
    // thread's stat is a failure to read, not an exit).
    if (e === ESRCH || (e === ENOENT && !fs.existsSync(`${this.dir}/task/${tid}`))) return EXITED;
    if (e !== 0) return e;
    // A counter below its last reading is another thread under the tid (a thread that exec()s takes the leader's):
    // the old one's figures carried.
    if (t.last && (s!.cpu_time_ns < t.last[0] || s!.run_delay_ns < t.last[1] || s!.run_periods < t.last[2])) this.carryOf(t);
    t.last = [s!.cpu_time_ns, s!.run_delay_ns, s!.run_periods];
    return 0;
  }

  private sched(values: Float64Array, errors: Int32Array): void {
    if (!this.schedInfo) {
      errors[E_SCHED] = SCHED_NONE;
      return;
    }
    // Another process under the same files (a fixture rewritten; the kernel's fail with ESRCH instead): start over.
    const st = values[F.starttime]!;
    if (!Number.isNaN(st) && st !== this.schedStarttime) {
      if (!Number.isNaN(this.schedStarttime)) this.dropSched();
      this.schedStarttime = st;
    }
    let failErr = 0;
    let failTid = 0;
    let read = 0;
    const threads = this.schedThreads;
    const tally = (tid: number, t: SchedThread, e: number) => {
      t.now = e === 0;
      if (e === 0) read++;
      else if (failTid === 0 || tid < failTid) (failTid = tid), (failErr = e);
    };
    // The threads the last listing found, when stat's num_threads still counts as many and none of them has
    // exited: no listing of task/ this time (a thread born since would make num_threads larger, or one gone be found).
    let known = this.schedListed && threads.size > 0 && values[F.num_threads] === threads.size;
    if (known) {
      for (const [tid, t] of threads) {
        const e = this.readThread(tid, t);
        if (e === EXITED) {
          known = false; // the listing below takes it from here
          break;
        }
        tally(tid, t, e);
      }
    }
    if (!known) {
      let names: string[];
      try {
        names = fs.readdirSync(`${this.dir}/task`);
      } catch (err) {
        this.schedListed = false;
        errors[E_SCHED] = errnoOf(err);
        return;
      }
      this.schedListed = true;
      failErr = failTid = read = 0;
      const gen = ++this.schedGen;
      for (const name of names) {
        if (!/^[1-9]\d{0,9}$/.test(name)) continue;
        const tid = Number(name);
        if (tid > 0x7fffffff) continue;
        let t = threads.get(tid);
        if (t === undefined) threads.set(tid, (t = { fd: -1, last: null, now: false, gen: 0 }));
        else if (t.gen === gen) continue; // listed twice: counted once
        const e = this.readThread(tid, t);
        if (e === EXITED) {
          this.carryOf(t);
          if (t.fd >= 0) fs.closeSync(t.fd);
          threads.delete(tid);
          continue;
        }
        t.gen = gen;
        tally(tid, t, e);
      }
      // Threads no longer listed exited since the last sample: their last values stay in the sum.
      for (const [tid, gone] of threads) {
        if (gone.gen === gen) continue;
        this.carryOf(gone);
        if (gone.fd >= 0) fs.closeSync(gone.fd);
        threads.delete(tid);
      }
    }
    if (failTid !== 0) {
      errors[E_SCHED] = failErr;
      errors[E_SCHED_TID] = failTid;
      return;
    }
    if (read === 0) {
      errors[E_SCHED] = ESRCH; // no thread left to read
      return;
    }
    for (let i = 0; i < 3; i++) {
      let sum = 0;
      for (const t of threads.values()) if (t.now) sum += t.last![i]!;
      const c = this.carry[i]!;
      // Exact in doubles while every partial sum stays below 2^53 (the terms are nonnegative integers).
      if (c <= MAX_SAFE && sum + Number(c) <= Number.MAX_SAFE_INTEGER) {
        values[SCHED_AT[i]!] = sum + Number(c);
      } else {
        let big = c;
        for (const t of threads.values()) if (t.now) big += BigInt(t.last![i]!);
        values[SCHED_AT[i]!] = Number(big); // the nearest double, ties to even, as C++'s conversion
      }
    }
  }

  threads(): NativeThreadSample[] {
    let names: string[];
    try {
      names = fs.readdirSync(`${this.dir}/task`);
    } catch {
      return [];
    }
    const out: NativeThreadSample[] = [];
    const seen = new Map<number, ThreadFds>();
    const v = new Float64Array(PROC_FIELDS.length);
    for (const name of names) {
      if (!/^[1-9]\d{0,9}$/.test(name)) continue;
      const tid = Number(name);
      if (tid > 0x7fffffff) continue;
      let fds = this.threadFds.get(tid);
      this.threadFds.delete(tid);
      if (fds === undefined) {
        let stat: number;
        try {
          stat = fs.openSync(`${this.dir}/task/${name}/stat`, 'r');
        } catch {
          continue;
        }
        fds = { stat, sched: -1, schedOpenErr: 0 };
      }
      if (fds.sched < 0) {
        // Opened again at every sample until it opens: a failure (EMFILE, a file not there yet) must not cost the
        // thread its figures for life.
        try {
          fds.sched = fs.openSync(`${this.dir}/task/${name}/schedstat`, 'r');
          fds.schedOpenErr = 0;
        } catch (err) {
          fds.schedOpenErr = errnoOf(err);
        }
      }
      v.fill(NaN);
      let error = 0;
      let comm = '';
      try {
        const c = parseStat(this.read(fds.stat), v);
        if (c === null) error = EBADMSG;
        else comm = c;
      } catch (err) {
        error = errnoOf(err);
      }
      if (error === ESRCH || error === ENOENT) {
        closeThread(fds);
        continue;
      }
      let schedError = fds.schedOpenErr;
      let sched: SchedStat | null = null;
      if (fds.sched >= 0) {
        try {
          sched = parseSchedstat(this.read(fds.sched));
          if (sched === null) schedError = EBADMSG;
        } catch (err) {
          schedError = errnoOf(err);
        }
      }
      seen.set(tid, fds);
      const n = (i: number) => (Number.isNaN(v[i]!) ? null : v[i]!);
      out.push({
        tid, comm, error,
        cpu_user_jiffies: n(0), cpu_sys_jiffies: n(1), minflt: n(2), majflt: n(3),
        starttime: n(5), state: n(7), processor: n(8),
        cpu_time_ns: sched?.cpu_time_ns ?? null, run_delay_ns: sched?.run_delay_ns ?? null, run_periods: sched?.run_periods ?? null,
        sched_error: schedError,
      });
    }
    for (const fds of this.threadFds.values()) closeThread(fds);
    this.threadFds = seen;
    return out;
  }

  close(): void {
    for (const fd of this.fds) if (fd >= 0) fs.closeSync(fd);
    for (const t of this.threadFds.values()) closeThread(t);
    this.fds = [];
    this.openErr = [];
    this.threadFds.clear();
    this.dropSched();
    this.schedStarttime = NaN;
  }
}

/** The native sampler when the addon is loaded (or asked for), else the TS one. */
export function createProcSampler(procRoot: string, pid: number, pageSize: number, kind?: SamplerKind, schedInfo = true): { sampler: ProcSampler; kind: SamplerKind } {
  if (!(Number.isInteger(pid) && pid >= 1 && pid <= 0x7fffffff)) throw new RangeError(`Expected pid to be an integer from 1 to 2147483647, got ${pid}`);
  const addon = nativeAddon();
  if (kind === 'native' && !addon) throw new Error('the native proc sampler was requested but the addon is not loaded');
  if (addon && kind !== 'ts') return { sampler: new addon.ProcSampler(procRoot, pid, pageSize, schedInfo), kind: 'native' };
  return { sampler: new TsProcSampler(procRoot, pid, pageSize, schedInfo), kind: 'ts' };
}
