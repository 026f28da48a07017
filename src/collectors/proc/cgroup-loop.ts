// host_cgroup rows: the target's cgroup v2 read every cgroup_interval_ms on
// the proc loop's thread. The proc loop tells it, after each sample, which
// process it sampled (null once the target exited); it reads when its own
// deadline has passed, so its rows come at most as often as proc samples.
import fs from 'node:fs';
import type { EpisodeClock } from '../../clock/origin.js';
import type { JsonlWriter } from '../../rows/jsonl-writer.js';
import { statNumber } from './parse.js';
import { parseMountinfo, parseProcCgroup, quote, type CgroupMounts } from './cgroup-parse.js';
import { cgroupDir, shownDir } from './cgroup-path.js';
import { CGROUP_VALUE_FIELDS, readCgroup } from './cgroup-read.js';
import { readBounded } from '../../util/read-bounded.js';

/** Bytes of /proc/<pid>/cgroup read at most: one line per hierarchy, each with a path up to PATH_MAX. */
export const MAX_PROC_CGROUP = 16384;
const MAX_MOUNTINFO = 4 << 20;
/** Bytes of the cgroup's cgroup.procs read at most (a pid a line: some 9,000 processes; the root cgroup of a busy host has more). */
export const MAX_CGROUP_PROCS = 64 << 10;
const EXITED = 'the target process exited';

export type CgroupEvent = 'started' | 'moved' | 'recreated' | 'restarted' | 'exited';

/** The process the proc loop sampled: pid and starttime (null when its stat could not be read). */
export interface CgroupTarget {
  pid: number;
  starttime: number | null;
}

