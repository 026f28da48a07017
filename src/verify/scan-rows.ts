// One pass over a telemetry file, streamed (files of hours at 1 ms are
// gigabytes): per source, rows, seq gaps, t_mono_ns going backwards, the
// longest silence, rows failing their schema, rows per shape and those with
// a measured value (src/rows/measurements.ts), the target's restarts and
// exits, and the last row (its cumulative drop counters).
//
// Each line is first tried against the row layouts learned from earlier
// lines of the file (src/verify/template-set.ts), checked on its bytes; a
// line that matches none is parsed and checked as a row, the compiled
// checks first and zod where they are not certain (src/verify/row-shapes.ts),
// and teaches its layout. Both ways give the same scan (test/verify/
// scan-differential.test.ts holds them to the scan before them).
import fs from 'node:fs';
import { hasMeasuredValue, MEASUREMENT_PATHS } from '../rows/measurements.js';
import { ROW_SCHEMAS } from '../rows/registry.js';
import type { Source } from '../rows/envelope.js';
import { BoundedLineRanges } from '../util/bounded-line-reader.js';
import { textOf } from '../util/text-of.js';
import { shapeOf, shapesOf } from './row-shapes.js';
import type { RowTemplate } from './row-template.js';
import { measuredIn, TemplateSet } from './template-set.js';

/** No row labtel writes comes near this; a longer "line" is damage. */
export const MAX_LINE = 16 << 20;

/** Identity events kept per source: a target restarts a handful of times, not millions. */
export const MAX_IDENTITY_EVENTS = 10_000;

/** A row whose process_event says the target's process identity changed (restarted) or ended (exited). */
export interface IdentityEvent {
  t: number;
  pid: number;
  event: 'restarted' | 'exited';
}

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
  /**
   * Stub rows: a row the NATS forwarder could not send (larger than a message may carry) arrives pulled as its
   * envelope and `"stub": "<why>"`. Not a measurement and not checked against the row schema; its seq and
   * t_mono_ns still count.
   */
  stubs: number;
  firstStub: string | null;
  /** Rows that passed their schema with a non-null measurement (a row failing its schema measures nothing). */
  valueRows: number;
  /** Per row shape (in ROW_SHAPES' order): rows of that shape, and those with a measured value. */
  shapeRows: number[];
  shapeValueRows: number[];
  /** host_proc (and host_perf) rows whose process_event is restarted or exited, in file order. */
  identityEvents: IdentityEvent[];
  /** The last row of the source that silenceOf() picked (pcap interval rows, guest channel rows). */
  lastPicked: Record<string, unknown> | null;
}

export interface FileScan {
  lines: number;
  badLines: number;
  firstBadLine: string | null;
  partialLastLine: boolean;
  sources: Map<string, SourceScan>;
  /** With a part (scanFile's `part`): per source, what joining it to the part before or after needs (src/verify/scan-merge.ts). */
  edges?: Map<string, SourceEdge>;
  /** With a part: the lines it ended, those over MAX_LINE included (`lines` counts only those scanned): the next part's lineBase. */
  endedLines?: number;
}

/**
 * A byte range of the file to scan, for a file scanned in two parts (src/verify/split-scan.ts): `start`
 * and `end` at line starts, `lineBase` the lines before `start`. A `continued` part starts after rows it
 * has not seen: each source's first seq, time and rhythm row are kept in its edge for the join, not
 * checked against a state it does not know.
 */
export interface ScanPart {
  start?: number;
  end?: number;
  lineBase?: number;
  continued?: boolean;
  /** Called after each read (the split scan's progress, watched by the thread waiting for it). */
  onRead?: () => void;
}

