// The qmp collector's manifest keys, max_events_per_s in particular.
//
// regression for: no manifest key for the QMP event rate limit (an event
// flood was bounded only by the queue, and written as fast as it came).
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../../src/manifest/load.js';

const base = { output_dir: 'ep1', duration_s: 2, target: { pid: 1234 } };

describe('qmp manifest keys', () => {
  it('max_events_per_s defaults to 100 and takes a positive integer', () => {
    expect(parseManifest({ ...base, collectors: { qmp: { socket: '/run/q.sock' } } }).collectors.qmp).toEqual({
      enabled: true,
      optional: false,
      socket: '/run/q.sock',
      interval_ms: 1000,
      max_events_per_s: 100,
      max_event_bytes_per_s: 262144,
    });
    expect(parseManifest({ ...base, collectors: { qmp: { socket: '/run/q.sock', max_events_per_s: 5 } } }).collectors.qmp!.max_events_per_s).toBe(5);
  });

  it.each([
    ['fast', 'collectors.qmp.max_events_per_s: expected a positive integer, got "fast"'],
    [0, 'collectors.qmp.max_events_per_s: expected a positive integer, got 0'],
    [2.5, 'collectors.qmp.max_events_per_s: expected a positive integer, got 2.5'],
  ])('max_events_per_s %j is refused, named', (v, message) => {
    expect(() => parseManifest({ ...base, collectors: { qmp: { socket: '/run/q.sock', max_events_per_s: v } } })).toThrow(message);
  });
});

describe('qmp manifest keys: max_event_bytes_per_s', () => {
  // regression for: no byte budget for event rows (100 events a second of 64 KiB data each: 6.4 MiB/s on disk).
  it('defaults to 256 KiB and takes a positive integer', () => {
    expect(parseManifest({ ...base, collectors: { qmp: { socket: '/run/q.sock', max_event_bytes_per_s: 4096 } } }).collectors.qmp!.max_event_bytes_per_s).toBe(4096);
  });

  it.each([
    ['lots', 'collectors.qmp.max_event_bytes_per_s: expected a positive integer, got "lots"'],
    [0, 'collectors.qmp.max_event_bytes_per_s: expected a positive integer, got 0'],
  ])('max_event_bytes_per_s %j is refused, named', (v, message) => {
    expect(() => parseManifest({ ...base, collectors: { qmp: { socket: '/run/q.sock', max_event_bytes_per_s: v } } })).toThrow(message);
  });
});
