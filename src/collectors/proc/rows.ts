// host_proc rows: one per sample for the process, and one per thread per
// sample when `threads` is on. Process rows have no tid; thread rows do.
import { z } from 'zod';
import { counter, measured } from '../../schema/common.js';
import { measurement } from '../../rows/measurement.js';
import { THREAD_ROLES } from './thread-role.js';

/** A counter read from /proc about the target: a measurement (identity and timing fields are not). */
const m = (description: string) => measurement(counter(description));
/**
 * A nanosecond counter from schedstat: exact up to 2^53 ns (104 days); past that the kernel's 64-bit count is
 * written as the nearest double (within 2 µs at 2^64), not refused, so a long-lived thread still has its figure.
 */
const ns = (description: string) => measurement(z.number().nonnegative().nullable().describe(`${description} Exact up to 2^53 ns (104 days); past that, the nearest double.`));

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
  cpu_time_ns: ns(
    "Nanoseconds on a CPU of the whole process, from the kernel's CPU clock of the process (clock_getcpuclockid + clock_gettime): every thread's time, threads that have exited included, exact to the nanosecond (the kernel's sum, not a sum of samples), and it carries on across an exec(). The clock is read before stat, through stat's descriptor held since the process was first opened, so a pid reused by another process gives null, never that process's clock. Native sampler only: null in the pure-TypeScript path (with the reason), where cpu_user_jiffies + cpu_sys_jiffies are the same total at tick resolution; null too where procRoot is not /proc or the clock cannot be read (the errno).",
  ),
  run_delay_ns: ns(
    "Nanoseconds the process's threads spent runnable but waiting for a CPU, summed over the whole thread group by the kernel: taskstats' cpu_delay_total for the TGID (generic netlink TASKSTATS_CMD_GET), every live thread's run delay plus what exited threads left behind, an exec() changing nothing. The host-side steal of all QEMU's threads (vCPUs, iothreads, main loop, workers); thread rows (threads: true) give each live thread's. Asked before stat is read through the descriptor held since the process was first opened, so a reused pid gives null, never another process's figures. The kernel counts an exiting thread twice for a moment: an answer found to (its CPU time past the process's CPU clock) is null with that reason; one that is not (a thread of a microsecond) is written, too high, and the next row, whose answer falls below it, is null saying so, the figures starting again from it: a figure written is never below the one before it, except across such a null. Native sampler only, and only with CAP_NET_ADMIN in the initial user namespace (the kernel refuses taskstats otherwise: null with EPERM's reason); null with the reason in the pure-TypeScript path, where procRoot is not /proc, where /proc is another pid namespace's, and on a kernel that keeps no delay accounting (taskstats answers 0 ns on a CPU).",
  ),
  run_periods: measurement(
    z
      .number()
      .nonnegative()
      .nullable()
      .describe("Times the process's threads were given a CPU, summed over the thread group by the kernel (taskstats' cpu_count for the TGID), exited threads included. null as run_delay_ns, and never below the figure written before it, except across a null saying that one was too high. Exact up to 2^53; past that, the nearest double."),
  ),
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
  role: z
    .enum(THREAD_ROLES)
    .describe(
      "What the thread does for the VM, so its cost can be added up by kind: 'vcpu' (vcpu is set), 'main' (tid = pid: QEMU's main loop; any process's main thread), 'io' (an iothread QMP's query-iothreads named, or a thread named 'IO <id>' as QEMU names iothreads with debug-threads=on), 'vhost' (a kernel vhost worker: made by the kernel (PF_USER_WORKER) and named 'vhost-<tid>' after one of the process's threads: virtio-net's vhost on kernels 6.4 and later, which list it among QEMU's threads), 'other' (RCU, worker and helper threads). Names are QEMU's to choose: 'io' by name alone is what QEMU says, QMP's answer what it says under checks.",
    ),
  starttime: counter('Thread start time, clock ticks after boot.'),
  interval_s: measured('Seconds since the previous sample of this thread; null on its first.'),
  state: stateLetter,
  processor: m('CPU the thread last ran on.'),
  cpu_user_jiffies: m('User-mode CPU time, clock ticks.'),
  cpu_sys_jiffies: m('Kernel-mode CPU time, clock ticks.'),
  minflt: m('Minor page faults.'),
  majflt: m('Major page faults.'),
  cpu_time_ns: ns('Nanoseconds on a CPU (task/TID/schedstat, first field: the scheduler\'s sum_exec_runtime; finer than the jiffies). null with a reason where the file is missing or unreadable, or reads "0 0 0" on a kernel that keeps no scheduler statistics (where it keeps them, "0 0 0" is a thread that has not run yet: zeros).'),
  run_delay_ns: ns(
    'Nanoseconds spent runnable but waiting for a CPU (task/TID/schedstat, second field): for a vCPU thread, the time the host made the guest wait, the host-side steal. null as cpu_time_ns.',
  ),
  run_periods: measurement(
    z.number().nonnegative().nullable().describe('Times the thread was given a CPU (task/TID/schedstat, third field). null as cpu_time_ns. Exact up to 2^53; past that, the nearest double.'),
  ),
});

export type ProcProcessRow = z.output<typeof procProcessRow>;
export type ProcThreadRow = z.output<typeof procThreadRow>;
