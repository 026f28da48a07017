// Today's scanFile, frozen at da5b2d9 (with the line reader it used) for the differential tests and bench:verify's
// comparison: the fast scan must give the same FileScan on every file. Not used by labtel itself.
// One pass over a telemetry file, streamed (files of hours at 1 ms are
// gigabytes): per source, rows, seq gaps, t_mono_ns going backwards, the
// longest silence, rows failing their schema, rows per shape and those with
// a measured value (src/rows/measurements.ts), the target's restarts and
// exits, and the last row (its cumulative drop counters).
import fs from 'node:fs';
import { hasMeasuredValue, MEASUREMENT_PATHS } from '../../src/rows/measurements.js';
import { ROW_SCHEMAS, ROW_SHAPE_SCHEMAS, shapeIndexOf } from '../../src/rows/registry.js';
import type { Source } from '../../src/rows/envelope.js';


/** No row labtel writes comes near this; a longer "line" is damage. */
const MAX_LINE = 16 << 20;

/** Identity events kept per source: a target restarts a handful of times, not millions. */
const MAX_IDENTITY_EVENTS = 10_000;

/** A row whose process_event says the target's process identity changed (restarted) or ended (exited). */
interface IdentityEvent {
  t: number;
  pid: number;
  event: 'restarted' | 'exited';
}

interface SourceScan {
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

interface FileScan {
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


/** `silenceOf(row)` picks the rows whose spacing is the collector's interval. */
export function legacyScanFile(file: string, silenceOf: (row: Record<string, unknown>) => boolean = () => true): FileScan {
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
      const shapes = ROW_SHAPE_SCHEMAS[source as Source]?.length ?? 0;
      s = {
        rows: 0, seqGaps: 0, firstGap: null, backwards: 0, firstBackwards: null, longestSilenceNs: 0, silenceAt: null, schemaErrors: 0, firstSchemaError: null, stubs: 0, firstStub: null,
        valueRows: 0, shapeRows: new Array<number>(shapes).fill(0), shapeValueRows: new Array<number>(shapes).fill(0), identityEvents: [], lastPicked: null,
      };
      scan.sources.set(source, s);
    }
    const due = nextSeq.get(source) ?? 0;
    if (row.seq !== due) {
      s.seqGaps++;
      s.firstGap ??= `line ${lineNo}: seq ${JSON.stringify(row.seq)} where ${due} was due`;
    }
    nextSeq.set(source, typeof row.seq === 'number' ? row.seq + 1 : due + 1);
    s.rows++;
    const shape = typeof row.stub === 'string' ? -2 : shapeIndexOf(source as Source, row);
    if (shape === -2) {
      s.stubs++;
      s.firstStub ??= `line ${lineNo}: ${String(row.stub).slice(0, 300)}`;
    } else if (shape < 0) {
      s.schemaErrors++;
      if (!s.firstSchemaError) {
        // Only on a failure: the union's issues name the field of the shape that came closest.
        const checked = ROW_SCHEMAS[source as Source]?.safeParse(row);
        const issue = checked && !checked.success ? firstIssue(checked.error.issues) : undefined;
        s.firstSchemaError = checked ? `line ${lineNo}: ${issue?.path.join('.') || '(row)'}: ${issue?.message}` : `line ${lineNo}: unknown source ${JSON.stringify(row.source)}`;
      }
    } else {
      s.shapeRows[shape]!++;
      if (hasMeasuredValue(row, MEASUREMENT_PATHS[source as Source]![shape]!.paths)) {
        s.shapeValueRows[shape]!++;
        s.valueRows++;
      }
      const ev = row.process_event;
      if ((ev === 'restarted' || ev === 'exited') && typeof row.t_mono_ns === 'number' && s.identityEvents.length < MAX_IDENTITY_EVENTS) {
        s.identityEvents.push({ t: row.t_mono_ns, pid: Number(row.pid), event: ev });
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
        if (shape !== -2) s.lastPicked = row; // a stub has none of the row's counters
        const p = lastSilenceT.get(source);
        if (p !== undefined && t - p > s.longestSilenceNs) {
          s.longestSilenceNs = t - p;
          s.silenceAt = p;
        }
        // A row recording the target's exit (proc's 'exited') ends the rhythm: until the target
        // comes back (a 'restarted' row) there is nothing to sample, and the gap is no silence.
        if (row.process_event === 'exited') lastSilenceT.delete(source);
        else lastSilenceT.set(source, t);
      }
    }
  };

