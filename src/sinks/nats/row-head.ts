// A row's envelope read from its bytes in place: the row writer puts
// `{"source":"S","t_mono_ns":T,"seq":N` first in every line
// (rows/jsonl-writer.ts), so the forwarder learns a row's source and seq
// without a string or an allocation per row (the source's string is made only
// when it changes). A line in another order is parsed as JSON instead, when
// it is small enough to parse.

const OPEN = Buffer.from('{"source":"', 'latin1');
const MID = Buffer.from('","t_mono_ns":', 'latin1');
const SEQ = Buffer.from(',"seq":', 'latin1');
/** A source is a subject token: [a-z][a-z0-9_]*, at most this long. */
const MAX_SOURCE = 64;
/** Lines up to this size that do not start with the writer's envelope are parsed as JSON to find it. */
const MAX_PARSED = 1 << 20;
const SOURCE = /^[a-z][a-z0-9_]{0,63}$/;
/** t_mono_ns digits at most: an integer under 1e21 (the writer's Math.round() prints larger ones with an exponent). */
const MAX_T_DIGITS = 21;

function startsWith(buf: Uint8Array, at: number, end: number, p: Uint8Array): boolean {
  if (end - at < p.length) return false;
  for (let i = 0; i < p.length; i++) if (buf[at + i] !== p[i]) return false;
  return true;
}

export class RowHead {
  /** The last row's source (the same string object while it does not change). */
  source = '';
  seq = 0;
  /** t_mono_ns as written (a stub keeps it verbatim). */
  private tStart = 0;
  private tEnd = 0;
  private tText: string | null = null;
  private tBuf: Buffer = OPEN;
  private readonly srcBytes = new Uint8Array(MAX_SOURCE);
  private srcLen = 0;

  /** t_mono_ns of the last row read, as its line wrote it. */
  get tMonoNs(): string {
    return this.tText ?? this.tBuf.toString('latin1', this.tStart, this.tEnd);
  }

  /**
   * Reads the envelope of the line buf[start, end) (no newline). `whole`:
   * the line is all there (else only its head is, and JSON cannot be tried).
   * False when it is no labtel row.
   */
  read(buf: Buffer, start: number, end: number, whole = true): boolean {
    if (this.readFast(buf, start, end)) return true;
    return whole && end - start <= MAX_PARSED && this.readParsed(buf, start, end);
  }

  private readFast(buf: Buffer, start: number, end: number): boolean {
    if (!startsWith(buf, start, end, OPEN)) return false;
    let j = start + OPEN.length;
    const s0 = j;
    let same = true;
    for (; j < end; j++) {
      const c = buf[j]!;
      const ok = (c >= 0x61 && c <= 0x7a) || (j > s0 && ((c >= 0x30 && c <= 0x39) || c === 0x5f));
      if (!ok) break;
      const k = j - s0;
      if (k >= MAX_SOURCE) return false;
      if (same && (k >= this.srcLen || this.srcBytes[k] !== c)) same = false;
    }
    const len = j - s0;
    if (len === 0 || !startsWith(buf, j, end, MID)) return false;
    j += MID.length;
    const t0 = j;
    if (buf[j] === 0x2d) j++;
    const d0 = j;
    while (j < end && buf[j]! >= 0x30 && buf[j]! <= 0x39) j++;
    // At most the digits the writer's Math.round() can print (a stub keeps them: 1 MB of them made a stub too large to send, at every pass).
    if (j === d0 || j - d0 > MAX_T_DIGITS || !startsWith(buf, j, end, SEQ)) return false;
    const t1 = j;
    j += SEQ.length;
    const q0 = j;
    let seq = 0;
    while (j < end && buf[j]! >= 0x30 && buf[j]! <= 0x39) seq = seq * 10 + (buf[j++]! - 0x30);
    if (j === q0 || j - q0 > 15 || (buf[q0] === 0x30 && j - q0 > 1) || j >= end || (buf[j] !== 0x2c && buf[j] !== 0x7d)) return false;
    if (!same || len !== this.srcLen) {
      this.source = buf.toString('latin1', s0, s0 + len);
      this.srcBytes.set(buf.subarray(s0, s0 + len));
      this.srcLen = len;
    }
    this.seq = seq;
    this.tBuf = buf;
    this.tStart = t0;
    this.tEnd = t1;
    this.tText = null;
    return true;
  }

  private readParsed(buf: Buffer, start: number, end: number): boolean {
    if (buf[start] !== 0x7b) return false; // no JSON object (and no exception thrown per empty line)
    let row: { source?: unknown; seq?: unknown; t_mono_ns?: unknown } | null;
    try {
      row = JSON.parse(buf.toString('utf8', start, end)) as typeof row;
    } catch {
      return false;
    }
    if (!row || typeof row !== 'object' || typeof row.source !== 'string' || !SOURCE.test(row.source)) return false;
    if (!Number.isSafeInteger(row.seq) || (row.seq as number) < 0 || !Number.isFinite(row.t_mono_ns)) return false; // a stub writes it: never "Infinity"
    if (row.source !== this.source) {
      this.source = row.source;
      this.srcBytes.set(Buffer.from(row.source, 'latin1'));
      this.srcLen = row.source.length;
    }
    this.seq = row.seq as number;
    this.tText = String(row.t_mono_ns);
    return true;
  }
}
