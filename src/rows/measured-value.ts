// Whether a row holds a measured value, without zod: for the collectors'
// worker threads, which count their value rows and must not load zod and the
// row schemas to do it (one isolate each). The paths come from the schemas
// (rows/measurements.ts derives them); measurement.ts and measurements.ts
// re-export these functions, so there is one copy.

/** A field's path in a row; `*` is any key of a record (a device, an event name) or any element of a list. */
export type MeasurementPath = readonly string[];

/**
 * A measured value: not null, and a container (a guest object, a qga answer, a histogram)
 * only when something in it, at any depth, is not null: `{}`, `[]`, `{"cpu": null}` and
 * `[{"user": null}]` measured nothing. Stops at the first value found; a depth bound keeps
 * a hostile nesting from exhausting the stack (the guest's lines are bounded at 64 levels).
 */
export function isMeasuredValue(v: unknown, depth = 0): boolean {
  if (v === null || v === undefined) return false;
  if (typeof v !== 'object') return true;
  if (depth > 128) return true;
  for (const x of Array.isArray(v) ? v : Object.values(v)) if (isMeasuredValue(x, depth + 1)) return true;
  return false;
}

function valueAt(v: unknown, path: MeasurementPath, i: number): boolean {
  if (i === path.length) return isMeasuredValue(v);
  if (typeof v !== 'object' || v === null) return false;
  const key = path[i]!;
  if (key === '*') return Object.values(v).some((x) => valueAt(x, path, i + 1));
  return Object.hasOwn(v, key) && valueAt((v as Record<string, unknown>)[key], path, i + 1);
}

/** Whether `row` has a measured value at any of `paths`. */
export function hasMeasuredValue(row: unknown, paths: readonly MeasurementPath[]): boolean {
  return paths.some((p) => valueAt(row, p, 0));
}
