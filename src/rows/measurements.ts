// Which fields of each row shape are measurements, derived once from the zod
// schemas (the `measurement` mark, src/rows/measurement.ts): the table verify
// judges rows by, docs/rows.md shows, and a reader (the report) can use.
import { z } from 'zod';
import type { Source } from './envelope.js';
import { isMeasurement } from './measurement.js';
import { hasMeasuredValue, isMeasuredValue, type MeasurementPath } from './measured-value.js';
import { ROW_SHAPES, shapeIndexOf } from './registry.js';

export { isMeasuredValue };

export type { MeasurementPath };

/** The measurement paths of one row shape (`fields` is the shape's zod object, envelope excluded). */
export function measurementPaths(fields: z.ZodType): MeasurementPath[] {
  const out: MeasurementPath[] = [];
  const walk = (s: z.ZodType, at: string[]) => {
    if (isMeasurement(s)) {
      if (!out.some((p) => p.join('.') === at.join('.'))) out.push(at);
      return;
    }
    if (s instanceof z.ZodNullable || s instanceof z.ZodOptional) walk(s.unwrap() as z.ZodType, at);
    else if (s instanceof z.ZodDefault) walk(s.removeDefault() as z.ZodType, at);
    else if (s instanceof z.ZodObject) for (const [k, v] of Object.entries(s.shape)) walk(v as z.ZodType, [...at, k]);
    else if (s instanceof z.ZodRecord) walk(s.valueType as z.ZodType, [...at, '*']);
    else if (s instanceof z.ZodArray) walk(s.element as z.ZodType, [...at, '*']);
    else if (s instanceof z.ZodUnion) for (const o of s.options) walk(o as z.ZodType, at);
  };
  walk(fields, []);
  return out;
}

/** Per source, per row shape (in ROW_SHAPES' order), the measurement paths. */
export const MEASUREMENT_PATHS: Partial<Record<Source, Array<{ title: string; paths: MeasurementPath[] }>>> = Object.fromEntries(
  Object.entries(ROW_SHAPES).map(([source, shapes]) => [source, shapes!.map((s) => ({ title: s.title, paths: measurementPaths(s.fields) }))]),
);

/** The same table as dotted strings (`block.*.rd_bytes`), by source then shape title: for readers outside TypeScript and for docs. */
export const MEASUREMENTS: Partial<Record<Source, Record<string, string[]>>> = Object.fromEntries(
  Object.entries(MEASUREMENT_PATHS).map(([source, shapes]) => [source, Object.fromEntries(shapes!.map((s) => [s.title, s.paths.map((p) => p.join('.'))]))]),
);

export { hasMeasuredValue };

/** Whether a row of `source` passes its schema and holds a measured value (a row that breaks its schema measures nothing). */
export function measuresSomething(source: Source, row: unknown): boolean {
  const i = shapeIndexOf(source, row);
  return i >= 0 && hasMeasuredValue(row, MEASUREMENT_PATHS[source]![i]!.paths);
}
