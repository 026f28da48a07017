// The measurement table (src/rows/measurements.ts), derived from the zod
// row schemas: what labtel verify judges rows by. Guards against a
// bookkeeping number (a channel counter, a vCPU thread id, a capture total)
// counting as a measurement, which made collectors that measured nothing
// look alive, and against a source verify judges having no measurement at all.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { hasMeasuredValue, MEASUREMENT_PATHS, MEASUREMENTS, measurementPaths, measuresSomething } from '../../src/rows/measurements.js';
import { measurement } from '../../src/rows/measurement.js';
import { ROW_SHAPES, shapeIndexOf } from '../../src/rows/registry.js';

/** Fields that identify, time or count for the collector itself: never measurements, wherever they appear. */
const BOOKKEEPING = [
  'pid', 'tid', 'comm', 'vcpu', 'starttime', 'process_event', 'interval_s', 'perf_interval_s', 'running_pct', 'run', 'at_ns', 'stream_offset', 'tcpdump_running',
  'pkts_total', 'filter_received', 'kernel_drops', 'if_drops', 'drops_lower_bound', 'saved_bytes', 'if_ifindex', 'if_tx_queue_frames', 'bucket_ms', 'partial', 'distinct_estimated',
  'vcpus', 'poll_ms', 'events_dropped', 'kind', 'command', 'guest_t', 'connected', 'connections', 'connections_refused', 'lines', 'bytes_received',
  'dropped_oversize', 'dropped_rate', 'dropped_invalid_utf8', 'dropped_invalid_json', 'dropped_too_deep', 'dropped_not_object',
  'dropped_byte_rate', 'dropped_total_cap', 'bytes_written', 'dropped_unasked', 'problems', 'cut', 'events_dropped_by', 'empty_buckets_skipped',
];

describe('measurement paths from the row schemas', () => {
  it('every shape of every source is in the table, in ROW_SHAPES order', () => {
    const sources = Object.keys(ROW_SHAPES);
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(MEASUREMENT_PATHS[source as keyof typeof MEASUREMENT_PATHS]!.map((s) => s.title)).toEqual(ROW_SHAPES[source as keyof typeof ROW_SHAPES]!.map((s) => s.title));
    }
  });

  it('no bookkeeping field is a measurement, at any depth', () => {
    const all = Object.values(MEASUREMENTS).flatMap((shapes) => Object.values(shapes!).flat());
    expect(all.length).toBeGreaterThan(0);
    for (const p of all) for (const part of p.split('.')) expect(BOOKKEEPING, p).not.toContain(part);
  });

  it('each interval source verify judges has measurements, and the ones the issue names are as declared', () => {
    for (const source of ['host_proc', 'host_perf', 'pcap', 'netflow', 'qmp', 'guest'] as const) {
      expect(Object.values(MEASUREMENTS[source]!).flat().length, source).toBeGreaterThan(0);
    }
    expect(MEASUREMENTS.pcap).toEqual({
      interval: ['pkts', 'bytes', 'if_rx_packets', 'if_tx_packets', 'if_rx_bytes', 'if_tx_bytes', 'if_rx_dropped', 'if_tx_dropped', 'if_rx_errors', 'if_tx_errors'],
      'capture event': [],
    });
    expect(MEASUREMENTS.guest).toEqual({ line: ['guest'], 'qga osinfo': [], qga: ['result'], channel: [] });
    expect(MEASUREMENTS.qmp!.poll).toEqual(expect.arrayContaining(['status', 'running', 'block.*.rd_bytes', 'block.*.idle_time_ns', 'kvm_vm.*', 'kvm_vcpu.*.*', 'balloon_actual_bytes']));
    expect(MEASUREMENTS.host_perf!.interval).toEqual(expect.arrayContaining(['cycles', 'cpu_clock_ms', 'other.*']));
    expect(MEASUREMENTS.host_proc!.thread).toEqual(['state', 'processor', 'cpu_user_jiffies', 'cpu_sys_jiffies', 'minflt', 'majflt', 'cpu_time_ns', 'run_delay_ns', 'run_periods']);
    expect(MEASUREMENTS.host_proc!.process!.slice(-4)).toEqual(['io_write_bytes', 'cpu_time_ns', 'run_delay_ns', 'run_periods']);
  });

  it('the mark survives describe() and wrappers, and is found through nullable records and lists', () => {
    const s = z.strictObject({
      a: measurement(z.number()).describe('after the mark'),
      b: z.record(z.string(), z.strictObject({ c: measurement(z.number().nullable()), d: z.number() })).nullable(),
      e: z.array(measurement(z.string())).optional(),
      f: z.number(),
    });
    expect(measurementPaths(s)).toEqual([['a'], ['b', '*', 'c'], ['e', '*']]);
  });
});

