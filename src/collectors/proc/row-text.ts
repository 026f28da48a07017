// The fields of a host_proc process row, as one string: no intermediate
// objects on a path that may run a thousand times a second. The native batch
// loop (native/core/proc_batch.cc) spells steady rows the same way, byte for
// byte (test/collectors/proc/batch-differential.test.ts).
import os from 'node:os';
import { errnoName } from '../../util/errno.js';
import { CLOCK_NOT_PROC, CLOCK_OTHER_PID_NS, CLOCK_TS, CLOCK_UNCONFIRMED, E_CLOCK, E_TASKSTATS, F, FIELD_FILE, PROC_FIELDS, PROC_FILES, TASKSTATS_FELL, TASKSTATS_NO_DELAYACCT, TASKSTATS_TWICE } from './fields.js';
import type { ProcProcessRow } from './rows.js';

/** `,"name":` for each field, and the state letter as JSON, prepared once. */
const MEMBER = PROC_FIELDS.map((n) => `,"${n}":`);
const STATE_JSON = Array.from({ length: 256 }, (_, c) => JSON.stringify(String.fromCharCode(c)));

export interface ProcessRowText {
  /** The row's fields, the inside of its JSON object. */
  members: string;
  /** Why each null field is null (not interval_s: that is the caller's); undefined when none is. */
  fieldReasons: Record<string, string> | undefined;
  /** Any field but starttime measured (as verify judges a process row, rows.ts). */
  measured: boolean;
}

export function processRowText(
  pid: number,
  starttime: number | null,
  event: ProcProcessRow['process_event'],
  intervalS: number | null,
  v: Float64Array,
  err: Int32Array,
  procRoot: string,
): ProcessRowText {
  let m = `"pid":${pid},"starttime":${starttime},"process_event":${event === null ? 'null' : `"${event}"`},"interval_s":${intervalS}`;
  let reasons: Record<string, string> | undefined;
  let measured = false;
  for (let i = 0; i < PROC_FIELDS.length; i++) {
    const x = v[i]!;
    if (i !== F.starttime) {
      m += i === F.state ? `,"state":${Number.isNaN(x) ? 'null' : STATE_JSON[x & 0xff]}` : `${MEMBER[i]}${Number.isNaN(x) ? 'null' : x}`;
      if (!Number.isNaN(x)) measured = true;
    }
    if (Number.isNaN(x)) {
      const f = FIELD_FILE[PROC_FIELDS[i]!];
      const e = err[f]!;
      (reasons ??= {})[PROC_FIELDS[i]!] =
        f === E_CLOCK ? clockReason(e, err[0]!, pid) : f === E_TASKSTATS ? taskstatsReason(e, err[0]!, pid) : `${e ? `${errnoName(e)} reading` : 'absent or malformed in'} ${procRoot}/${pid}/${PROC_FILES[f]}`;
    }
  }
  return { members: m, fieldReasons: reasons, measured };
}

/** Why cpu_time_ns is null: errors[E_CLOCK] of the sample (fields.ts), and stat's errno for CLOCK_UNCONFIRMED. */
export function clockReason(e: number, statErr: number, pid: number): string {
  if (e === CLOCK_TS) return 'the pure-TypeScript path cannot read a process\'s CPU clock (clock_getcpuclockid needs the native addon); cpu_user_jiffies + cpu_sys_jiffies are the same total at tick resolution';
  if (e === CLOCK_NOT_PROC) return 'procRoot is not /proc: the kernel\'s CPU clock of pid ' + pid + ' is not that root\'s process';
  if (e === CLOCK_OTHER_PID_NS) return `/proc is not this process's pid namespace (readlink /proc/self is not the agent's pid, e.g. unshare -pf without --mount-proc): the kernel's CPU clock of pid ${pid} is not /proc/${pid}'s process`;
  if (e === CLOCK_UNCONFIRMED) return `stat could not be read after the CPU clock of pid ${pid} (${statErr ? errnoName(statErr) : 'no error'}): the clock may be another process's under a reused pid`;
  return `${errnoName(e)} reading the CPU clock of pid ${pid} (clock_getcpuclockid, clock_gettime)`;
}

/** Why run_delay_ns and run_periods are null: errors[E_TASKSTATS] of the sample (fields.ts), and stat's errno for CLOCK_UNCONFIRMED. */
export function taskstatsReason(e: number, statErr: number, pid: number): string {
  if (e === CLOCK_TS) return 'the pure-TypeScript path cannot ask taskstats (generic netlink needs the native addon); with threads: true, each thread row carries its own run_delay_ns';
  if (e === CLOCK_NOT_PROC) return `procRoot is not /proc: the kernel's taskstats of pid ${pid} are not that root's process`;
  if (e === CLOCK_OTHER_PID_NS) return `/proc is not this process's pid namespace (readlink /proc/self is not the agent's pid, e.g. unshare -pf without --mount-proc): the kernel's taskstats of pid ${pid} are not /proc/${pid}'s process`;
  if (e === CLOCK_UNCONFIRMED) return `stat could not be read after the taskstats of pid ${pid} (${statErr ? errnoName(statErr) : 'no error'}): they may be another process's under a reused pid`;
  if (e === TASKSTATS_NO_DELAYACCT) return `taskstats of pid ${pid} answered 0 ns on a CPU: this kernel keeps no delay accounting for it (built without CONFIG_TASK_DELAY_ACCT, or before Linux 5.14 booted with nodelayacct)`;
  if (e === TASKSTATS_TWICE) return `taskstats of pid ${pid} gave more CPU time than the process's CPU clock allows: the kernel counted a thread that was exiting twice, so this sample's run delay would be too high`;
  if (e === TASKSTATS_FELL) return `taskstats of pid ${pid} gave less than the run delay or run periods last written: that earlier answer counted a thread that was exiting twice, so it was too high; the figures after this row start again from this answer`;
  if (e === os.constants.errno.EPERM) return `EPERM asking taskstats of pid ${pid}: the kernel answers only an agent with CAP_NET_ADMIN in the initial user namespace (root in a user namespace, or in a container without NET_ADMIN, is refused); with threads: true, each thread row carries its own run_delay_ns`;
  if (e === os.constants.errno.ENOENT) return `this kernel has no taskstats (generic netlink family TASKSTATS, CONFIG_TASKSTATS): run_delay_ns of the whole process cannot be read; with threads: true, each thread row carries its own`;
  return `${errnoName(e)} asking taskstats of pid ${pid} (generic netlink TASKSTATS_CMD_GET)`;
}
