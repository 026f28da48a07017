// The report's downsampling: at most about MAX_POINTS points, each bin's
// largest value, and gaps kept: a bin of nulls stays null, a line that
// breaks inside a bin still breaks there, and a line that does not break is
// not cut by another's break.
import { describe, expect, it } from 'vitest';
import { downsample } from '../../src/report/downsample.js';
import type { Panel } from '../../src/report/types.js';

const panel = (cols: Array<Array<number | null>>, xs = cols[0]!.map((_, i) => i)): Panel => ({ id: 'p', title: 'p', unit: 'u', labels: cols.map((_, i) => `s${i}`), notes: [], data: [xs, ...cols] });

describe('downsample', () => {
  it('keeps each bin\'s largest value, so a one-sample spike survives', () => {
    const ys = Array.from({ length: 1000 }, (_, i) => (i === 537 ? 99 : 1));
    const d = downsample(panel([ys]), 100);
    expect(d.data[0]!.length).toBeLessThanOrEqual(100);
    expect(Math.max(...(d.data[1] as number[]))).toBe(99);
  });

  it('a bin with only nulls stays null (regression for: gaps filled by a neighbour bin\'s values)', () => {
    const ys = Array.from({ length: 1000 }, (_, i) => (i >= 500 && i < 530 ? null : 1));
    const d = downsample(panel([ys]), 100);
    const inGap = d.data[0]!.flatMap((x, j) => (x! >= 500 && x! < 530 ? [d.data[1]![j]] : []));
    expect(inGap.length).toBeGreaterThan(0);
    expect(inGap.every((v) => v === null)).toBe(true);
  });

  it('a single null among values inside a bin is kept as a null (regression for: max per bin drew the line across a restart)', () => {
    const ys = Array.from({ length: 1000 }, (_, i): number | null => (i === 505 ? null : 1));
    const d = downsample(panel([ys]), 100);
    expect(d.data[0]!.length).toBeLessThan(120);
    const at = d.data[0]!.indexOf(505);
    expect(at, 'the null is not on the downsampled x').toBeGreaterThanOrEqual(0);
    expect(d.data[1]![at]).toBeNull();
    expect(d.data[1]![at - 1]).toBe(1);
    expect(d.data[1]![at + 1]).toBe(1);
  });

  it('a null at the start of a bin, after a value in the bin before, is kept', () => {
    // 1000 points in 100 bins: bin 50 starts at x 500.
    const ys = Array.from({ length: 1000 }, (_, i): number | null => (i === 500 ? null : 1));
    const d = downsample(panel([ys]), 100);
    expect(d.data[1]![d.data[0]!.indexOf(500)]).toBeNull();
  });

  it('a series that does not break keeps its value where another breaks (no false gap)', () => {
    const a = Array.from({ length: 1000 }, (_, i): number | null => (i === 505 ? null : 1));
    const b = Array.from({ length: 1000 }, (_, i): number | null => 2 + (i % 3));
    const d = downsample(panel([a, b]), 100);
    const bs = d.data[2]!;
    expect(bs.length).toBeGreaterThan(0);
    expect(bs.filter((v) => v === null)).toHaveLength(0);
    expect(Math.max(...(bs as number[]))).toBe(4);
    expect(d.data[1]![d.data[0]!.indexOf(505)]).toBeNull();
  });

  it('a bin with more breaks than it keeps draws no line across them (regression for: past 16 breaks, the rest of the bin became one point joined to the next bin across the nulls)', () => {
    // 2000 points in 40 bins of 50: bin 10 (x 500-549) alternates value and null 25 times, and the nulls go on to x 559.
    const xs = Array.from({ length: 2000 }, (_, i) => i);
    const a = xs.map((i): number | null => (i >= 500 && i < 550 ? (i % 2 ? null : 1) : i >= 550 && i < 560 ? null : 1));
    const b = xs.map((): number | null => 2); // never breaks: keeps its line
    const d = downsample(panel([a, b], xs), 40);
    const out = d.data[0] as number[];
    expect(out.length).toBeLessThan(200);
    // Every segment the page would draw (two adjacent points with values) covers no null of the input after its first value.
    const segments = out.slice(1).map((x, j) => [out[j]!, x] as const).filter((_, j) => d.data[1]![j] !== null && d.data[1]![j + 1] !== null);
    expect(segments.length).toBeGreaterThan(0);
    const across = segments.filter(([from, to]) => {
      const first = a.findIndex((v, i) => i >= from && v !== null);
      return a.slice(first, to + 1).some((v) => v === null);
    });
    expect(across, 'a line drawn across nulls').toEqual([]);
    const bs = d.data[2]!;
    expect(bs.length).toBe(out.length);
    expect(bs.every((v) => v === 2), 'the series that never breaks got a gap').toBe(true);
  });

  it('x stays in order and every output x is an input x', () => {
    const xs = Array.from({ length: 5000 }, (_, i) => i * 0.01);
    const ys = Array.from({ length: 5000 }, (_, i): number | null => (i % 97 === 0 ? null : i));
    const d = downsample(panel([ys], xs), 500);
    const out = d.data[0] as number[];
    expect(out.length).toBeGreaterThan(1);
    const input = new Set(xs);
    expect(out, 'x out of order').toEqual([...out].sort((a, b) => a - b));
    expect(new Set(out).size, 'an x twice').toBe(out.length);
    for (const x of out) expect(input.has(x)).toBe(true);
  });
});
