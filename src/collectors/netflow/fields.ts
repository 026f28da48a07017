// The netflow row layout on the TypeScript side, derived from the zod schema:
// what a packed row carries after t_mono_ns, in order. The C++ side declares
// it once in native/core/netflow_fields.h; a test holds the addon's
// netflowFieldNames() equal to NETFLOW_FIELDS.
import { netflowRow, type NetflowRow } from './rows.js';

/** Members the row writer adds (from its options and the capture's end), not the bucketizer. */
export const NETFLOW_FORMAT_FIELDS = ['bucket_ms', 'partial'] as const;

export type NetflowFieldName = Exclude<keyof NetflowRow, (typeof NETFLOW_FORMAT_FIELDS)[number]>;

/** The bucketizer's fields, in the order of the zod schema (the JSON line's order). */
export const NETFLOW_FIELDS: readonly NetflowFieldName[] = Object.keys(netflowRow.shape).filter(
  (k) => !(NETFLOW_FORMAT_FIELDS as readonly string[]).includes(k),
) as NetflowFieldName[];

/** Doubles per packed row: t_mono_ns, then NETFLOW_FIELDS. */
export const NETFLOW_ROW_WIDTH = NETFLOW_FIELDS.length + 1;

/** Where each field sits in a packed row (t_mono_ns is at 0). */
export const NETFLOW_AT = Object.fromEntries(NETFLOW_FIELDS.map((n, i) => [n, i + 1])) as Record<NetflowFieldName, number>;
