// The sample layout shared with native/core/proc_fields.h: the same names in
// the same order (a test compares them with the addon's procFieldNames()).
export const PROC_FIELDS = [
  'cpu_user_jiffies',
  'cpu_sys_jiffies',
  'minflt',
  'majflt',
  'num_threads',
  'starttime',
  'vsize_bytes',
  'state',
  'processor',
  'rss_bytes',
  'shared_bytes',
  'text_bytes',
  'data_bytes',
  'rss_peak_bytes',
  'swap_bytes',
  'voluntary_ctxt_switches',
  'nonvoluntary_ctxt_switches',
  'io_rchar',
  'io_wchar',
  'io_read_bytes',
  'io_write_bytes',
  // The kernel's CPU clock of the whole process (native sampler only: clock_getcpuclockid).
  'cpu_time_ns',
  // The thread group's taskstats (native sampler only: generic netlink, CAP_NET_ADMIN).
  'run_delay_ns',
  'run_periods',
] as const;
export type ProcFieldName = (typeof PROC_FIELDS)[number];

export const F = Object.fromEntries(PROC_FIELDS.map((n, i) => [n, i])) as Record<ProcFieldName, number>;

export const PROC_FILES = ['stat', 'statm', 'status', 'io'] as const;
export type ProcFileName = (typeof PROC_FILES)[number];

/**
 * A sample's errors array (native/core/proc_fields.h ProcErrorSlot): the errno of each of PROC_FILES, then those of
 * the two sources asked by pid number: the process CPU clock's and taskstats'. Each is 0, an errno, or one of the
 * CLOCK_* codes (the same meaning for both), or one of the TASKSTATS_* codes (taskstats' alone).
 */
export const E_CLOCK = PROC_FILES.length;
export const E_TASKSTATS = E_CLOCK + 1;
export const SAMPLE_ERRORS = E_TASKSTATS + 1;
/** In errors[E_CLOCK] and errors[E_TASKSTATS]: the pure-TS sampler, which can read neither. */
export const CLOCK_TS = -1;
/** procRoot is not /proc, so the kernel's figures for that pid number are not this root's process. */
export const CLOCK_NOT_PROC = -2;
/** stat could not be read after the clock or taskstats, so whose figures were read is unknown. */
export const CLOCK_UNCONFIRMED = -3;
/** /proc shows another pid namespace (readlink /proc/self is not our pid), so its pid numbers are not the kernel's. */
export const CLOCK_OTHER_PID_NS = -4;
/** In errors[E_TASKSTATS]: taskstats answered 0 ns on a CPU, so this kernel keeps no delay accounting for the process. */
export const TASKSTATS_NO_DELAYACCT = -5;
/** In errors[E_TASKSTATS]: more CPU time than the process's CPU clock allows: the kernel counted an exiting thread twice. */
export const TASKSTATS_TWICE = -6;
/** In errors[E_TASKSTATS]: below the figures last written, which were too high (that answer counted an exiting thread twice). */
export const TASKSTATS_FELL = -7;

/** Which file fills each field, to give a null its reason. */
export const FIELD_FILE: Record<ProcFieldName, number> = {
  cpu_user_jiffies: 0, cpu_sys_jiffies: 0, minflt: 0, majflt: 0, num_threads: 0, starttime: 0, vsize_bytes: 0, state: 0, processor: 0,
  rss_bytes: 1, shared_bytes: 1, text_bytes: 1, data_bytes: 1,
  rss_peak_bytes: 2, swap_bytes: 2, voluntary_ctxt_switches: 2, nonvoluntary_ctxt_switches: 2,
  io_rchar: 3, io_wchar: 3, io_read_bytes: 3, io_write_bytes: 3,
  cpu_time_ns: E_CLOCK,
  run_delay_ns: E_TASKSTATS, run_periods: E_TASKSTATS,
};
