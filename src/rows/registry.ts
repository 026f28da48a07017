// Every row shape labtel writes, by source: each collector's from its spec (src/collectors/catalog.ts).
// docs/rows.md is generated from here (npm run docs) and a test fails on drift.
import { z } from 'zod';
import { agentEventRow, agentSelfRow } from './agent-rows.js';
import { CATALOG } from '../collectors/catalog.js';
import type { RowShape } from '../collectors/collector-spec.js';
import { envelope, type Source } from './envelope.js';

export type { RowShape };

/** Each collector's sources and shapes, from its spec in the catalog, then the agent's own rows. */
export const ROW_SHAPES: Partial<Record<Source, RowShape[]>> = {
  ...Object.fromEntries(CATALOG.flatMap((spec) => spec.rows.map((r) => [r.source, r.shapes]))),
  agent: [
    { title: 'event', fields: agentEventRow },
    { title: 'self', fields: agentSelfRow },
  ],
};

const withEnvelope = (source: Source, fields: z.ZodObject) =>
  z.strictObject({ ...envelope, source: z.literal(source), ...fields.shape });

/** Full row schemas (envelope + fields) by source and shape, in ROW_SHAPES' order: which one a row passes is its shape. */
export const ROW_SHAPE_SCHEMAS: Partial<Record<Source, z.ZodType[]>> = Object.fromEntries(
  Object.entries(ROW_SHAPES).map(([source, shapes]) => [source, shapes!.map((s) => withEnvelope(source as Source, s.fields))]),
);

/** Per source and shape, the keys its strict schema allows (envelope included). */
const SHAPE_KEYS: Partial<Record<Source, Array<Set<string>>>> = Object.fromEntries(
  Object.entries(ROW_SHAPES).map(([source, shapes]) => [source, shapes!.map((s) => new Set([...Object.keys(envelope), ...Object.keys(s.fields.shape)]))]),
);

/** Whether every key of `row` is one `keys` allows: a strict shape refuses the row otherwise, so it need not be parsed. */
function keysFit(row: object, keys: Set<string>): boolean {
  for (const k in row) if (Object.hasOwn(row, k) && !keys.has(k)) return false;
  return true;
}

/**
 * The index in ROW_SHAPES[source] of the shape `row` passes (envelope included), or -1 (an unknown
 * source, or it breaks every shape). Shapes whose keys cannot fit the row are not parsed: a failed
 * zod parse builds its error, and verify runs this on every row of files of gigabytes.
 */
export function shapeIndexOf(source: Source, row: unknown): number {
  const shapes = ROW_SHAPE_SCHEMAS[source];
  if (!shapes || typeof row !== 'object' || row === null) return -1;
  const keys = SHAPE_KEYS[source]!;
  for (let i = 0; i < shapes.length; i++) if (keysFit(row, keys[i]!) && shapes[i]!.safeParse(row).success) return i;
  return -1;
}

/** Full row schemas (envelope + fields) by source, for validating rows. */
export const ROW_SCHEMAS: Partial<Record<Source, z.ZodType>> = Object.fromEntries(
  Object.entries(ROW_SHAPE_SCHEMAS).map(([source, full]) => [
    source,
    full!.length === 1 ? full![0]! : z.union(full as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]]),
  ]),
);