  // Lines are cut on bytes, and one longer than MAX_LINE (a zero-filled tail after a crash) is
  // counted bad and skipped to its end: time stays linear and memory bounded for any file.
  const lines = new BoundedLineReader(MAX_LINE, (line, lineNo) => onLine(line.toString('utf8'), lineNo), {
    onOversize: (lineNo) => {
      scan.badLines++;
      scan.firstBadLine ??= `line ${lineNo} is longer than ${MAX_LINE} bytes`;
    },
  });
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      lines.push(buf.subarray(0, n));
    }
    if (lines.inLine) {
      scan.partialLastLine = true;
      scan.badLines++;
      scan.firstBadLine ??= `the file ends inside line ${lines.lines + 1} (a partial row)`;
    }
  } finally {
    fs.closeSync(fd);
  }
  return scan;
}

// Cuts a byte stream into lines without trusting it: a line is kept up to
// maxBytes; a longer one is dropped whole (counted, and told to onOversize
// as soon as it passes the bound) and the reader resynchronizes at the next
// newline. An unfinished line is held in one buffer that grows by doubling
// up to maxBytes, so memory stays about the line's size whatever the pieces
// it arrives in (one byte per read included), and a peer that stops
// mid-line holds nothing else up. Used for what a guest sends
// (guest_agent), and for reading row files (verify, report), where a crash
// can leave a zero-filled tail with no newline in it.

interface BoundedLineReaderOptions {
  /**
   * A line passed maxBytes: `lineNo` is its number (1-based, lines dropped
   * included), `bytes` how many of its bytes had come by then. Called once
   * per line, before its end has come when it is still arriving.
   */
  onOversize?: (lineNo: number, bytes: number) => void;
}

class BoundedLineReader {
  /** Lines dropped for being longer than maxBytes. */
  oversize = 0;
  /** Lines ended so far (kept and dropped). */
  lines = 0;
  private buf = Buffer.alloc(0);
  private held = 0;
  private skipping = false;

  /** `onLine` gets a view, valid until the next push; `lineNo` is the line's number (1-based). */
  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: Buffer, lineNo: number) => void,
    private readonly opts: BoundedLineReaderOptions = {},
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl >= 0; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      this.lines++;
      if (this.skipping || this.held + piece.length > this.maxBytes) {
        if (!this.skipping) this.dropped(this.lines, this.held + piece.length);
        this.skipping = false;
        this.held = 0;
        continue;
      }
      let line = piece;
      if (this.held) {
        this.hold(piece);
        line = this.buf.subarray(0, this.held);
      }
      this.held = 0;
      this.onLine(line, this.lines); // (a view: used before the next push)
    }
    if (start >= chunk.length || this.skipping) return;
    const rest = chunk.subarray(start);
    if (this.held + rest.length > this.maxBytes) {
      this.dropped(this.lines + 1, this.held + rest.length);
      this.skipping = true; // until the next newline
      this.held = 0;
      return;
    }
    this.hold(rest);
  }

  /** Bytes of an unfinished line held. */
  get pending(): number {
    return this.held;
  }

  /** Whether the stream so far ends inside a line (held, or being skipped for its length). */
  get inLine(): boolean {
    return this.held > 0 || this.skipping;
  }

  /** The stream ended: an unfinished line is not a line. */
  end(): void {
    this.held = 0;
    this.skipping = false;
    this.buf = Buffer.alloc(0);
  }

  private dropped(lineNo: number, bytes: number): void {
    this.oversize++;
    this.opts.onOversize?.(lineNo, bytes);
  }

  private hold(bytes: Buffer): void {
    const need = this.held + bytes.length;
    if (need > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.maxBytes, Math.max(need, this.buf.length * 2, 4096)));
      this.buf.copy(grown, 0, 0, this.held);
      this.buf = grown;
    }
    bytes.copy(this.buf, this.held);
    this.held = need;
  }
}
