// qmp rows: one per poll, QEMU's counters as it reports them (devices and
// vCPUs nested by name), and qmp_event rows: one per QMP event, on the
// episode clock through QEMU's own timestamp.
import { z } from 'zod';
import { counter } from '../../schema/common.js';
import { measurement } from '../../rows/measurement.js';
import { QMP_PROBLEM_KINDS, type QmpProblemKind } from '../../qmp/problems.js';
import { QMP_BOUNDS } from './bounds.js';

/** QEMU's own counters and state: measurements. vcpus (QEMU's configuration), poll_ms and events_dropped (labtel's bookkeeping) are not. */
const c = (d: string) => measurement(counter(d));

export const qmpBlockDevice = z.strictObject({
  rd_bytes: c('Bytes read.'),
  wr_bytes: c('Bytes written.'),
  rd_operations: c('Read operations.'),
  wr_operations: c('Write operations.'),
  flush_operations: c('Flush operations.'),
  rd_total_time_ns: c('Total time spent on reads, ns.'),
  wr_total_time_ns: c('Total time spent on writes, ns.'),
  flush_total_time_ns: c('Total time spent on flushes, ns.'),
  failed_rd_operations: c('Failed reads.'),
  failed_wr_operations: c('Failed writes.'),
  failed_flush_operations: c('Failed flushes.'),
  idle_time_ns: c('Time since the last I/O, ns; null before the device saw any (QEMU omits it).'),
});

const kvmStats = z.record(
  z.string(),
  measurement(z.union([z.number(), z.array(z.number()), z.boolean()]).describe('A KVM statistic as QEMU reports it: a number, a histogram (a list), or a flag.')),
);

const count = z.number().int().nonnegative();

/** Problems by kind (only the kinds seen), each described in docs/rows.md from QMP_PROBLEM_KINDS. */
export const qmpProblems = z
  .strictObject(
    Object.fromEntries(Object.entries(QMP_PROBLEM_KINDS).map(([k, d]) => [k, count.optional().describe(d)])) as Record<QmpProblemKind, z.ZodOptional<typeof count>>,
  )
  .describe(
    'What was wrong in what QEMU sent, counted by kind since the collector started (cumulative, over all connections; a kind not seen is absent). The first of each kind is reported in words (a collector_error row); later ones are only counted here and in summary.json.',
  );

export const qmpRow = z
  .strictObject({
    status: measurement(z.string().nullable()).describe('query-status: running, paused, prelaunch, shutdown, guest-panicked, ...'),
    running: measurement(z.boolean().nullable()).describe('query-status: whether the vCPUs run.'),
    block: z
      .record(z.string(), qmpBlockDevice)
      .nullable()
      .describe('query-blockstats, per device (its id, else its qdev path, else its node name): the counters QEMU reports, cumulative since QEMU started.'),
    vcpus: z
      .array(
        z.strictObject({
          cpu_index: z.number().int().describe('The vCPU index.'),
          thread_id: z.number().int().describe("Its host thread id: QEMU's configuration, not a measurement."),
          qom_path: z.string().describe('Its QOM path (kvm_vcpu is keyed by it).'),
        }),
      )
      .nullable()
      .describe('query-cpus-fast: each vCPU and its host thread id (the proc collector names its thread rows with it).'),
    kvm_vm: kvmStats.nullable().describe('query-stats target vm: KVM statistics by name (QEMU has them only under KVM).'),
    kvm_vcpu: z.record(z.string(), kvmStats).nullable().describe('query-stats target vcpu: KVM statistics by vCPU QOM path, then by name.'),
    balloon_actual_bytes: c('query-balloon: the guest memory the balloon leaves it, bytes; null without a balloon device.'),
    poll_ms: z.number().nonnegative().describe('How long the poll took, ms (QEMU answers from its main loop: a slow answer is a busy or stuck QEMU).'),
    events_dropped: z
      .number()
      .int()
      .nonnegative()
      .describe('Events dropped since the collector started (cumulative): more per second than max_events_per_s or max_event_bytes_per_s, or more than labtel could queue.'),
    events_dropped_by: z
      .record(z.string(), count)
      .nullable()
      .optional()
      .describe('The dropped events by name (cumulative; at most 16 names of at most 64 characters, the rest under "(other)"); null while none were dropped. Written in every row (absent only in rows of earlier labtel builds).'),
    problems: qmpProblems.optional(),
    cut: z
      .record(z.string(), z.string())
      .nullable()
      .optional()
      .describe(
        `What this poll left out to stay within its bounds, by field (block, vcpus, kvm_vm, kvm_vcpu, names, null_reasons), e.g. "block": "10000 devices, kept the first ${QMP_BOUNDS.devices}"; null when nothing was cut (absent only in rows of earlier labtel builds). Bounds: ${QMP_BOUNDS.devices} devices, ${QMP_BOUNDS.vcpus} vCPUs, ${QMP_BOUNDS.statsPerTarget} statistics per VM or vCPU, ${QMP_BOUNDS.histogramBuckets} buckets per histogram, names of ${QMP_BOUNDS.nameChars} characters, ${QMP_BOUNDS.nestedReasons} null_reasons inside block devices, ${QMP_BOUNDS.rowBytes} bytes per row.`,
      ),
  })
  .describe('One per poll (interval_ms), stamped when its last answer arrived (its first question went poll_ms earlier). A query that failed or does not apply gives null, with QEMU\'s answer in null_reasons; one that QEMU lacks is asked once and then recorded as such.');

export const qmpEventRow = z
  .strictObject({
    event: measurement(z.string()).describe("QEMU's event name (STOP, RESUME, SHUTDOWN, RESET, POWERDOWN, BLOCK_IO_ERROR, GUEST_PANICKED, ...); at most 256 characters."),
    data: measurement(z.unknown()).describe("The event's data as QEMU sent it; null when it had none, or when it was larger than 64 KiB (null_reasons says so)."),
    qemu_wall_ns: z.string().nullable().describe("QEMU's timestamp (host wall clock), ns since the epoch as a decimal string; null when QEMU sent none that parses."),
    time_source: z.enum(['qemu', 'received']).describe("t_mono_ns is QEMU's timestamp mapped onto the episode clock ('qemu'), or, without one, when labtel received the event ('received')."),
  })
  .describe('One per QMP event, in the order QEMU sent them.');
