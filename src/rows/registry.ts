// Every row shape labtel writes, by source: the one place rows are declared.
// docs/rows.md is generated from here (npm run docs) and a test fails on drift.
import { z } from 'zod';
import { agentEventRow, agentSelfRow } from './agent-rows.js';
import { guestChannelRow, guestLineRow, guestQgaOsinfoRow, guestQgaRow } from '../collectors/guest_agent/rows.js';
import { netflowRow } from '../collectors/netflow/rows.js';
import { pcapEventRow, pcapIntervalRow } from '../collectors/pcap/rows.js';
import { perfRow } from '../collectors/perf/rows.js';
import { procProcessRow, procThreadRow } from '../collectors/proc/rows.js';
import { qmpEventRow, qmpRow } from '../collectors/qmp/rows.js';
import { envelope, type Source } from './envelope.js';

export interface RowShape {
  /** A name for the shape when a source has several (process and thread rows). */
  title: string;
  fields: z.ZodObject;
}

export const ROW_SHAPES: Partial<Record<Source, RowShape[]>> = {
  host_proc: [
    { title: 'process', fields: procProcessRow },
    { title: 'thread', fields: procThreadRow },
  ],
  host_perf: [{ title: 'interval', fields: perfRow }],
  pcap: [
    { title: 'interval', fields: pcapIntervalRow },
    { title: 'capture event', fields: pcapEventRow },
  ],
  netflow: [{ title: 'bucket', fields: netflowRow }],
  qmp: [{ title: 'poll', fields: qmpRow }],
  qmp_event: [{ title: 'event', fields: qmpEventRow }],
  guest: [
    { title: 'line', fields: guestLineRow },
    // Before qga, whose command also accepts guest-get-osinfo: the first shape a row passes is its shape.
    { title: 'qga osinfo', fields: guestQgaOsinfoRow },
    { title: 'qga', fields: guestQgaRow },
    { title: 'channel', fields: guestChannelRow },
  ],
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
