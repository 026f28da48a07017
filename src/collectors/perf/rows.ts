// host_perf rows: one per perf stat interval.
import { z } from 'zod';
import { measured } from '../../schema/common.js';
import { measurement } from '../../rows/measurement.js';

/** A counter perf counted for the target: a measurement. */
const count = (d: string) => measurement(z.number().nonnegative().nullable().describe(d));

export const perfRow = z
  .strictObject({
    pid: z.number().int().positive().describe('The process perf is attached to.'),
    process_event: z
      .enum(['started', 'restarted'])
      .nullable()
      .describe("As in host_proc: 'started' on the first row for the target process; 'restarted' on the first row after a pidfile target came back as a new process (pid + starttime) and perf re-attached to it (that row counts from the re-attach: never join counts across it). null otherwise."),
    interval_s: z.number().describe("Seconds this row covers (perf's interval; the first row counts from perf's start)."),
    perf_interval_s: z.number().describe("perf's own timestamp for the interval end, seconds since perf started; t_mono_ns is the spawn instant on the episode clock plus this."),
    cycles: count('CPU cycles; null where this host has no hardware counters (`<not supported>`).'),
    instructions: count('Instructions retired.'),
    branches: count('Branch instructions.'),
    branch_misses: count('Mispredicted branches.'),
    cache_references: count('Cache references.'),
    cache_misses: count('Cache misses.'),
    page_faults: count('Page faults (software event).'),
    context_switches: count('Context switches (software event).'),
    cpu_clock_ms: measurement(measured('CPU time of the process in the interval, ms (cpu-clock).')),
    running_pct: z
      .record(z.string(), z.number().nullable())
      .describe('Per counted event, the share of the interval it was on the PMU (100 unless multiplexed); values of events below 100 are perf\'s scaled estimates.'),
    other: z.record(z.string(), measurement(z.number().nullable().describe("The event's count in the interval; null when perf did not count it."))).optional().describe('Requested events beyond the fields above, by normalized name.'),
  })
  .describe('perf stat counters of the target, per interval. Event names are normalized (`cycles:u`, `cpu_core/cycles/` → cycles); a hybrid CPU\'s core and atom counts are summed.');
