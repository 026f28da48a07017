// The fields every row carries, whatever its source.
import { z } from 'zod';

/** Row sources, as the field's consumers already read them. */
export const SOURCES = ['host_proc', 'host_perf', 'pcap', 'netflow', 'qmp', 'qmp_event', 'guest', 'agent'] as const;
export type Source = (typeof SOURCES)[number];

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

