// Which shape of its source a parsed row passes, as registry's shapeIndexOf
// answers it, with the compiled checks first (src/verify/zod-check.ts) and
// zod's safeParse only where they are not certain. A source named after an
// Object.prototype member ("constructor", "__proto__") is an unknown source.
import type { Source } from '../rows/envelope.js';
import { ROW_SHAPE_SCHEMAS, ROW_SHAPES } from '../rows/registry.js';
import { envelope } from '../rows/envelope.js';
import { compileCheck, type Check } from './zod-check.js';

type Row = Record<string, unknown>;

export interface SourceShapes {
  schemas: Array<{ safeParse(v: unknown): { success: boolean } }>;
  /** Per shape: certainly valid (compiled), and the keys its strict schema allows. */
  certain: Check[];
  keys: Array<Set<string>>;
  /** Per shape, its fields' schemas by key (envelope included). */
  fields: Array<Record<string, unknown>>;
}

const BY_SOURCE = new Map<string, SourceShapes>();

/** The shapes of `source`, or undefined for a source no collector writes. */
export function shapesOf(source: string): SourceShapes | undefined {
  if (!Object.hasOwn(ROW_SHAPE_SCHEMAS, source)) return undefined;
  let hit = BY_SOURCE.get(source);
  if (!hit) {
    const schemas = ROW_SHAPE_SCHEMAS[source as Source]!;
    const shapes = ROW_SHAPES[source as Source]!;
    hit = {
      schemas,
      certain: schemas.map((s) => compileCheck(s)),
      keys: shapes.map((s) => new Set([...Object.keys(envelope), ...Object.keys(s.fields.shape)])),
      fields: schemas.map((s) => (s as unknown as { _zod: { def: { shape: Record<string, unknown> } } })._zod.def.shape),
    };
    BY_SOURCE.set(source, hit);
  }
  return hit;
}

/** Whether every own key of `row` is one `keys` allows (a strict shape refuses the row otherwise). */
export function keysFit(row: object, keys: Set<string>): boolean {
  for (const k in row) if (Object.hasOwn(row, k) && !keys.has(k)) return false;
  return true;
}

/** The index of the first shape of `source` that `row` passes, or -1 (registry's shapeIndexOf, faster). */
export function shapeOf(source: string, row: Row): number {
  const s = shapesOf(source);
  if (!s) return -1;
  for (let i = 0; i < s.schemas.length; i++) {
    if (keysFit(row, s.keys[i]!) && (s.certain[i]!(row) || s.schemas[i]!.safeParse(row).success)) return i;
  }
  return -1;
}