export interface CgroupSamplerOptions {
  writer: JsonlWriter;
  clock: EpisodeClock;
  intervalMs: number;
  procRoot?: string;
  /** /proc/self/mountinfo's text (tests); read once otherwise. */
  mountinfo?: string;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export class CgroupSampler {
  /** host_cgroup rows written. */
  rows = 0;
  private readonly procRoot: string;
  private readonly period: number;
  private readonly mounts: CgroupMounts;
  /** Why no cgroup v2 is followed at all (none mounted, mountinfo unreadable), or null. */
  private readonly noMount: string | null;
  private mountDev: bigint | null = null;
  private cur: CgroupTarget | null = null;
  private fd: number | null = null;
  /** Why `fd` is null for this target for good (the pid is another process now). */
  private gone: string | null = null;
  private pending: CgroupEvent | null = 'started';
  private next = 0;
  private prevT: number | null = null;
  private lastPath: string | null = null;
  private lastIno: string | null = null;
  /** The path was seen other than lastPath between two rows (checked at every beside() call): the next row says 'moved'. */
  private movedBetween = false;

  constructor(private readonly o: CgroupSamplerOptions) {
    this.procRoot = o.procRoot ?? '/proc';
    this.period = o.intervalMs * 1e6;
    let info = o.mountinfo;
    let why: string | null = null;
    if (info === undefined) {
      const r = readBounded('/proc/self/mountinfo', MAX_MOUNTINFO);
      if ('code' in r) why = `${r.code} reading /proc/self/mountinfo`;
      info = 'text' in r ? r.text : '';
    }
    this.mounts = parseMountinfo(info);
    const v2 = this.mounts.v2;
    // (A mount namespace of its own may lack what the host has: `ip netns exec` remounts /sys, and with it /sys/fs/cgroup.)
    if (!why && !v2) why = "no cgroup v2 hierarchy is mounted in labtel's mount namespace (/proc/self/mountinfo has no cgroup2 line)";
    if (!why && v2) {
      try {
        this.mountDev = fs.statSync(v2.mountPoint, { bigint: true }).dev;
      } catch (e) {
        why = `${(e as NodeJS.ErrnoException).code} reading the cgroup2 mount ${v2.mountPoint}`;
      }
    }
    this.noMount = why;
  }

  /** After each proc sample: the process sampled, or null once the target exited. Reads when due, at once for a new process. */
  beside(target: CgroupTarget | null): void {
    if (target === null) {
      if (this.cur) this.exited();
      return;
    }
    const cur = this.cur;
    if (!cur || cur.pid !== target.pid || (cur.starttime !== null && target.starttime !== null && cur.starttime !== target.starttime)) {
      if (cur) this.pending = 'restarted';
      this.take(target);
      this.sample();
      return;
    }
    if (cur.starttime === null) cur.starttime = target.starttime;
    if (this.o.clock.now() >= this.next) this.sample();
    else this.peek();
  }

  /**
   * Between rows: the target's cgroup path only (one read of the held descriptor, ~16 µs), so that a move away and back
   * between two rows is not missed (the values would span two cgroups). A move shorter than one call apart is not seen.
   */
  private peek(): void {
    if (this.fd === null || this.lastPath === null || this.movedBetween) return;
    const r = readBounded(this.fd, MAX_PROC_CGROUP, (b) => strictUtf8.decode(b));
    if ('code' in r) return; // the row says it when due
    const p = parseProcCgroup(r.text, `${this.procRoot}/${this.cur!.pid}/cgroup`, r.cut);
    if ('path' in p && p.path !== this.lastPath) this.movedBetween = true;
  }

  close(): void {
    this.closeFd();
    this.cur = null;
  }

  private closeFd(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  /** A new target: its /proc/<pid>/cgroup, held open (reads of it fail with ESRCH once it exits, whatever reuses the pid). */
  private take(target: CgroupTarget): void {
    this.closeFd();
    this.cur = { ...target };
    this.gone = null;
    this.prevT = null;
    this.lastPath = this.lastIno = null;
    this.movedBetween = false;
  }

  /** Opens the target's cgroup file; checks, once it is open, that the pid is still the target's (its starttime). */
  private open(): string | null {
    const { pid, starttime } = this.cur!;
    const file = `${this.procRoot}/${pid}/cgroup`;
    try {
      this.fd = fs.openSync(file, fs.constants.O_RDONLY);
    } catch (e) {
      return `${(e as NodeJS.ErrnoException).code} opening ${file}`;
    }
    if (starttime === null) return null;
    let now = NaN;
    try {
      now = statNumber(fs.readFileSync(`${this.procRoot}/${pid}/stat`, 'latin1'), 22);
    } catch {
      // gone: NaN
    }
    if (now === starttime) return null;
    this.closeFd();
    this.gone = `${this.procRoot}/${pid} is no longer the target (starttime ${Number.isNaN(now) ? 'unreadable' : now}, not ${starttime}): it exited`;
    return this.gone;
  }

  private schedule(t: number): void {
    this.next = this.next === 0 || this.next + this.period <= t ? t + this.period : this.next + this.period;
  }

  private sample(): void {
    const t = this.o.clock.now();
    this.schedule(t);
    const { pid } = this.cur!;
    const file = `${this.procRoot}/${pid}/cgroup`;
    let why = this.gone ?? (this.fd === null ? this.open() : null);
    let path: string | null = null;
    if (!why) {
      const r = readBounded(this.fd!, MAX_PROC_CGROUP, (b) => strictUtf8.decode(b));
      if ('code' in r) {
        // The target exited: the proc loop says so next (its exited row, then ours).
        if (r.code === 'ESRCH') return;
        why = r.code === 'ERR_ENCODING_INVALID_ENCODED_DATA' ? `${file} is not UTF-8` : `${r.code} reading ${file}`;
      } else {
        const p = parseProcCgroup(r.text, file, r.cut);
        if ('why' in p) why = p.why;
        else path = p.path;
      }
    }
    const pathWhy = why;
    let dir: string | null = null;
    const v2 = this.mounts.v2;
    if (!why && this.noMount) why = this.noMount;
    if (!why && v2) {
      const d = cgroupDir(v2, path!, file);
      if ('why' in d) why = d.why;
      else dir = d.dir;
    }
    let ino: string | null = null;
    let values: Record<string, number | null> = {};
    let reasons: Record<string, string> = {};
    if (dir !== null) {
      const at = this.inode(dir);
      if (typeof at === 'object') why = at.why;
      else {
        const read = readCgroup(dir, { root: path === '/', v1: this.mounts.v1 });
        // Removed and made again under the same name while read: the values may be of either.
        if (this.inode(dir) !== at) why = `the cgroup ${shownDir(dir)} was removed or replaced while it was read`;
        else ((ino = at), (values = read.values), (reasons = read.reasons));
      }
    }
    let others: number | null = null;
    if (ino !== null) {
      const o = otherProcesses(dir!, pid);
      if (typeof o === 'number') others = o;
      else reasons.cgroup_other_processes = o.why;
    } else reasons.cgroup_other_processes = why ?? 'the cgroup was not read';
    if (why) for (const f of CGROUP_VALUE_FIELDS) reasons[f] = path === null ? `the target's cgroup is not known: ${why}` : why;

    let event: CgroupEvent | null = this.pending;
    // Moved at this row, or away and back since the last one (seen by peek()): the values span another cgroup's time.
    if (event === null && path !== null && this.lastPath !== null && (path !== this.lastPath || this.movedBetween)) event = 'moved';
    else if (event === null && ino !== null && this.lastIno !== null && path === this.lastPath && ino !== this.lastIno) event = 'recreated';
    this.movedBetween = false;
    this.pending = null;
    if (path !== null) {
      this.lastIno = ino ?? (path === this.lastPath ? this.lastIno : null);
      this.lastPath = path;
    }
    let interval: number | null = null;
    if (ino === null) reasons.interval_s = 'the cgroup was not read';
    else if (event !== null) reasons.interval_s = event === 'started' ? 'first row' : `first row after the cgroup_event (${event})`;
    else if (this.prevT === null) reasons.interval_s = 'the previous row did not read this cgroup';
    else interval = (t - this.prevT) / 1e9;
    this.prevT = ino === null ? null : t;
    if (path === null) reasons.cgroup_path = pathWhy ?? 'not read';
    if (ino === null && !reasons.cgroup_inode) reasons.cgroup_inode = why ?? 'not read';
    if (!v2) reasons.cgroup_mount = this.noMount!;
    const inode = ino === null ? null : Number(ino);
    const row: Record<string, unknown> = {
      pid, cgroup_path: path, cgroup_mount: v2?.mountPoint ?? null, cgroup_inode: inode !== null && Number.isSafeInteger(inode) ? inode : null,
      cgroup_root: path === null ? null : path === '/', cgroup_other_processes: others, cgroup_event: event, interval_s: interval,
    };
    if (path === null) reasons.cgroup_root = reasons.cgroup_path!;
    if (ino !== null && row.cgroup_inode === null) reasons.cgroup_inode = `inode ${ino} is past 2^53`;
    for (const f of CGROUP_VALUE_FIELDS) row[f] = values[f] ?? null;
    this.o.writer.write('host_cgroup', t, row, Object.keys(reasons).length ? reasons : undefined);
    this.rows++;
  }

  /** The cgroup directory's inode (as text: it is a 64-bit id), or why it is not followed. */
  private inode(dir: string): string | { why: string } {
    let st: fs.BigIntStats;
    try {
      st = fs.lstatSync(dir, { bigint: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return { why: code === 'ENOENT' ? `the cgroup ${shownDir(dir)} is gone (removed since the target's /proc/<pid>/cgroup was read)` : `${code} reading ${shownDir(dir)}` };
    }
    if (!st.isDirectory() || st.dev !== this.mountDev) return { why: `${shownDir(dir)} is not a cgroup directory of the cgroup2 mount (another file system, or not a directory): not followed` };
    return String(st.ino);
  }

  private exited(): void {
    const row: Record<string, unknown> = { pid: this.cur!.pid, cgroup_path: null, cgroup_mount: this.mounts.v2?.mountPoint ?? null, cgroup_inode: null, cgroup_root: null, cgroup_other_processes: null, cgroup_event: 'exited', interval_s: null };
    const reasons: Record<string, string> = { cgroup_path: EXITED, cgroup_inode: EXITED, cgroup_root: EXITED, cgroup_other_processes: EXITED, interval_s: EXITED };
    if (row.cgroup_mount === null) reasons.cgroup_mount = this.noMount ?? 'none';
    for (const f of CGROUP_VALUE_FIELDS) (row[f] = null), (reasons[f] = EXITED);
    this.o.writer.write('host_cgroup', this.o.clock.now(), row, reasons);
    this.rows++;
    this.close();
    this.pending = 'restarted';
    this.next = 0;
  }
}

/** How many processes other than `pid` the cgroup at `dir` lists in its cgroup.procs (its own members, not its descendants'), or why not known. */
export function otherProcesses(dir: string, pid: number): number | { why: string } {
  const file = `${shownDir(dir)}/cgroup.procs`;
  const r = readBounded(`${dir}/cgroup.procs`, MAX_CGROUP_PROCS);
  if ('code' in r) return { why: `${r.code} reading ${file}` };
  // A cut read: the last line may be part of a pid; every whole line before it is a process.
  const lines = r.text.split('\n');
  const whole = r.cut ? lines.slice(0, -1) : lines.filter((l, i) => i < lines.length - 1 || l !== '');
  let others = 0;
  for (const l of whole) {
    if (!/^[1-9][0-9]{0,9}$/.test(l)) return { why: `malformed ${file}: a line is ${quote(l)}, not a pid` };
    if (Number(l) !== pid) others++;
  }
  if (r.cut) return { why: `at least ${others} other processes: ${file} is longer than ${MAX_CGROUP_PROCS} bytes, cut (read no further)` };
  return others;
}
