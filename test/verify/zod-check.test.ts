// compileCheck answers "zod would accept this" only when zod does: a
// compiled check that passed a value zod refuses would let a bad row
// through verify unseen. Held to zod's safeParse on every row shape and
// every field schema, with arbitrary JSON values and rows mutated field by
// field; and certain on the rows labtel writes (else verify is slow).
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateEpisode } from '../../scripts/bench/gen-episode.js';
import { ROW_SHAPE_SCHEMAS } from '../../src/rows/registry.js';
import { compileCheck } from '../../src/verify/zod-check.js';
import { tmpDir } from '../helpers/tmp.js';

type Row = Record<string, unknown>;

const shapes = Object.values(ROW_SHAPE_SCHEMAS).flat() as z.ZodType[];
const fieldSchemas = shapes.flatMap((s) => Object.values((s as unknown as { _zod: { def: { shape: Record<string, z.ZodType> } } })._zod.def.shape));

/** Values that sit at zod's edges: -0, the safe-integer bound, Infinity from JSON, keys zod treats apart. */
const EDGES: unknown[] = [
  null, undefined, -0, 0, 1, -1, 0.5, 2 ** 53 - 1, 2 ** 53, -(2 ** 53), Infinity, -Infinity, NaN, '', 'S', 'SS', 'started', 'exited', true, false, [], [null], [1, 'a'], {}, { a: null },
  JSON.parse('{"__proto__":{"a":1}}'), JSON.parse('{"constructor":1}'), Object.create(null), new Date(0), [[]],
];

describe('compileCheck', () => {
  it('never accepts what zod refuses: arbitrary JSON and edge values against every row shape and field schema', () => {
    expect(shapes.length).toBeGreaterThan(10);
    expect(fieldSchemas.length).toBeGreaterThan(100);
    const wrong: string[] = [];
    const judge = (schema: z.ZodType, v: unknown) => {
      if (compileCheck(schema)(v) && !schema.safeParse(v).success) wrong.push(`${JSON.stringify(v)} against ${JSON.stringify(z.toJSONSchema(schema, { unrepresentable: 'any' })).slice(0, 200)}`);
    };
    for (const schema of [...shapes, ...fieldSchemas]) for (const v of EDGES) judge(schema, v);
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer({ min: 0, max: fieldSchemas.length - 1 }), (v, i) => {
        judge(fieldSchemas[i]!, v);
      }),
      { numRuns: 3000 },
    );
    expect(wrong.slice(0, 5)).toEqual([]);
  });

  it('never accepts a row zod refuses, and is certain of every row labtel writes: rows of every shape with each field replaced', () => {
    const dir = path.join(tmpDir(), 'ep');
    fs.mkdirSync(dir);
    generateEpisode(dir, 30);
    const rows = fs.readdirSync(dir).filter((f) => f.startsWith('telemetry-')).flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').trim().split('\n').slice(0, 40).map((l) => JSON.parse(l) as Row));
    expect(rows.length).toBeGreaterThan(100);
    const uncertain: string[] = [];
    const wrong: string[] = [];
    for (const row of rows) {
      const own = (ROW_SHAPE_SCHEMAS[row.source as keyof typeof ROW_SHAPE_SCHEMAS] ?? []) as z.ZodType[];
      if (!own.some((s) => compileCheck(s)(row))) uncertain.push(JSON.stringify(row).slice(0, 200));
      for (const k of Object.keys(row)) {
        for (const v of EDGES) {
          const mutated: Row = { ...row, [k]: v };
          if (v === undefined) delete mutated[k];
          for (const s of own) if (compileCheck(s)(mutated) && !s.safeParse(mutated).success) wrong.push(`${k}=${String(v)} in ${JSON.stringify(row).slice(0, 120)}`);
        }
      }
    }
    expect(uncertain).toEqual([]);
    expect(wrong.slice(0, 5)).toEqual([]);
  });

  it('answers "not certain" for what it does not know (a refinement, a transform), leaving it to zod', () => {
    const refined = z.strictObject({ a: z.number() }).refine((r) => r.a > 1);
    const piped = z.string().transform((s) => s.length);
    expect(compileCheck(refined)({ a: 5 })).toBe(false);
    expect(compileCheck(piped)('x')).toBe(false);
    expect(compileCheck(z.strictObject({ a: z.number().int().nonnegative() }))({ a: 5 })).toBe(true);
  });
});
