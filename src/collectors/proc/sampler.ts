// One interface over the native sampler and its pure-TS twin. Both keep the
// process's descriptors open and re-read them at offset 0.
import fs from 'node:fs';
import os from 'node:os';
import { nativeAddon } from '../../native/addon.js';
import type { NativeThreadSample } from '../../native/types.js';
import { CLOCK_TS, E_CLOCK, E_TASKSTATS, PROC_FIELDS, PROC_FILES } from './fields.js';
import { parseIo, parseSchedstat, parseStat, parseStatm, parseStatus, type SchedStat } from './parse.js';

export interface ProcSampler {
  /** 0, or the errno of the process directory (ENOENT: no such process). */
  open(): number;
  /** Fills values (NaN = not collected) and errors (SAMPLE_ERRORS slots: errno per file, 0 = read; then the CPU clock's). */
  sample(values: Float64Array, errors: Int32Array): void;
  threads(): NativeThreadSample[];
  /** 0, or the errno of the last threads() call's listing of task/ (it returned []). Absent from an older addon. */
  threadsError?(): number;
  close(): void;
}

export type SamplerKind = 'native' | 'ts';

const E = os.constants.errno;
const EBADMSG = E.EBADMSG;
const ESRCH = E.ESRCH;
const ENOENT = E.ENOENT;

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

/**
 * Threads whose stat and schedstat stay open between samples, at most (native/core/proc_sampler.h); also at most
 * the soft limit of open files / 16 (keptThreadBound()).
 */
export const MAX_KEPT_THREADS = 256;

let softNofile: number | null | undefined;
/** The soft "Max open files" of /proc/self/limits (read once, at most 4 KiB), null when unlimited or unreadable. */
function softNofileLimit(): number | null {
  if (softNofile !== undefined) return softNofile;
  softNofile = null;
  let fd = -1;
  try {
    fd = fs.openSync('/proc/self/limits', 'r');
    const buf = Buffer.alloc(4096);
    const text = buf.toString('latin1', 0, fs.readSync(fd, buf, 0, buf.length, 0));
    const m = /^Max open files\s+(\d+)\s/m.exec(text);
    if (m) softNofile = Number(m[1]);
  } catch {
    // unreadable: the fixed bound alone (and EMFILE still gives the kept descriptors back)
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
  return softNofile;
}

/** min(MAX_KEPT_THREADS, soft limit of open files / 16): 64 under 1024, 16 under 256, as the native sampler's. */
export function keptThreadBound(): number {
  const soft = softNofileLimit();
  return soft === null ? MAX_KEPT_THREADS : Math.min(MAX_KEPT_THREADS, Math.floor(soft / 16));
}

const EMFILE = E.EMFILE;
const ENFILE = E.ENFILE;

function closeThread(t: ThreadFds): void {
  fs.closeSync(t.stat);
  if (t.sched >= 0) fs.closeSync(t.sched);
}

export class TsProcSampler implements ProcSampler {
  private dir: string;
  private fds: number[] = [];
  private openErr: number[] = [];
  private threadFds = new Map<number, ThreadFds>();
  private buf = Buffer.alloc(8192);

  constructor(procRoot: string, pid: number, private readonly pageSize: number) {
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
    errors[E_CLOCK] = CLOCK_TS; // cpu_time_ns needs clock_getcpuclockid: the native sampler's only
    errors[E_TASKSTATS] = CLOCK_TS; // run_delay_ns, run_periods need generic netlink: the native sampler's only
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
        return;
      }
    }
  }

  private taskError = 0;

  threadsError(): number {
    return this.taskError;
  }

  threads(): NativeThreadSample[] {
    let names: string[];
    const seen = new Map<number, ThreadFds>();
    // Set at the first EMFILE/ENFILE of this sample: every kept descriptor has been given back (retrying the open
    // once), and no thread keeps its files for the rest of it.
    let starved = false;
    const release = (): boolean => {
      const any = seen.size > 0 || this.threadFds.size > 0;
      for (const fds of seen.values()) closeThread(fds);
      seen.clear();
      for (const fds of this.threadFds.values()) closeThread(fds);
      this.threadFds.clear();
      return any;
    };
    const opens = <T>(open: () => T): T => {
      try {
        return open();
      } catch (err) {
        const e = errnoOf(err);
        if ((e !== EMFILE && e !== ENFILE) || starved) throw err;
        starved = true;
        if (!release()) throw err;
        return open();
      }
    };
    try {
      names = opens(() => fs.readdirSync(`${this.dir}/task`));
      this.taskError = 0;
    } catch (err) {
      this.taskError = errnoOf(err);
      return [];
    }
    starved = false;
    const bound = keptThreadBound();
    const out: NativeThreadSample[] = [];
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
          stat = opens(() => fs.openSync(`${this.dir}/task/${name}/stat`, 'r'));
        } catch (err) {
          const e = errnoOf(err);
          if (e === ENOENT || e === ESRCH) continue; // exited between the listing and the open
          // EMFILE, ENFILE, ...: the thread is there; its row says why it has no values.
          out.push({
            tid, comm: '', error: e, cpu_user_jiffies: null, cpu_sys_jiffies: null, minflt: null, majflt: null, starttime: null, state: null, processor: null,
            cpu_time_ns: null, run_delay_ns: null, run_periods: null, sched_error: e,
          });
          continue;
        }
        fds = { stat, sched: -1, schedOpenErr: 0 };
      }
      if (fds.sched < 0) {
        // Opened again at every sample until it opens: a failure (EMFILE, a file not there yet) must not cost the
        // thread its figures for life.
        try {
          fds.sched = opens(() => fs.openSync(`${this.dir}/task/${name}/schedstat`, 'r'));
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
      // At most keptThreadBound() threads keep their two descriptors between samples (none after an EMFILE this
      // sample); the others are opened, read and closed at each sample.
      if (!starved && seen.size < bound) seen.set(tid, fds);
      else closeThread(fds);
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
  }
}

/** The native sampler when the addon is loaded (or asked for), else the TS one. */
export function createProcSampler(procRoot: string, pid: number, pageSize: number, kind?: SamplerKind): { sampler: ProcSampler; kind: SamplerKind } {
  if (!(Number.isInteger(pid) && pid >= 1 && pid <= 0x7fffffff)) throw new RangeError(`Expected pid to be an integer from 1 to 2147483647, got ${pid}`);
  const addon = nativeAddon();
  if (kind === 'native' && !addon) throw new Error('the native proc sampler was requested but the addon is not loaded');
  if (addon && kind !== 'ts') return { sampler: new addon.ProcSampler(procRoot, pid, pageSize), kind: 'native' };
  return { sampler: new TsProcSampler(procRoot, pid, pageSize), kind: 'ts' };
}
