// Marks a row field as a measurement: a value observed of the target, the
// guest or the network during the episode. Identity (pid, starttime, run),
// timing (interval_s, poll_ms), settings (bucket_ms) and a collector's own
// bookkeeping (totals it carries, drops, connections) are not: they can be
// non-null when nothing was measured. verify and docs/rows.md read the mark.
import { z } from 'zod';

/** The zod metadata key; its value is `true` on a measurement. */
export const MEASUREMENT_KEY = 'measurement';

/** `schema`, marked as a measurement (zod metadata; the rows are unchanged). */
export function measurement<T extends z.ZodType>(schema: T): T {
  return schema.meta({ [MEASUREMENT_KEY]: true }) as T;
}

export function isMeasurement(schema: z.ZodType): boolean {
  return z.globalRegistry.get(schema)?.[MEASUREMENT_KEY] === true;
}

/** A measured value (rows/measured-value.ts, which the collectors' workers import without zod). */
export { isMeasuredValue } from './measured-value.js';
