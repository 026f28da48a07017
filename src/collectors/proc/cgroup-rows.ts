// host_cgroup rows: the target's cgroup v2, every cgroup_interval_ms, read
// beside the proc samples (cgroup-loop.ts). One row shape.
import { z } from 'zod';
import { counter, measured } from '../../schema/common.js';
import { measurement } from '../../rows/measurement.js';

/** A cumulative counter read from a cgroup v2 file: a measurement. Never subtracted across a cgroup_event. */
const m = (description: string) => measurement(counter(`${description} Cumulative: subtract consecutive rows only where cgroup_event is null.`));
const pressure = (resource: 'cpu' | 'memory' | 'io', line: 'some' | 'full') =>
  m(
    `Microseconds in which ${line === 'some' ? 'at least one' : 'every non-idle'} task of the cgroup was stalled waiting for ${resource} (the total= of the "${line}" line of ${resource}.pressure, PSI).${
      resource === 'cpu' && line === 'full' ? ' Kernels before 5.13 write no full line for cpu: null with that reason.' : ''
    }`,
  );

export const CGROUP_EVENTS = ['started', 'moved', 'recreated', 'restarted', 'exited'] as const;

export const hostCgroupRow = z.strictObject({
  pid: z.number().int().positive().describe('Process id of the target whose cgroup this is (as in host_proc).'),
  cgroup_path: z
    .string()
    .max(4096)
    .nullable()
    .describe(
      'The target\'s cgroup v2, as the "0::" line of /proc/<pid>/cgroup gives it: relative to the cgroup v2 root (of labtel\'s cgroup namespace), read again every interval. Written as given even when it is not followed (a path that leaves the mount, "/../.."); null when that line could not be read or parsed, with the reason. 4095 characters is the longest the kernel writes (PATH_MAX less one): a path of exactly that length may have been cut by the kernel, and the directory read may then not be the target\'s cgroup.',
    ),
  cgroup_mount: z
    .string()
    .nullable()
    .describe("Where the cgroup v2 hierarchy is mounted (the cgroup2 line of /proc/self/mountinfo: /sys/fs/cgroup on a pure-v2 host, /sys/fs/cgroup/unified beside v1); null when none is mounted."),
  cgroup_inode: z
    .number()
    .int()
    .nonnegative()
    .nullable()
    .describe("Inode of the cgroup's directory on the cgroup2 mount: with cgroup_path, the cgroup's identity (a cgroup removed and made again under the same name has another). Not a measurement."),
  cgroup_root: z
    .boolean()
    .nullable()
    .describe(
      "Whether cgroup_path is \"/\", the root of the hierarchy (of labtel's cgroup namespace): then the values are the whole host's (every process's pressure and CPU time), not the target's. The demo's QEMU is put in a cgroup of its own so that they are its. Not a measurement; null when cgroup_path is.",
    ),
  cgroup_other_processes: z
    .number()
    .int()
    .nonnegative()
    .nullable()
    .describe(
      "Processes other than the target that the cgroup's cgroup.procs lists (its own members; processes of cgroups below it, whose use its values include too, are not counted): more than 0 means the values are shared with them. Read from the first 64 KiB of the file: past it, null with a reason saying \"at least N\"; null with the reason when the cgroup was not read or the file could not be. Not a measurement.",
    ),
  cgroup_event: z
    .enum(CGROUP_EVENTS)
    .nullable()
    .describe(
      "'started' on the first row; 'moved' when the target is in another cgroup than at the previous row (it moved itself, or was moved), or was seen in another one since (its path is checked at every proc sample: a move away and back between two rows is marked too, though the path is the same; a move shorter than one proc interval, or than one 1 ms batch of the native loop, is not seen); 'recreated' when its cgroup has the same path but is another directory (removed and made again: counters start over); 'restarted' when a pidfile target came back as a new process (host_proc says so too); 'exited' on the row recording the target's exit (every value null). The counters of rows either side of any event are not comparable: never subtract across one. null otherwise.",
    ),
  interval_s: measured('Seconds since the previous row of the same target and cgroup; null on the first and on every row with a cgroup_event.'),
  cpu_pressure_some_total_us: pressure('cpu', 'some'),
  cpu_pressure_full_total_us: pressure('cpu', 'full'),
  memory_pressure_some_total_us: pressure('memory', 'some'),
  memory_pressure_full_total_us: pressure('memory', 'full'),
  io_pressure_some_total_us: pressure('io', 'some'),
  io_pressure_full_total_us: pressure('io', 'full'),
  cpu_usage_us: m('CPU time of the cgroup\'s tasks, µs (cpu.stat usage_usec; kept by the kernel whatever controllers are enabled).'),
  cpu_user_us: m('User-mode CPU time, µs (cpu.stat user_usec).'),
  cpu_system_us: m('Kernel-mode CPU time, µs (cpu.stat system_usec).'),
  cpu_nr_periods: m('Enforcement periods of the cpu controller\'s bandwidth limit that have elapsed (cpu.stat nr_periods). null where the cpu controller is not enabled for the cgroup, with the reason.'),
  cpu_nr_throttled: m('Periods in which the cgroup was throttled: it used up its cpu.max quota (cpu.stat nr_throttled). null as cpu_nr_periods.'),
  cpu_throttled_us: m('Time the cgroup\'s tasks were throttled, µs (cpu.stat throttled_usec). null as cpu_nr_periods.'),
  memory_current_bytes: measurement(
    counter('Memory charged to the cgroup and its descendants, bytes (memory.current): a level, not a counter. null where the memory controller is not enabled for the cgroup (and in the root cgroup, which has none), with the reason.'),
  ),
  memory_events_low: m('Times the cgroup was reclaimed from although under its memory.low protection (memory.events low; this cgroup and its descendants).'),
  memory_events_high: m('Times the cgroup went over memory.high and its tasks were throttled into reclaim (memory.events high).'),
  memory_events_max: m('Times the cgroup\'s usage was about to go over memory.max (memory.events max).'),
  memory_events_oom: m('Times the cgroup hit its limit and allocations failed: the OOM killer was invoked (memory.events oom).'),
  memory_events_oom_kill: m('Processes of the cgroup killed by the OOM killer (memory.events oom_kill).'),
});

export type HostCgroupRow = z.output<typeof hostCgroupRow>;
