// One row message of `labtel pull` taken apart: a batch of one or more rows
// of one source, each a line ending in "\n" (a message of the old per-row
// format, one row without the "\n", is a batch of one). Every line is checked
// before any is written: one JSON object, its source the subject's, its seq
// a safe integer, the seqs increasing. A message failing any check is set
// aside whole (the kind says which check), never written in part.
import type { AsideKind } from './pull-aside.js';

export interface Batch {
  /** Each row's seq, in order (increasing). */
  seqs: number[];
  /** Where each row starts in the message, and where the next one would (ends[i] is past its "\n", or the message's end). */
  starts: number[];
  ends: number[];
  /** The message's last line has no "\n" (the old one-row format): the writer adds one. */
  noFinalNewline: boolean;
}

export type BatchResult = { ok: true; batch: Batch } | { ok: false; kind: AsideKind; why: string };

const bad = (kind: AsideKind, why: string): BatchResult => ({ ok: false, kind, why });

export function splitBatch(data: Uint8Array, source: string): BatchResult {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length === 0) return bad('not_a_row', 'the message is empty');
  const seqs: number[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  let last = -1;
  for (let i = 0, line = 1; i < buf.length; line++) {
    let e = buf.indexOf(10, i);
    const end = e < 0 ? buf.length : e;
    if (e < 0) e = buf.length - 1;
    // Cheaply first: a row is an object, and a megabyte of something else is not made a string to find that out.
    if (buf[i] !== 0x7b) return bad('not_a_row', `line ${line} is not a JSON object (it does not start with "{")`);
    let row: { source?: unknown; seq?: unknown } | null;
    try {
      row = JSON.parse(buf.toString('utf8', i, end)) as typeof row;
    } catch (err) {
      return bad('not_a_row', `line ${line} is not JSON (${(err as Error).message.slice(0, 100)})`);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) return bad('not_a_row', `line ${line} is not a JSON object`);
    if (row.source !== source) return bad('wrong_source', `line ${line} is a ${JSON.stringify(row.source)?.slice(0, 80)} row on the subject of source ${source}`);
    const seq = row.seq;
    if (!Number.isSafeInteger(seq) || (seq as number) < 0) return bad('not_a_row', `line ${line} has no seq (a non-negative integer)`);
    if ((seq as number) <= last) return bad('seq_order', `line ${line} has seq ${seq as number} after seq ${last}: seqs must increase within a message`);
    last = seq as number;
    seqs.push(last);
    starts.push(i);
    ends.push(e + 1);
    i = e + 1;
  }
  return { ok: true, batch: { seqs, starts, ends, noFinalNewline: buf[buf.length - 1] !== 10 } };
}
