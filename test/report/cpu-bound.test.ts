// CPU % from two tick readings, held to what the threads could use: the
// report never draws a negative value or more than the cores allow.
import { describe, expect, it } from 'vitest';
import { cpuPercent } from '../../src/report/cpu-bound.js';

describe('cpuPercent', () => {
  it('a value within the bound is as read', () => {
    expect(cpuPercent(5, 0.1, 100, 1)).toEqual({ kind: 'value', pct: 50 });
    expect(cpuPercent(10, 0.1, 100, 1)).toEqual({ kind: 'value', pct: 100 });
    expect(cpuPercent(0, 0.1, 100, 1)).toEqual({ kind: 'value', pct: 0 });
  });

  it('a counter that went backwards is dropped (regression for: a restart drawn as a negative rate)', () => {
    expect(cpuPercent(-300, 0.1, 100, 1)).toMatchObject({ kind: 'dropped', why: 'its CPU counter went back 300 ticks' });
    expect(cpuPercent(-1, 0.1, 100, null)).toMatchObject({ kind: 'dropped' });
  });

  it('up to two ticks over the bound is the counters\' resolution: drawn at the bound, flagged', () => {
    expect(cpuPercent(11, 0.1, 100, 1)).toMatchObject({ kind: 'at_bound', pct: 100 });
    expect(cpuPercent(21, 0.1, 100, 2)).toMatchObject({ kind: 'at_bound', pct: 200 });
  });

  it('further over cannot be true: dropped (regression for: 150% drawn for one thread)', () => {
    expect(cpuPercent(12, 0.1, 100, 1)).toMatchObject({ kind: 'dropped', why: '120% is more than one core could give' });
    expect(cpuPercent(45, 0.1, 100, 2)).toMatchObject({ kind: 'dropped', why: '450% is more than 2 cores could give' });
  });

  it('with no known bound (no thread count, no host CPU count), only negatives are dropped', () => {
    expect(cpuPercent(45, 0.1, 100, null)).toEqual({ kind: 'value', pct: 450 });
  });
});
