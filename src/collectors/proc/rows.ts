// host_proc rows: one per sample for the process, and one per thread per
// sample when `threads` is on. Process rows have no tid; thread rows do.
import { z } from 'zod';
import { counter, measured } from '../../schema/common.js';
import { measurement } from '../../rows/measurement.js';

/** A counter read from /proc about the target: a measurement (identity and timing fields are not). */
const m = (description: string) => measurement(counter(description));

const processEvent = z
  .enum(['started', 'restarted', 'exited'])
  .nullable()
  .describe(
    "'started' on the first row for a process identity (pid, starttime, boot_id); 'restarted' when a pidfile target came back as a new process (counters start over: never subtract across it); 'exited' on the row recording the target's exit (its metrics are null). null otherwise.",
  );

const stateLetter = measurement(z.string().length(1).nullable().describe('State letter from stat (R, S, D, Z, T, t, X, I).'));

export const procProcessRow = z.strictObject({
  pid: z.number().int().positive().describe('Process id of the target.'),
  starttime: counter('Start time in clock ticks after boot: with pid and boot_id, the process identity.'),
  process_event: processEvent,
  interval_s: measured('Seconds since the previous sample of this process; null on the first.'),
  state: stateLetter,
  processor: m('CPU the process last ran on.'),
  cpu_user_jiffies: m('User-mode CPU time, clock ticks (stat utime; episode.json has clk_tck).'),
  cpu_sys_jiffies: m('Kernel-mode CPU time, clock ticks (stat stime).'),
  minflt: m('Minor page faults.'),
  majflt: m('Major page faults.'),
  num_threads: m('Threads in the process.'),
  vsize_bytes: m('Virtual memory size, bytes.'),
  rss_bytes: m('Resident set size, bytes (statm resident × page size).'),
  shared_bytes: m('Resident shared pages, bytes (statm).'),
  text_bytes: m('Text (code) size, bytes (statm).'),
  data_bytes: m('Data + stack size, bytes (statm).'),
  rss_peak_bytes: m('Peak resident set size, bytes (status VmHWM).'),
  swap_bytes: m('Swapped-out memory, bytes (status VmSwap).'),
  voluntary_ctxt_switches: m('Voluntary context switches (status).'),
  nonvoluntary_ctxt_switches: m('Involuntary context switches (status).'),
  io_rchar: m('Bytes read through read(2) and the like (io rchar); null when /proc/PID/io is not readable.'),
  io_wchar: m('Bytes written through write(2) and the like (io wchar).'),
  io_read_bytes: m('Bytes fetched from storage (io read_bytes).'),
  io_write_bytes: m('Bytes sent to storage (io write_bytes).'),
});

export const procThreadRow = z.strictObject({
  pid: z.number().int().positive().describe('Process id the thread belongs to.'),
  tid: z.number().int().positive().describe('Thread id.'),
  comm: z.string().describe("Thread name (QEMU names vCPU threads 'CPU N/KVM' or 'CPU N/TCG')."),
  vcpu: z
    .number()
    .int()
    .nonnegative()
    .nullable()
    .describe("vCPU index when the thread is one of QEMU's vCPU threads: from QMP's query-cpus-fast when the episode has a QMP socket, else from the thread's name; null otherwise."),
  starttime: counter('Thread start time, clock ticks after boot.'),
  interval_s: measured('Seconds since the previous sample of this thread; null on its first.'),
  state: stateLetter,
  processor: m('CPU the thread last ran on.'),
  cpu_user_jiffies: m('User-mode CPU time, clock ticks.'),
  cpu_sys_jiffies: m('Kernel-mode CPU time, clock ticks.'),
  minflt: m('Minor page faults.'),
  majflt: m('Major page faults.'),
});

export type ProcProcessRow = z.output<typeof procProcessRow>;
export type ProcThreadRow = z.output<typeof procThreadRow>;
