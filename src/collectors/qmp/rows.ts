// qmp rows: one per poll, QEMU's counters as it reports them (devices and
// vCPUs nested by name), and qmp_event rows: one per QMP event, on the
// episode clock through QEMU's own timestamp.
import { z } from 'zod';
import { counter } from '../../schema/common.js';
import { measurement } from '../../rows/measurement.js';
import { QMP_PROBLEM_KINDS, type QmpProblemKind } from '../../qmp/problems.js';
import { QMP_BOUNDS } from './bounds.js';
import { LATENCY_BOUNDARIES_NS } from './block-histograms.js';
import { KVM_RATE_COUNTERS } from './kvm-rates.js';

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
  ...Object.fromEntries(
    (['rd', 'wr', 'flush'] as const).map((op) => [
      `${op}_latency_histogram`,
      measurement(
        z
          .strictObject({
            boundaries: z.array(z.number().int().nonnegative()).describe('Bin edges, ns, rising.'),
            bins: z.array(z.number().int().nonnegative()).describe('Operations per bin (one more than boundaries): under the first edge, between edges, at or over the last; cumulative since the histogram was set.'),
          })
          .nullable(),
      )
        .optional()
        .describe(
          `${op === 'rd' ? 'Read' : op === 'wr' ? 'Write' : 'Flush'} latency histogram (query-blockstats ${op}_latency_histogram), set by labtel once per device and connection with block-latency-histogram-set, boundaries ${LATENCY_BOUNDARIES_NS.join(', ')} ns (10 us to 1 s); null with why until labtel's set took on this connection (the poll that asks it included: what QEMU kept before is another client's or an earlier connection's, and the set resets it), where QEMU refused or did not answer the set (at most 3 unanswered tries per connection), on devices past the first ${QMP_BOUNDS.devices} set on a connection, or where what QEMU sent is no histogram (at most ${QMP_BOUNDS.histogramBuckets} bins). Absent only in rows of earlier labtel builds.`,
        ),
    ]),
  ) as Record<'rd_latency_histogram' | 'wr_latency_histogram' | 'flush_latency_histogram', z.ZodOptional<z.ZodNullable<z.ZodObject<{ boundaries: z.ZodArray<z.ZodNumber>; bins: z.ZodArray<z.ZodNumber> }, z.core.$strict>>>>,
});

const rate = (counter: string) => measurement(z.number().nonnegative().nullable()).describe(`KVM's ${counter} counter of this vCPU, per second over kvm_rate_window_ms.`);
export const kvmVcpuRates = z.strictObject(Object.fromEntries(KVM_RATE_COUNTERS.map((k) => [`${k}_per_s`, rate(k)])) as Record<`${(typeof KVM_RATE_COUNTERS)[number]}_per_s`, ReturnType<typeof rate>>);

const n = (d: string) => z.number().int().nonnegative().nullable().describe(d);
export const qmpMigration = z.strictObject({
  status: z.string().describe("QEMU's migration status: setup, active, completed, failed, cancelled, ... (at most 64 characters)."),
  total_time_ms: n('Time since the migration started (until it ended), ms.'),
  setup_time_ms: n('Time its setup took, ms.'),
  expected_downtime_ms: n("QEMU's estimate of the downtime while it runs, ms."),
  downtime_ms: n('The downtime it had, ms (once completed).'),
  ram_transferred_bytes: n('RAM sent so far, bytes.'),
  ram_remaining_bytes: n('RAM left to send, bytes.'),
  ram_total_bytes: n("The guest's RAM, bytes."),
  ram_dirty_pages_rate: n('Pages the guest dirties per second (QEMU\'s estimate).'),
  ram_dirty_sync_count: n('Dirty-bitmap syncs so far (one per pass over RAM).'),
  ram_mbps: z.number().nonnegative().nullable().describe('Throughput, Mbit/s (QEMU computes it as a double).'),
});

