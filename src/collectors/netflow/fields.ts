// The netflow row layout on the TypeScript side: what a packed row carries
// after t_mono_ns, in the zod schema's order (src/collectors/netflow/rows.ts).
// Spelled out, so the live collector's worker does not load zod and the row
// schemas for it; a test holds it equal to the schema's keys. The C++ side
// declares it once in native/core/netflow_fields.h; a test holds the addon's
// netflowFieldNames() equal to NETFLOW_FIELDS.
import type { NetflowRow } from './rows.js';

/** Members the row writer adds (from its options and the capture's end), not the bucketizer. */
export const NETFLOW_FORMAT_FIELDS = ['bucket_ms', 'partial'] as const;

export type NetflowFieldName = Exclude<keyof NetflowRow, (typeof NETFLOW_FORMAT_FIELDS)[number]>;

/** The bucketizer's fields, in the order of the zod schema (the JSON line's order). */
export const NETFLOW_FIELDS: readonly NetflowFieldName[] = [
  'pkts_in', 'pkts_out', 'bytes_in', 'bytes_out', 'pkts_unmatched', 'bytes_unmatched', 'flows', 'new_flows', 'peers', 'dst_ports',
  'tcp_syn', 'tcp_synack', 'tcp_fin', 'tcp_rst', 'pkts_tcp', 'pkts_udp', 'pkts_icmp', 'pkts_other_ip', 'pkts_arp', 'pkts_non_ip',
  'pkts_truncated', 'pkts_malformed', 'pkts_late', 'distinct_estimated', 'empty_buckets_skipped',
];

/** Doubles per packed row: t_mono_ns, then NETFLOW_FIELDS. */
export const NETFLOW_ROW_WIDTH = NETFLOW_FIELDS.length + 1;

/** Where each field sits in a packed row (t_mono_ns is at 0). */
export const NETFLOW_AT = Object.fromEntries(NETFLOW_FIELDS.map((n, i) => [n, i + 1])) as Record<NetflowFieldName, number>;
