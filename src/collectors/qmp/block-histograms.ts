// Block latency histograms: once per device and connection, labtel asks QEMU
// to keep them (block-latency-histogram-set, fixed boundaries), and each
// query-blockstats then carries rd/wr/flush_latency_histogram. What QEMU
// sends back is checked: bins one more than boundaries, every value a count,
// boundaries rising, and at most QMP_BOUNDS.histogramBuckets bins (a hostile
// QEMU could send millions): anything else is null with what was wrong.
import { QMP_BOUNDS } from './bounds.js';
import { isCount, isObject, own, short } from './values.js';

/** The boundaries labtel sets, ns: 10 µs, 100 µs, 1 ms, 10 ms, 100 ms, 1 s (so 7 bins: under 10 µs, ..., 1 s and over). */
export const LATENCY_BOUNDARIES_NS = [10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000] as const;
export const HISTOGRAM_FIELDS = ['rd_latency_histogram', 'wr_latency_histogram', 'flush_latency_histogram'] as const;

export interface Histogram {
  boundaries: number[];
  bins: number[];
}

/** A histogram QEMU sent, or null with why; `tooLong` when it had more bins than kept. */
export function takeHistogram(v: unknown): { h: Histogram | null; why?: string; tooLong?: boolean } {
  if (!isObject(v)) return { h: null, why: `QEMU sent ${short(v)}` };
  const boundaries = own(v, 'boundaries');
  const bins = own(v, 'bins');
  if (!Array.isArray(boundaries) || !Array.isArray(bins)) return { h: null, why: `QEMU sent a histogram without lists of boundaries and bins: ${short(v)}` };
  if (bins.length > QMP_BOUNDS.histogramBuckets || boundaries.length > QMP_BOUNDS.histogramBuckets)
    return { h: null, why: `QEMU sent a histogram of ${bins.length} bins and ${boundaries.length} boundaries, more than the ${QMP_BOUNDS.histogramBuckets} kept: left out`, tooLong: true };
  if (bins.length !== boundaries.length + 1) return { h: null, why: `QEMU sent ${boundaries.length} boundaries and ${bins.length} bins (a histogram has one bin more than boundaries)` };
  const bad = [...boundaries, ...bins].find((x) => !isCount(x));
  if (bad !== undefined) return { h: null, why: `QEMU sent a boundary or bin that is not a count: ${short(bad)}` };
  for (let i = 1; i < boundaries.length; i++) if (boundaries[i] <= boundaries[i - 1]) return { h: null, why: `QEMU sent boundaries that do not rise: ${short(boundaries)}` };
  return { h: { boundaries: boundaries as number[], bins: bins as number[] } };
}