const b = (d: string) => z.number().int().nonnegative().nullable().describe(d);
export const qmpBalloonGuest = z.strictObject({
  last_update_s: z.number().int().nonnegative().describe("When QEMU last got statistics from the guest (host wall clock, s since the epoch): the same value as the previous poll's means the same statistics, not a new measurement."),
  asked_ms_before: z
    .number()
    .int()
    .nonnegative()
    .describe('How long before this poll labtel asked qom-get guest-stats for these statistics, ms: 0 when this poll asked; on a poll that did not ask (it carries its connection\'s last answer), that answer\'s age.'),
  swap_in_bytes: b('Memory swapped in (stat-swap-in), bytes.'),
  swap_out_bytes: b('Memory swapped out (stat-swap-out), bytes.'),
  major_faults: b('Major page faults (stat-major-faults).'),
  minor_faults: b('Minor page faults (stat-minor-faults).'),
  free_memory_bytes: b('Free memory (stat-free-memory), bytes.'),
  total_memory_bytes: b('Memory the guest sees (stat-total-memory), bytes.'),
  available_memory_bytes: b('Memory available to start new work (stat-available-memory), bytes.'),
  disk_caches_bytes: b('Memory used for disk caches (stat-disk-caches), bytes.'),
  hugetlb_allocations: b('Successful hugetlb page allocations (stat-htlb-pgalloc).'),
  hugetlb_failures: b('Failed hugetlb page allocations (stat-htlb-pgfail).'),
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
    kvm_vcpu_rates: z
      .record(z.string(), kvmVcpuRates)
      .nullable()
      .optional()
      .describe(
        "Per vCPU QOM path, KVM's main exit counters per second, from this poll's kvm_vcpu and the previous poll's of the same QMP connection (kvm_rate_window_ms apart). Null on the first poll of a connection (also after a reconnect or a QEMU restart) and after a poll without kvm_vcpu; one rate is null (with why) when its counter is missing or not a count on either side, or went backwards, and a vCPU QEMU lists under a key shared with another (no qom-path, keyed \"?\", or paths equal in their first 256 characters) has no rates. Never a rate across a gap. Absent only in rows of earlier labtel builds.",
      ),
    kvm_rate_window_ms: z.number().positive().nullable().optional().describe("The time between the two query-stats vcpu answers kvm_vcpu_rates come from, ms (labtel's clock)."),
    balloon_actual_bytes: c('query-balloon: the guest memory the balloon leaves it, bytes; null without a balloon device.'),
    balloon_guest: measurement(qmpBalloonGuest.nullable())
      .optional()
      .describe(
        "The balloon driver's guest memory statistics (qom-get <balloon> guest-stats; labtel sets guest-stats-polling-interval to the poll interval, at least 1 s, once per connection, and asks guest-stats that often: the guest sends nothing newer in between). A poll that does not ask carries the last answer of its connection: the statistics are the guest's as of their last_update_s (the same last_update_s as an earlier row: not a new measurement), and asked_ms_before says how long before the poll labtel asked (as does any reason carried with them). Null without a balloon, when the guest never sent statistics (no driver, or one that sends none), or when last-update is more than 60 s after labtel's wall clock at the answer; a statistic the guest does not provide (QEMU reports -1) is null with why. Absent only in rows of earlier labtel builds.",
      ),
    migration: measurement(qmpMigration.nullable())
      .optional()
      .describe('query-migrate: the migration that runs or last ran; null with why when none has run on this QEMU, and null with "not asked this poll: ..." on a poll that did not ask: after an answer that no migration has run, or that the last one completed, failed or was cancelled, asked with MIGRATION events on, labtel asks again only after a MIGRATION event, a dropped event or a reconnect, and at least every 10 s (the MIGRATION events tell when a migration starts; another QMP client can turn them off: an answer of another status with no MIGRATION event since shows it, and labtel sets them again). Absent only in rows of earlier labtel builds.'),
    migration_events: z
      .literal(true)
      .nullable()
      .optional()
      .describe("Whether labtel turned on QEMU's `events` migration capability on this connection (migrate-set-capabilities), without which QEMU sends no MIGRATION / MIGRATION_PASS events; null with QEMU's answer when it refused (e.g. during a migration; not asked again on that connection), or while it went unanswered (asked after the poll's queries, at most 3 unanswered tries per connection). labtel's setting, not a measurement."),
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
        `What this poll left out to stay within its bounds, by field (block, vcpus, kvm_vm, kvm_vcpu, kvm_vcpu_rates, names, null_reasons), e.g. "block": "10000 devices, kept the first ${QMP_BOUNDS.devices}"; null when nothing was cut (absent only in rows of earlier labtel builds). Bounds: ${QMP_BOUNDS.devices} devices, ${QMP_BOUNDS.vcpus} vCPUs, ${QMP_BOUNDS.statsPerTarget} statistics per VM or vCPU, ${QMP_BOUNDS.histogramBuckets} buckets per histogram, names of ${QMP_BOUNDS.nameChars} characters, ${QMP_BOUNDS.nestedReasons} null_reasons inside block devices and kvm_vcpu_rates, ${QMP_BOUNDS.rowBytes} bytes per row.`,
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
