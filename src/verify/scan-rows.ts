// One pass over a telemetry file, streamed (files of hours at 1 ms are
// gigabytes): per source, rows, seq gaps, t_mono_ns going backwards, the
// longest silence, rows failing their schema, rows with a measured value,
// and the last row (its cumulative drop counters).
import fs from 'node:fs';
import { ROW_SCHEMAS } from '../rows/registry.js';
import type { Source } from '../rows/envelope.js';

/** No row labtel writes comes near this; a longer "line" is damage. */
const MAX_LINE = 16 << 20;

/** Keys that identify or time a row rather than measure anything. */
const NOT_METRICS = new Set(['source', 't_mono_ns', 'seq', 'available_in_deployment', 'null_reasons', 'pid', 'tid', 'run', 'at_ns', 'stream_offset', 'interval_s', 'bucket_ms', 'poll_ms', 'perf_interval_s', 'starttime', 'cpu_index', 'thread_id']);

export interface SourceScan {
  rows: number;
  seqGaps: number;
  firstGap: string | null;
  backwards: number;
  firstBackwards: string | null;
  /** Longest gap between consecutive rows' t_mono_ns, ns, and where it starts. */
  longestSilenceNs: number;
  silenceAt: number | null;
  schemaErrors: number;
  firstSchemaError: string | null;
  valueRows: number;
  /** The last row of the source that silenceOf() picked (pcap interval rows, guest channel rows). */
  lastPicked: Record<string, unknown> | null;
}

export interface FileScan {
  lines: number;
  badLines: number;
  firstBadLine: string | null;
  partialLastLine: boolean;
  sources: Map<string, SourceScan>;
}

interface Issue {
  path: PropertyKey[];
  message: string;
  code?: string;
  errors?: Issue[][];
}

/** The issue to name: for a source with several row shapes, the first of the shape that came closest. */
function firstIssue(issues: readonly Issue[]): Issue | undefined {
  const i = issues[0];
  if (i?.code !== 'invalid_union' || !i.errors?.length) return i;
  const closest = [...i.errors].sort((a, b) => a.length - b.length)[0]!;
  return firstIssue(closest) ?? i;
}

function hasValue(v: unknown, top: boolean): boolean {
  if (typeof v === 'number') return true;
  if (typeof v !== 'object' || v === null) return false;
  for (const [k, x] of Object.entries(v)) {
    if (top && NOT_METRICS.has(k)) continue;
    if (hasValue(x, false)) return true;
  }
  return false;
}

/** `silenceOf(row)` picks the rows whose spacing is the collector's interval. */
export function scanFile(file: string, silenceOf: (row: Record<string, unknown>) => boolean = () => true): FileScan {
  const scan: FileScan = { lines: 0, badLines: 0, firstBadLine: null, partialLastLine: false, sources: new Map() };
  const lastT = new Map<string, number>();
  const nextSeq = new Map<string, number>();
  const lastSilenceT = new Map<string, number>();
  const onLine = (text: string, lineNo: number) => {
    scan.lines++;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(text) as Record<string, unknown>;
      if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new Error('not an object');
    } catch {
      scan.badLines++;
      scan.firstBadLine ??= `line ${lineNo} is not a JSON object`;
      return;
    }
    const source = String(row.source);
    let s = scan.sources.get(source);
    if (!s) {
      s = { rows: 0, seqGaps: 0, firstGap: null, backwards: 0, firstBackwards: null, longestSilenceNs: 0, silenceAt: null, schemaErrors: 0, firstSchemaError: null, valueRows: 0, lastPicked: null };
      scan.sources.set(source, s);
    }
    const due = nextSeq.get(source) ?? 0;
    if (row.seq !== due) {
      s.seqGaps++;
      s.firstGap ??= `line ${lineNo}: seq ${JSON.stringify(row.seq)} where ${due} was due`;
    }
    nextSeq.set(source, typeof row.seq === 'number' ? row.seq + 1 : due + 1);
    s.rows++;
    const schema = ROW_SCHEMAS[source as Source];
    const checked = schema ? schema.safeParse(row) : null;
    if (!checked || !checked.success) {
      s.schemaErrors++;
      if (!s.firstSchemaError) {
        const issue = checked ? firstIssue(checked.error.issues) : undefined;
        s.firstSchemaError = checked ? `line ${lineNo}: ${issue?.path.join('.') || '(row)'}: ${issue?.message}` : `line ${lineNo}: unknown source ${JSON.stringify(row.source)}`;
      }
    }
    const t = row.t_mono_ns;
    if (typeof t === 'number') {
      const prev = lastT.get(source);
      if (prev !== undefined && t < prev) {
        s.backwards++;
        s.firstBackwards ??= `line ${lineNo}: t_mono_ns ${t} after ${prev}`;
      }
      lastT.set(source, t);
      if (silenceOf(row)) {
        s.lastPicked = row;
        const p = lastSilenceT.get(source);
        if (p !== undefined && t - p > s.longestSilenceNs) {
          s.longestSilenceNs = t - p;
          s.silenceAt = p;
        }
        lastSilenceT.set(source, t);
      }
    }
    if (hasValue(row, true)) s.valueRows++;
  };

  // Lines are cut on bytes, and one longer than MAX_LINE (a zero-filled tail after a crash) is
  // counted bad and skipped to its end: time stays linear and memory bounded for any file.
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 << 20);
    let carry: Buffer[] = [];
    let carried = 0;
    let skipping = false;
    let lineNo = 0;
    const tooLong = () => {
      scan.badLines++;
      scan.firstBadLine ??= `line ${lineNo} is longer than ${MAX_LINE} bytes`;
    };
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      let start = 0;
      for (let nl = buf.indexOf(10, 0); nl >= 0 && nl < n; nl = buf.indexOf(10, start)) {
        lineNo++;
        if (skipping || carried + (nl - start) > MAX_LINE) {
          if (!skipping) tooLong();
          skipping = false;
        } else {
          const line = carried ? Buffer.concat([...carry, buf.subarray(start, nl)]).toString('utf8') : buf.toString('utf8', start, nl);
          onLine(line, lineNo);
        }
        carry = [];
        carried = 0;
        start = nl + 1;
      }
      if (start < n && !skipping) {
        if (carried + (n - start) > MAX_LINE) {
          lineNo++;
          tooLong();
          lineNo--; // counted again when its end comes
          skipping = true;
          carry = [];
          carried = 0;
        } else {
          carry.push(Buffer.from(buf.subarray(start, n)));
          carried += n - start;
        }
      }
    }
    if (carried || skipping) {
      scan.partialLastLine = true;
      scan.badLines++;
      scan.firstBadLine ??= `the file ends inside line ${lineNo + 1} (a partial row)`;
    }
  } finally {
    fs.closeSync(fd);
  }
  return scan;
}