/** A source's state at the ends of a part: at its end (a head), and its first rows (a continued part). */
export interface SourceEdge {
  nextSeq: number;
  lastT: number | undefined;
  lastSilenceT: number | undefined;
  /** Continued part: the first row's seq and line, the first t_mono_ns checked and its line, the first rhythm row's t_mono_ns. */
  firstSeq: unknown;
  firstSeqLine: number;
  firstT: number | undefined;
  firstTLine: number;
  firstPickedT: number | undefined;
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


type Row = Record<string, unknown>;

/** What the scan carries per source between rows, beside its SourceScan. */
interface SourceState {
  scan: SourceScan;
  nextSeq: number;
  lastT: number | undefined;
  lastSilenceT: number | undefined;
  /** The last picked row, when a layout matched it: where its bytes are until the next read, then a copy. */
  pickedBuf: Buffer | null;
  pickedStart: number;
  pickedEnd: number;
  pickedCopy: Buffer | null;
  /** A continued part's first rows (SourceEdge). */
  firstSeq: unknown;
  firstSeqLine: number;
  firstT: number | undefined;
  firstTLine: number;
  firstPickedT: number | undefined;
  sawPicked: boolean;
}

/**
 * `silenceOf(row)` picks the rows whose spacing is the collector's interval (a function of the row alone).
 * `onRow`, when given, gets each line that parsed to a JSON object, in file order, after the checks of it:
 * every line is then parsed once, and a line a learned layout matched is still checked on its bytes, its
 * one parse serving onRow and the checks that need the row.
 */
export function scanFile(file: string, silenceOf: (row: Row) => boolean = () => true, onRow?: (row: Row) => void, part?: ScanPart): FileScan {
  const continued = part?.continued === true;
  const lineBase = part?.lineBase ?? 0;
  const scan: FileScan = { lines: 0, badLines: 0, firstBadLine: null, partialLastLine: false, sources: new Map() };
  const states = new Map<string, SourceState>();
  const templates = new TemplateSet(silenceOf);
  /** Sources whose last picked row is still only a place in the read buffer. */
  const pending: SourceState[] = [];
  /** The bytes of the read being cut into lines (a line cut by the read before comes in the reader's own buffer). */
  let chunk: Buffer | null = null;

  const stateOf = (source: string): SourceState => {
    let st = states.get(source);
    if (!st) {
      const shapes = shapesOf(source)?.schemas.length ?? 0;
      const s: SourceScan = {
        rows: 0, seqGaps: 0, firstGap: null, backwards: 0, firstBackwards: null, longestSilenceNs: 0, silenceAt: null, schemaErrors: 0, firstSchemaError: null, stubs: 0, firstStub: null,
        valueRows: 0, shapeRows: new Array<number>(shapes).fill(0), shapeValueRows: new Array<number>(shapes).fill(0), identityEvents: [], lastPicked: null,
      };
      scan.sources.set(source, s);
      st = {
        scan: s, nextSeq: 0, lastT: undefined, lastSilenceT: undefined, pickedBuf: null, pickedStart: 0, pickedEnd: 0, pickedCopy: null,
        firstSeq: undefined, firstSeqLine: 0, firstT: undefined, firstTLine: 0, firstPickedT: undefined, sawPicked: false,
      };
      states.set(source, st);
    }
    return st;
  };

  /** The time checks of a row at `t`: backwards, and the silence when `picked`. */
  const timeOf = (st: SourceState, t: number, picked: boolean, exited: boolean, lineNo: number) => {
    const s = st.scan;
    const prev = st.lastT;
    if (continued && prev === undefined) {
      st.firstT = t;
      st.firstTLine = lineNo;
    }
    if (prev !== undefined && t < prev) {
      s.backwards++;
      s.firstBackwards ??= `line ${lineNo}: t_mono_ns ${t} after ${prev}`;
    }
    st.lastT = t;
    if (picked) {
      if (continued && !st.sawPicked) {
        st.sawPicked = true;
        st.firstPickedT = t;
      }
      const p = st.lastSilenceT;
      if (p !== undefined && t - p > s.longestSilenceNs) {
        s.longestSilenceNs = t - p;
        s.silenceAt = p;
      }
      // A row recording the target's exit (proc's 'exited') ends the rhythm: until the target
      // comes back (a 'restarted' row) there is nothing to sample, and the gap is no silence.
      st.lastSilenceT = exited ? undefined : t;
    }
  };

  const seqOf = (st: SourceState, seq: unknown, lineNo: number) => {
    if (continued && st.scan.rows === 0) {
      // Due is what the part before left: the join checks it (a seq that is no number makes the part unjoinable).
      st.firstSeq = seq;
      st.firstSeqLine = lineNo;
      st.nextSeq = typeof seq === 'number' ? seq + 1 : NaN;
      st.scan.rows++;
      return;
    }
    const due = st.nextSeq;
    if (seq !== due) {
      st.scan.seqGaps++;
      st.scan.firstGap ??= `line ${lineNo}: seq ${JSON.stringify(seq)} where ${due} was due`;
    }
    st.nextSeq = typeof seq === 'number' ? seq + 1 : due + 1;
    st.scan.rows++;
  };

  const identity = (s: SourceScan, row: Row) => {
    const ev = row.process_event;
    if ((ev === 'restarted' || ev === 'exited') && typeof row.t_mono_ns === 'number' && s.identityEvents.length < MAX_IDENTITY_EVENTS) {
      s.identityEvents.push({ t: row.t_mono_ns, pid: Number(row.pid), event: ev });
    }
  };

  /** A line a layout matched: its values are on the template. */
  const matched = (tpl: RowTemplate, buf: Buffer, start: number, end: number, lineNo: number) => {
    const st = stateOf(tpl.source);
    const s = st.scan;
    seqOf(st, tpl.seq, lineNo);
    const shape = tpl.shape;
    s.shapeRows[shape]!++;
    if (measuredIn(tpl)) {
      s.shapeValueRows[shape]!++;
      s.valueRows++;
    }
    const ev = tpl.eventSlot >= 0 ? tpl.processEvent : undefined;
    // With onRow, every row is parsed once for it, and that one object serves the checks below too.
    let row: Row | null = onRow ? (JSON.parse(buf.toString('utf8', start, end)) as Row) : null;
    if (ev === 'restarted' || ev === 'exited') identity(s, (row ??= JSON.parse(buf.toString('utf8', start, end)) as Row));
    const rhythm = tpl.derived.rhythm;
    const picked = rhythm ?? silenceOf((row ??= JSON.parse(buf.toString('utf8', start, end)) as Row));
    if (picked) {
      if (row) {
        s.lastPicked = row;
        st.pickedBuf = null;
        st.pickedCopy = null;
      } else if (buf !== chunk) {
        // A line a read cut in two comes from the reader's own buffer, which the next unfinished line overwrites
        // before this read is over: copied now (one line per read).
        st.pickedCopy = Buffer.from(buf.subarray(start, end));
        st.pickedBuf = null;
      } else {
        if (st.pickedBuf === null) pending.push(st);
        st.pickedBuf = buf;
        st.pickedStart = start;
        st.pickedEnd = end;
        st.pickedCopy = null;
      }
    }
    timeOf(st, tpl.t, picked, ev === 'exited', lineNo);
    if (onRow) onRow(row!);
  };

  /** A line no layout matched: parsed, checked, and its layout learned. */
  const parsed = (buf: Buffer, start: number, end: number, lineNo: number) => {
    let row: Row;
    try {
      row = JSON.parse(buf.toString('utf8', start, end)) as Row;
      if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new Error('not an object');
    } catch {
      scan.badLines++;
      scan.firstBadLine ??= `line ${lineNo} is not a JSON object`;
      return;
    }
    const source = textOf(row.source);
    const st = stateOf(source);
    const s = st.scan;
    seqOf(st, row.seq, lineNo);
    const shape = typeof row.stub === 'string' ? -2 : shapeOf(source, row);
    if (shape === -2) {
      s.stubs++;
      s.firstStub ??= `line ${lineNo}: ${textOf(row.stub).slice(0, 300)}`;
    } else if (shape < 0) {
      s.schemaErrors++;
      if (!s.firstSchemaError) {
        // Only on a failure: the union's issues name the field of the shape that came closest.
        const schema = Object.hasOwn(ROW_SCHEMAS, source) ? ROW_SCHEMAS[source as Source] : undefined;
        const checked = schema?.safeParse(row);
        const issue = checked && !checked.success ? firstIssue(checked.error.issues) : undefined;
        s.firstSchemaError = checked ? `line ${lineNo}: ${issue?.path.join('.') || '(row)'}: ${issue?.message}` : `line ${lineNo}: unknown source ${JSON.stringify(row.source)}`;
      }
    } else {
      s.shapeRows[shape]!++;
      if (hasMeasuredValue(row, MEASUREMENT_PATHS[source as Source]![shape]!.paths)) {
        s.shapeValueRows[shape]!++;
        s.valueRows++;
      }
      identity(s, row);
    }
    const t = row.t_mono_ns;
    if (typeof t === 'number') {
      const picked = silenceOf(row);
      if (picked && shape !== -2) {
        s.lastPicked = row; // a stub has none of the row's counters
        st.pickedBuf = null;
        st.pickedCopy = null;
      }
      timeOf(st, t, picked, row.process_event === 'exited', lineNo);
    }
    if (shape >= 0) templates.learn(buf, start, end, row, source, shape);
    onRow?.(row);
  };

  // Lines are cut on bytes, and one longer than MAX_LINE (a zero-filled tail after a crash) is
  // counted bad and skipped to its end: time stays linear and memory bounded for any file.
  const lines = new BoundedLineRanges(
    MAX_LINE,
    (buf, start, end, n) => {
      const lineNo = n + lineBase;
      scan.lines++;
      const tpl = templates.match(buf, start, end);
      if (tpl) matched(tpl, buf, start, end, lineNo);
      else parsed(buf, start, end, lineNo);
    },
    {
      onOversize: (n) => {
        scan.badLines++;
        scan.firstBadLine ??= `line ${n + lineBase} is longer than ${MAX_LINE} bytes`;
      },
    },
  );
  // A picked row known only by its place is copied before the read buffer is reused.
  const keepPicked = () => {
    for (const st of pending) {
      if (st.pickedBuf) st.pickedCopy = Buffer.from(st.pickedBuf.subarray(st.pickedStart, st.pickedEnd));
      st.pickedBuf = null;
    }
    pending.length = 0;
  };
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 << 20);
    // Without a part, reads from the file's offset as before (a FIFO or a character device reads too).
    let pos: number | null = part ? (part.start ?? 0) : null;
    const until = part?.end ?? Infinity;
    for (;;) {
      const want = pos === null ? buf.length : Math.min(buf.length, until - pos);
      if (want <= 0) break;
      const n = fs.readSync(fd, buf, 0, want, pos);
      if (n === 0) break;
      if (pos !== null) pos += n;
      chunk = buf.subarray(0, n);
      lines.push(chunk);
      keepPicked();
      part?.onRead?.();
    }
    if (lines.inLine) {
      scan.partialLastLine = true;
      scan.badLines++;
      scan.firstBadLine ??= `the file ends inside line ${lines.lines + lineBase + 1} (a partial row)`;
    }
  } finally {
    fs.closeSync(fd);
  }
  for (const st of states.values()) if (st.pickedCopy) st.scan.lastPicked = JSON.parse(st.pickedCopy.toString('utf8')) as Row;
  if (part) {
    scan.endedLines = lines.lines;
    scan.edges = new Map();
    for (const [source, st] of states) {
      const { nextSeq, lastT, lastSilenceT, firstSeq, firstSeqLine, firstT, firstTLine, firstPickedT } = st;
      scan.edges.set(source, { nextSeq, lastT, lastSilenceT, firstSeq, firstSeqLine, firstT, firstTLine, firstPickedT });
    }
  }
  return scan;
}
