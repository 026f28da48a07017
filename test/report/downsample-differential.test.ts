// The binning rewritten for speed (loops in place of a closure per bin) must
// bin exactly as before: the frozen copy of the old downsample
// (test/report/legacy/downsample.ts) and today's, on generated columns with
// gaps, runs of breaks crowding a bin past its 16 cuts, values past the
// largest double, NaN, -0, repeated and uneven x, at small point budgets.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { downsample } from '../../src/report/downsample.js';
import type { Panel } from '../../src/report/types.js';
import { downsample as legacyDownsample } from './legacy/downsample.js';

const value = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }) },
  { weight: 3, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.constantFrom(Infinity, -Infinity, Number.NaN, -0, 0, Number.MAX_VALUE) },
);

/** x rising (repeats allowed), and 1-5 columns of values with runs of nulls. */
const panelArb = fc.integer({ min: 0, max: 600 }).chain((n) =>
  fc.record({
    steps: fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0.001, max: 10, noNaN: true }), fc.constant(0.1)), { minLength: n, maxLength: n }),
    cols: fc.array(
      fc.array(fc.oneof({ weight: 4, arbitrary: value.map((v) => [v]) }, { weight: 1, arbitrary: fc.array(fc.constant(null), { minLength: 1, maxLength: 40 }) }), { minLength: 0, maxLength: n }).map((chunks) => {
        const col = chunks.flat().slice(0, n);
        while (col.length < n) col.push(1);
        return col;
      }),
      { minLength: 1, maxLength: 5 },
    ),
    start: fc.double({ min: -100, max: 1e4, noNaN: true }),
    maxPoints: fc.integer({ min: 1, max: 120 }),
  }),
);

describe('downsample, rewritten for speed, bins as the old one did', () => {
  it('same points, values, gaps and notes on generated columns', () => {
    let binned = 0;
    fc.assert(
      fc.property(panelArb, ({ steps, cols, start, maxPoints }) => {
        let x = start;
        const xs = steps.map((d) => (x += d));
        const p: Panel = { id: 'p', title: 't', unit: 'u', labels: cols.map((_, i) => `s${i}`), notes: ['a note'], data: [xs, ...cols] };
        const want = legacyDownsample(structuredClone(p), maxPoints);
        const got = downsample(structuredClone(p), maxPoints);
        if (xs.length > maxPoints) binned++;
        // Object.is per value: NaN, -0 and Infinity compared as themselves, not as JSON would write them.
        expect(got.notes).toEqual(want.notes);
        expect(got.data.length).toBe(want.data.length);
        got.data.forEach((c, i) => {
          expect(c.length).toBe(want.data[i]!.length);
          c.forEach((v, j) => expect(Object.is(v, want.data[i]![j]), `column ${i} point ${j}: ${v} where ${want.data[i]![j]}`).toBe(true));
        });
      }),
      { numRuns: 400, seed: 19 },
    );
    expect(binned).toBeGreaterThan(200); // most runs were binned, not passed through
  });

  it('a bin crowded past its 16 cuts keeps the old answer, and says so in the notes', () => {
    // 40 alternating value/null points in one bin of 100 bins over 4,000: more than 16 cuts in a bin.
    const xs = Array.from({ length: 4000 }, (_, i) => i);
    const a = xs.map((i) => (i < 40 ? (i % 2 ? null : i) : 1));
    const b = xs.map((i) => (i % 3 ? 2 : null));
    const p: Panel = { id: 'p', title: 't', unit: 'u', labels: ['a', 'b'], notes: [], data: [xs, a, b] };
    const want = legacyDownsample(structuredClone(p), 100);
    expect(want.notes.join()).toContain('more than 16 breaks');
    expect(downsample(structuredClone(p), 100)).toEqual(want);
  });
});
