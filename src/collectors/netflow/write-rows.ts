// Packed bucket rows (the bucketizer's Float64Array, native or TS) to netflow
// JSONL lines: one writer for the live collector and the offline job.
import type { JsonlWriter } from '../../rows/jsonl-writer.js';
import { PACKED_FIELDS, ROW_WIDTH } from './bucketizer.js';

const MEMBERS = PACKED_FIELDS.map((k) => `,"${k}":`);
const ESTIMATED = PACKED_FIELDS.indexOf('distinct_estimated');

/**
 * Writes packed rows as netflow JSONL, straight from the typed array. The
 * last row is partial with `lastPartial`; the row of bucket `partialAt` (the
 * one a live capture began inside) is partial too.
 */
export function writeNetflowRows(writer: JsonlWriter, bucketMs: number, rows: Float64Array, lastPartial = false, partialAt?: number): void {
  const n = rows.length / ROW_WIDTH;
  for (let r = 0; r < n; r++) {
    const at = r * ROW_WIDTH;
    let m = `"bucket_ms":${bucketMs},"partial":${(lastPartial && r === n - 1) || rows[at] === partialAt}`;
    for (let k = 0; k < PACKED_FIELDS.length; k++) {
      const v = rows[at + 1 + k]!;
      m += MEMBERS[k] + (k === ESTIMATED ? String(v === 1) : String(v));
    }
    writer.writeMembers('netflow', rows[at]!, m);
  }
}
