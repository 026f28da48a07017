// labtel verify judges only measurements (src/rows/measurements.ts): a
// collector whose rows carry nothing but bookkeeping numbers (a guest
// channel's counters, qmp's vCPU thread ids and events_dropped, pcap's totals
// and saved bytes, perf's running_pct) measured nothing and is failed, with a
// reason that says what was missing. Regression for: any number anywhere in
// a row counted as a value, so such a collector verified ok.
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyEpisode } from '../../src/verify/verify-episode.js';
import { cleanEpisode, copyOf, lastSecond, series, withCollector, type Row } from './crafted-episode.js';

let clean: string;
/** Crafted rows span at most 1 s from here, ending before the clean episode stopped. */
let T0: number;
beforeAll(async () => {
  clean = await cleanEpisode();
  T0 = lastSecond(clean);
});

const STEP = 100e6;

const PERF_COUNTERS = ['cycles', 'instructions', 'branches', 'branch_misses', 'cache_references', 'cache_misses', 'page_faults', 'context_switches', 'cpu_clock_ms'];
const perfRow = (counted: boolean) => (i: number) => ({
  pid: process.pid, process_event: i === 0 ? 'started' : null, interval_s: 0.1, perf_interval_s: 0.1 * (i + 1),
  ...Object.fromEntries(PERF_COUNTERS.map((c) => [c, counted ? 1000 + i : null])),
  running_pct: Object.fromEntries(PERF_COUNTERS.map((c) => [c, counted ? 100 : 0])),
  ...(counted ? {} : { null_reasons: Object.fromEntries(PERF_COUNTERS.map((c) => [c, '<not counted>'])) }),
});

const pcapRow = (delivered: boolean) => () => ({
  run: 0, interval_s: 0.1, tcpdump_running: delivered, pkts: delivered ? 3 : null, bytes: delivered ? 180 : null,
  pkts_total: 0, filter_received: 0, kernel_drops: 0, if_drops: 0, drops_lower_bound: false, saved_bytes: 24,
  ...Object.fromEntries(IF_FIELDS.map((k) => [k, delivered ? 5 : null])),
  ...(delivered ? {} : { null_reasons: { pkts: 'tcpdump was not running', bytes: 'tcpdump was not running', ...Object.fromEntries(IF_FIELDS.map((k) => [k, 'interface tap0 does not exist (gone)'])) } }),
});
/** The interface's counters on a pcap row (measurements) and its ifindex (not one). */
const IF_FIELDS = ['if_ifindex', 'if_tx_queue_frames', 'if_rx_packets', 'if_tx_packets', 'if_rx_bytes', 'if_tx_bytes', 'if_rx_dropped', 'if_tx_dropped', 'if_rx_errors', 'if_tx_errors'];

const NETFLOW_COUNTS = [
  'pkts_in', 'pkts_out', 'bytes_in', 'bytes_out', 'pkts_unmatched', 'bytes_unmatched', 'flows', 'new_flows', 'peers', 'dst_ports', 'tcp_syn', 'tcp_synack', 'tcp_fin', 'tcp_rst',
  'pkts_tcp', 'pkts_udp', 'pkts_icmp', 'pkts_other_ip', 'pkts_arp', 'pkts_non_ip', 'pkts_truncated', 'pkts_malformed', 'pkts_late',
];
const netflowRow = (counted: boolean) => () => ({
  bucket_ms: 100, partial: false, distinct_estimated: false, ...(counted ? Object.fromEntries(NETFLOW_COUNTS.map((c) => [c, 0])) : {}),
});

const vcpus = [{ cpu_index: 0, thread_id: 4321, qom_path: '/machine/unattached/device[0]' }];
const qmpRow = (answered: boolean) => () => ({
  status: answered ? 'running' : null, running: answered ? true : null,
  block: answered ? { disk0: { rd_bytes: 4096, wr_bytes: 0, rd_operations: 1, wr_operations: 0, flush_operations: 0, rd_total_time_ns: 10, wr_total_time_ns: 0, flush_total_time_ns: 0, failed_rd_operations: 0, failed_wr_operations: 0, failed_flush_operations: 0, idle_time_ns: null } } : {},
  vcpus, kvm_vm: null, kvm_vcpu: null, balloon_actual_bytes: null, poll_ms: 0.4, events_dropped: 0,
  ...(answered ? {} : { null_reasons: { status: 'crafted: no answer', running: 'crafted: no answer', kvm_vm: 'not KVM', kvm_vcpu: 'not KVM', balloon_actual_bytes: 'no balloon' } }),
});

