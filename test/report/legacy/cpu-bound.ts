// Frozen copy of src/report/cpu-bound.ts as of da5b2d9 (before the one-pass report): the old path, kept only for
// test/report/one-pass.test.ts, which holds the new report to its bytes. Do not edit.
// CPU use from two readings of a tick counter (utime + stime) of the same
// process or thread, as % of one core, held to what it could have used:
// never negative, never more than `cores` cores over the interval.
//
// The kernel gives utime and stime in whole clock ticks, each rounded down,
// and their sum follows the true CPU time to within two ticks: a reading up
// to two ticks over the bound is the counters' resolution (drawn at the
// bound, and counted in the panel's notes); one further over cannot be true
// and is dropped (null, with a marker). A counter that went backwards is not
// the same counter: dropped too.

export type CpuReading =
  | { kind: 'value'; pct: number }
  | { kind: 'at_bound'; pct: number; read: number }
  | { kind: 'dropped'; read: number; why: string };

/** Whole ticks by which the utime + stime sum may read over the true CPU time. */
export const TICK_SLACK = 2;

export function cpuPercent(deltaTicks: number, dtS: number, clkTck: number, cores: number | null): CpuReading {
  const read = (deltaTicks / clkTck / dtS) * 100;
  if (deltaTicks < 0) return { kind: 'dropped', read, why: `its CPU counter went back ${-deltaTicks} ticks` };
  if (cores === null) return { kind: 'value', pct: read };
  const bound = cores * 100;
  if (read <= bound * (1 + 1e-9)) return { kind: 'value', pct: Math.min(read, bound) }; // (floating-point rounding of an exact bound)
  if (deltaTicks < dtS * clkTck * cores + TICK_SLACK) return { kind: 'at_bound', pct: bound, read };
  return { kind: 'dropped', read, why: `${read.toFixed(0)}% is more than ${cores === 1 ? 'one core' : `${cores} cores`} could give` };
}