describe('hasMeasuredValue', () => {
  const paths = [['status'], ['block', '*', 'rd_bytes'], ['guest']];
  it.each([
    ['a string', { status: 'running' }, true],
    ['a zero', { block: { d: { rd_bytes: 0 } } }, true],
    ['a non-empty object', { guest: { cpu: 1 } }, true],
    ['nulls everywhere', { status: null, block: { d: { rd_bytes: null } }, guest: null }, false],
    ['an empty map of devices', { block: {} }, false],
    ['an empty guest object', { guest: {} }, false],
    ['a guest object holding only nulls, at any depth', { guest: { cpu: null, mem: { used: null, free: [null, [], {}] } } }, false],
    ['a guest object with one zero deep inside', { guest: { cpu: null, mem: { used: [null, 0] } } }, true],
    ['a guest object with one false', { guest: { up: false } }, true],
    ['numbers only outside the paths', { poll_ms: 3, vcpus: [{ thread_id: 7 }], block: { d: { wr_bytes: 5 } } }, false],
  ])('%s: %s', (_, row, want) => {
    expect(hasMeasuredValue(row, paths)).toBe(want);
  });
});

describe('measuresSomething', () => {
  const envelope = { source: 'guest', t_mono_ns: 1, seq: 0, available_in_deployment: false };
  it('a guest line with an object is a measurement; a channel row full of counters, or a line that breaks its schema, is not', () => {
    expect(measuresSomething('guest', { ...envelope, kind: 'line', guest: { cpu: 1 }, guest_t: null })).toBe(true);
    expect(measuresSomething('guest', { ...envelope, kind: 'line', guest: { cpu: 1 }, guest_t: null, extra: 1 })).toBe(false);
    const counters = { connections: 3, connections_refused: 0, lines: 0, bytes: 0, dropped_oversize: 0, dropped_rate: 0, dropped_invalid_utf8: 0, dropped_invalid_json: 0, dropped_too_deep: 0, dropped_not_object: 0 };
    expect(measuresSomething('guest', { ...envelope, kind: 'channel', connected: true, ...counters })).toBe(false);
  });

  // Regression for: a qga that answered only guest-get-osinfo (the OS's name, asked once) measured the guest.
  it("a qga answer is a measurement, but guest-get-osinfo's is the OS's identity; its shape stays strict", () => {
    expect(measuresSomething('guest', { ...envelope, kind: 'qga', command: 'guest-get-cpustats', result: [{ cpu: 0, user: 10 }] })).toBe(true);
    expect(measuresSomething('guest', { ...envelope, kind: 'qga', command: 'guest-get-osinfo', result: { name: 'Debian GNU/Linux', 'kernel-release': '6.1.0' } })).toBe(false);
    expect(shapeIndexOf('guest', { ...envelope, kind: 'qga', command: 'guest-get-osinfo', result: { name: 'Debian GNU/Linux' } })).toBe(ROW_SHAPES.guest!.findIndex((s) => s.title === 'qga osinfo'));
    expect(shapeIndexOf('guest', { ...envelope, kind: 'qga', command: 'guest-get-osinfo', result: null, extra: 1 })).toBe(-1);
  });
});