const channel = (connections: number, lines: number) => () => ({
  kind: 'channel', connected: connections > 0, connections, connections_refused: 0, lines, bytes: lines * 20,
  dropped_oversize: 0, dropped_rate: 0, dropped_invalid_utf8: 0, dropped_invalid_json: 0, dropped_too_deep: 0, dropped_not_object: 0,
});
/** Channel rows every 100 ms with `between` rows after each (guest lines, qga answers), seq and time in file order. */
function guestRows(connections: number, between: (i: number) => object[]): Row[] {
  const fields: object[] = [];
  for (let i = 0; i < 5; i++) fields.push(channel(connections, 0)(), ...between(i));
  return series('guest', fields.length, T0, STEP / 2, (i) => fields[i]!, false);
}

interface Case {
  name: string;
  config: object;
  rows: (measured: boolean) => Row[];
  detail?: object;
  /** The reason when the rows carry only bookkeeping. */
  reason: string;
}

const CASES: Case[] = [
  { name: 'perf', config: { interval_ms: 100 }, rows: (m) => series('host_perf', 10, T0, STEP, perfRow(m)), reason: '10 rows, every counter null (never counted)' },
  {
    name: 'pcap',
    config: { iface: 'tap0', interval_ms: 100 },
    rows: (m) => series('pcap', 10, T0, STEP, pcapRow(m)),
    reason: '10 interval rows, but pkts and bytes were null in every one: tcpdump never delivered a counted interval (its totals and drop counters are bookkeeping, not measurements)',
  },
  { name: 'netflow', config: { bucket_ms: 100 }, rows: (m) => series('netflow', 5, T0, STEP, netflowRow(m)), reason: '5 buckets, but no packet count had a value' },
  {
    name: 'qmp',
    config: { socket: '/x', interval_ms: 100 },
    rows: (m) => series('qmp', 10, T0, STEP, qmpRow(m)),
    reason: '10 polls answered, but no measured field (status, running, block stats, KVM stats, balloon) had a value',
  },
  {
    name: 'guest_agent',
    config: { socket: '/x', interval_ms: 100 },
    rows: (m) => guestRows(1, (i) => (m ? [{ kind: 'line', guest: { cpu_pct: 12 + i }, guest_t: null }] : [])),
    reason: 'the channel connected (1 connection) but delivered no guest line or qga answer',
  },
];

