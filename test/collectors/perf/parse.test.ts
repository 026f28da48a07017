// Golden tests of the perf output parser on recorded and host-shaped outputs.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PerfIntervals, normalizeEvent, parsePerfLine } from '../../../src/collectors/perf/parse.js';
import { DEFAULT_PERF_EVENTS } from '../../../src/collectors/perf/config.js';
import { ROOT } from '../../helpers/cli.js';

const rowsOf = (name: string, events: readonly string[] = DEFAULT_PERF_EVENTS) => {
  const acc = new PerfIntervals(events);
  for (const line of fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'perf', name), 'utf8').split('\n')) {
    const l = parsePerfLine(line);
    if (l) acc.push(l);
  }
  acc.end();
  return acc.take();
};

describe('perf output parser', () => {
  it.each([
    ['cycles:u', 'cycles'],
    ['instructions:uk', 'instructions'],
    ['cpu_core/cycles/', 'cycles'],
    ['cpu_atom/branch-misses/u', 'branch-misses'],
    ['faults', 'page-faults'],
    ['cs', 'context-switches'],
    ['cpu-clock', 'cpu-clock'],
  ])('normalizes %s to %s', (raw, name) => expect(normalizeEvent(raw)).toBe(name));

  it('reads the recorded software-only host: hardware fields null with the reason, software fields counted', () => {
    const rows = rowsOf('recorded-software-only.jsonl');
    expect(rows.length).toBe(6);
    for (const { fields, reasons } of rows) {
      expect(fields.cycles).toBeNull();
      expect(reasons.cycles).toBe('perf: <not supported> on this host');
      expect(fields.cpu_clock_ms).toBeGreaterThan(0);
      expect(typeof fields.page_faults).toBe('number');
      expect(fields.running_pct.cpu_clock_ms).toBe(100);
    }
    // A busy process over a whole 200 ms interval (the last one was cut by the SIGINT).
    const whole = rows.slice(0, -1);
    expect(whole).toHaveLength(5);
    for (const { fields } of whole) expect(fields.cpu_clock_ms).toBeGreaterThan(100);
    expect(rows[1]!.fields.interval_s).toBeCloseTo(rows[1]!.fields.perf_interval_s - rows[0]!.fields.perf_interval_s, 9);
  });

  // Regression for the field's bug: `cycles:u` names under paranoid 2 left every metric null.
  it('maps paranoid-2 suffixed names onto the fields', () => {
    const [a, b] = rowsOf('paranoid2-suffixes.jsonl');
    expect(a!.fields).toMatchObject({ cycles: 412345678, instructions: 987654321, branch_misses: 234567, cache_misses: 45678 });
    expect(b!.fields.interval_s).toBeCloseTo(0.200311, 6);
    expect(a!.reasons).toEqual({});
  });

  it('sums a hybrid CPU\'s core and atom counts', () => {
    const [r] = rowsOf('hybrid.jsonl');
    expect(r!.fields.cycles).toBeCloseTo(412345678, 3);
    expect(r!.fields.instructions).toBeCloseTo(987654321, 3);
  });

  it('keeps the running share of a multiplexed event and gives <not counted> null with the reason', () => {
    const [r] = rowsOf('multiplexed-not-counted.jsonl');
    expect(r!.fields.cycles).toBe(412345678);
    expect(r!.fields.running_pct.cycles).toBe(50);
    expect(r!.fields.branches).toBeNull();
    expect(r!.reasons.branches).toBe('perf: <not counted> (the task did not run in the interval, or the event never got onto the PMU)');
    expect(r!.fields.running_pct.branches).toBeNull();
  });

  it('says when a field was not asked for, and keeps other events under `other`', () => {
    const acc = new PerfIntervals(['page-faults', 'task-clock']);
    for (const e of ['page-faults', 'task-clock']) acc.push({ interval: 0.2, event: e, value: 5, reason: null, pcntRunning: 100 });
    acc.end();
    const [r] = acc.take();
    expect(r!.reasons.cycles).toBe('not in collectors.perf.events');
    expect(r!.fields.other).toEqual({ 'task-clock': 5 });
  });

  it('ignores lines that are not perf JSON (perf\'s own warnings)', () => {
    expect(parsePerfLine('Error: no such process')).toBeNull();
    expect(parsePerfLine('{"foo": 1}')).toBeNull();
  });
});
