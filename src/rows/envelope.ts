// The fields every row carries, whatever its source.
import { z } from 'zod';
import { CATALOG, type CatalogSpec } from '../collectors/catalog.js';

/** Row sources, as the field's consumers already read them: each collector's, in the catalog's order, then the agent's own. */
export type Source = CatalogSpec['rows'][number]['source'] | 'agent';
export const SOURCES = [...new Set(CATALOG.flatMap((s) => s.rows.map((r) => r.source))), 'agent'] as unknown as readonly [Source, ...Source[]];

export const envelope = {
  source: z.enum(SOURCES).describe('Which collector view the row belongs to.'),
  t_mono_ns: z.number().int().describe('Nanoseconds since the episode origin (CLOCK_MONOTONIC); see docs/clock.md.'),
  seq: z.number().int().nonnegative().describe('Per source, from 0, with no gaps.'),
  available_in_deployment: z
    .boolean()
    .describe('Whether this source exists on production hosts too; a per-collector default the manifest may override.'),
  null_reasons: z
    .record(z.string(), z.string())
    .optional()
    .describe('For fields that are null: field name to the reason it was not collected. Absent when no field is null.'),
};