describe('labtel verify judges measurements only', () => {
  it('proc: rows with only pid, starttime and interval_s (bookkeeping) are failed, saying every measured field was null', () => {
    const keep = new Set(['source', 't_mono_ns', 'seq', 'available_in_deployment', 'pid', 'starttime', 'process_event', 'interval_s']);
    const dir = copyOf(clean, (rows) => rows.map((x) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, keep.has(k) ? v : k === 'null_reasons' ? { state: 'crafted' } : null]))));
    const r = verifyEpisode(dir).collectors.proc!;
    expect(r.rows).toBeGreaterThan(10);
    expect(r).toEqual({ verdict: 'failed', rows: r.rows, reasons: [`${r.rows} host_proc rows, but every measured field (state, CPU time, faults, memory, context switches, I/O) was null`] });
  });

  it('proc: the real clean episode stays ok (but for a silence, if this host stalled the recording)', () => {
    const r = verifyEpisode(copyOf(clean)).collectors.proc!;
    expect(r.rows).toBeGreaterThan(10);
    expect(r.reasons.filter((x) => !/^host_proc rows stop for /.test(x))).toEqual([]);
    expect(r.verdict).toBe(r.reasons.length ? 'degraded' : 'ok');
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s: rows carrying only bookkeeping numbers are failed, saying what was missing', (_, c) => {
    const rows = c.rows(false);
    expect(rows.length).toBeGreaterThan(0);
    const r = verifyEpisode(withCollector(copyOf(clean), c.name, c.config, rows, c.detail)).collectors[c.name]!;
    expect(r.verdict).toBe('failed');
    expect(r.reasons).toContain(c.reason);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s: the same rows with their measurements stay ok', (_, c) => {
    const rows = c.rows(true);
    expect(rows.length).toBeGreaterThan(0);
    expect(verifyEpisode(withCollector(copyOf(clean), c.name, c.config, rows, c.detail)).collectors[c.name]).toEqual({ verdict: 'ok', rows: rows.length, reasons: [] });
  });

  it('netflow: buckets without their counts also break the schema (a valid bucket always carries its counts)', () => {
    const r = verifyEpisode(withCollector(copyOf(clean), 'netflow', { bucket_ms: 100 }, series('netflow', 5, T0, STEP, netflowRow(false)))).collectors.netflow!;
    expect(r.reasons[0]).toMatch(/^5 netflow rows fail their schema \(first: line 1: pkts_in: /);
  });

  it('guest_agent: a channel that never connected, and qga commands that all failed, say so', () => {
    const never = guestRows(0, () => []);
    expect(verifyEpisode(withCollector(copyOf(clean), 'guest_agent', { socket: '/x', interval_ms: 100 }, never)).collectors.guest_agent).toMatchObject({
      verdict: 'failed',
      reasons: ['the channel never connected (0 connections): no guest line or qga answer'],
    });
    const failedQga = guestRows(3, () => [{ kind: 'qga', command: 'guest-get-cpustats', result: null, null_reasons: { result: 'crafted: the command failed' } }]);
    const r = verifyEpisode(withCollector(copyOf(clean), 'guest_agent', { socket: '/x', interval_ms: 100 }, failedQga, { connections: 3 })).collectors.guest_agent!;
    expect(r.verdict).toBe('failed');
    expect(r.reasons).toContain('the channel connected (3 connections) but delivered no guest line or qga answer; 5 qga commands got no answer with a value (every result null, empty, or only nulls)');
  });

  it('guest_agent: a qga answer is a measurement, and so is a guest line with a non-empty object; an empty one is not', () => {
    const qga = guestRows(1, () => [{ kind: 'qga', command: 'guest-get-cpustats', result: [{ type: 'linux', cpu: 0, user: 10 }] }]);
    expect(verifyEpisode(withCollector(copyOf(clean), 'guest_agent', { socket: '/x', interval_ms: 100 }, qga)).collectors.guest_agent!.verdict).toBe('ok');
    const empty = guestRows(1, () => [{ kind: 'line', guest: {}, guest_t: null }]);
    expect(verifyEpisode(withCollector(copyOf(clean), 'guest_agent', { socket: '/x', interval_ms: 100 }, empty)).collectors.guest_agent!.reasons).toContain(
      'the channel connected (1 connection) but delivered no guest line or qga answer; 5 guest lines held no value (an empty object, or only nulls)',
    );
  });

  it('qmp: an empty block map and vCPU thread ids are not measurements, one block counter is', () => {
    const one = series('qmp', 10, T0, STEP, (i) => ({ ...qmpRow(false)(), ...(i === 7 ? { block: { disk0: { ...qmpRow(true)().block.disk0!, rd_bytes: null } } } : {}) }));
    expect(verifyEpisode(withCollector(copyOf(clean), 'qmp', { socket: '/x', interval_ms: 100 }, one)).collectors.qmp).toEqual({ verdict: 'ok', rows: 10, reasons: [] });
  });

  // Regression for: a container measurement counted when it had a key, whatever it held, so a
  // guest whose own agent measured nothing (every value null) and a qga answering lists of
  // nulls made the collector ok.
  it('guest_agent: guest lines holding only nulls, and qga answers that are empty or hold only nulls, measured nothing', () => {
    const answers = [{}, [], [{ cpu: null, user: null }], { 'total-blocks': null }];
    const rows = guestRows(1, (i) => [{ kind: 'line', guest: { cpu: null, mem: { used: null, free: [null] } }, guest_t: null }, { kind: 'qga', command: 'guest-get-cpustats', result: answers[i % answers.length] }]);
    expect(rows.filter((r) => r.kind === 'qga').length).toBe(5);
    const r = verifyEpisode(withCollector(copyOf(clean), 'guest_agent', { socket: '/x', interval_ms: 100 }, rows)).collectors.guest_agent!;
    expect(r.verdict).toBe('failed');
    expect(r.reasons).toContain(
      'the channel connected (1 connection) but delivered no guest line or qga answer; 5 guest lines held no value (an empty object, or only nulls), 5 qga commands got no answer with a value (every result null, empty, or only nulls)',
    );
    // One zero anywhere in the guest's object is a value.
    const zero = guestRows(1, (i) => [{ kind: 'line', guest: { cpu: null, mem: { used: i === 2 ? 0 : null } }, guest_t: null }]);
    expect(verifyEpisode(withCollector(copyOf(clean), 'guest_agent', { socket: '/x', interval_ms: 100 }, zero)).collectors.guest_agent!.verdict).toBe('ok');
  });

  // Regression for: verify counted proc's thread rows, labtel run only its process rows; an
  // episode whose process rows were all null was failed by run and called ok by verify.
  it('proc: thread rows that measure do not make up for process rows that measured nothing', () => {
    const measuredKeys = ['state', 'processor', 'cpu_user_jiffies', 'cpu_sys_jiffies', 'minflt', 'majflt', 'num_threads', 'vsize_bytes', 'rss_bytes', 'shared_bytes', 'text_bytes', 'data_bytes', 'rss_peak_bytes', 'swap_bytes', 'voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches', 'io_rchar', 'io_wchar', 'io_read_bytes', 'io_write_bytes', 'cpu_time_ns', 'run_delay_ns', 'run_periods'];
    const dir = copyOf(clean, (rows) => {
      const out: Row[] = [];
      for (const x of rows) {
        const nulls = Object.fromEntries(measuredKeys.map((k) => [k, null]));
        out.push({ ...x, ...nulls, null_reasons: Object.fromEntries(measuredKeys.map((k) => [k, 'crafted: unreadable'])) });
        out.push({ source: 'host_proc', t_mono_ns: x.t_mono_ns, seq: 0, available_in_deployment: x.available_in_deployment, pid: x.pid, tid: x.pid, comm: 'node', vcpu: null, role: 'main', starttime: x.starttime,
          interval_s: 0.05, state: 'S', processor: 0, cpu_user_jiffies: 10, cpu_sys_jiffies: 2, minflt: 5, majflt: 0, cpu_time_ns: 100_000_000, run_delay_ns: 5_000, run_periods: 12 });
      }
      return out.map((r, i) => ({ ...r, seq: i }));
    });
    const r = verifyEpisode(dir).collectors.proc!;
    const processRows = r.rows / 2;
    expect(processRows).toBeGreaterThan(10);
    expect(r.verdict).toBe('failed');
    expect(r.reasons).toContain(`${processRows} process rows, but in each every measured field (state, CPU time, faults, memory, context switches, I/O) was null: the process itself was never read (only ${processRows} thread rows measured)`);
  });

  // What must hold: a measured zero is a value, and a QEMU that answers only query-status has
  // measured the guest's run state (paused, shutdown, guest-panicked are what an attack does).
  it('zero is a measurement: an idle link (pcap pkts 0, netflow all zero) and a paused QEMU without disks stay ok', () => {
    const idle = series('pcap', 10, T0, STEP, () => ({ ...pcapRow(true)(), pkts: 0, bytes: 0 }));
    expect(verifyEpisode(withCollector(copyOf(clean), 'pcap', { iface: 'tap0', interval_ms: 100 }, idle)).collectors.pcap).toEqual({ verdict: 'ok', rows: 10, reasons: [] });
    const zeros = series('netflow', 5, T0, STEP, netflowRow(true));
    expect(NETFLOW_COUNTS.every((k) => zeros[0]![k] === 0)).toBe(true);
    expect(verifyEpisode(withCollector(copyOf(clean), 'netflow', { bucket_ms: 100 }, zeros)).collectors.netflow).toEqual({ verdict: 'ok', rows: 5, reasons: [] });
    const paused = series('qmp', 10, T0, STEP, () => ({ ...qmpRow(false)(), status: 'paused', running: false, null_reasons: { kvm_vm: 'not KVM', kvm_vcpu: 'not KVM', balloon_actual_bytes: 'no balloon' } }));
    expect(verifyEpisode(withCollector(copyOf(clean), 'qmp', { socket: '/x', interval_ms: 100 }, paused)).collectors.qmp).toEqual({ verdict: 'ok', rows: 10, reasons: [] });
  });

  it('qmp: an empty KVM histogram and a device whose counters are all null measured nothing', () => {
    const empty = series('qmp', 10, T0, STEP, () => ({ ...qmpRow(false)(), kvm_vm: { halt_poll_hist: [] }, kvm_vcpu: { '/machine/cpu0': {} }, block: { disk0: Object.fromEntries(Object.keys(qmpRow(true)().block.disk0!).map((k) => [k, null])) } }));
    const r = verifyEpisode(withCollector(copyOf(clean), 'qmp', { socket: '/x', interval_ms: 100 }, empty)).collectors.qmp!;
    expect(r.verdict).toBe('failed');
    expect(r.reasons).toContain('10 polls answered, but no measured field (status, running, block stats, KVM stats, balloon) had a value');
  });

  it('guest_agent: a qga that answered only guest-get-osinfo named the OS and measured nothing', () => {
    const rows = guestRows(1, (i) => [
      ...(i === 0 ? [{ kind: 'qga', command: 'guest-get-osinfo', result: { name: 'Debian GNU/Linux', 'kernel-release': '6.1.0-18-amd64' } }] : []),
      { kind: 'qga', command: 'guest-get-cpustats', result: null, null_reasons: { result: 'crafted: CommandNotFound' } },
    ]);
    const r = verifyEpisode(withCollector(copyOf(clean), 'guest_agent', { socket: '/x', interval_ms: 100 }, rows)).collectors.guest_agent!;
    expect(r.verdict).toBe('failed');
    expect(r.reasons).toContain(
      'the channel connected (1 connection) but delivered no guest line or qga answer; 1 guest-get-osinfo answer named the OS (identity, not a measurement), 5 qga commands got no answer with a value (every result null, empty, or only nulls)',
    );
  });
});
