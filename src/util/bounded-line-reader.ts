// Cuts a byte stream into lines without trusting it: a line is kept up to
// maxBytes; a longer one is dropped whole (counted, and told to onOversize
// as soon as it passes the bound) and the reader resynchronizes at the next
// newline. An unfinished line is held in one buffer that grows by doubling
// up to maxBytes, so memory stays about the line's size whatever the pieces
// it arrives in (one byte per read included), and a peer that stops
// mid-line holds nothing else up. Used for what a guest sends
// (guest_agent), and for reading row files (verify, report), where a crash
// can leave a zero-filled tail with no newline in it.

export interface BoundedLineReaderOptions {
  /**
   * A line passed maxBytes: `lineNo` is its number (1-based, lines dropped
   * included), `bytes` how many of its bytes had come by then. Called once
   * per line, before its end has come when it is still arriving.
   */
  onOversize?: (lineNo: number, bytes: number) => void;
}

/** Where a line is: `buf[start, end)`, valid until the next push; `lineNo` is its number (1-based). */
export type LineRange = (buf: Buffer, start: number, end: number, lineNo: number) => void;

/**
 * The reader without a Buffer view per line: `onRange` gets the bytes' place
 * instead (verify reads files of gigabytes, and a view per line was an
 * allocation per row).
 */
export class BoundedLineRanges {
  /** Lines dropped for being longer than maxBytes. */
  oversize = 0;
  /** Lines ended so far (kept and dropped). */
  lines = 0;
  private buf = Buffer.alloc(0);
  private held = 0;
  private skipping = false;

  constructor(
    private readonly maxBytes: number,
    private readonly onRange: LineRange,
    private readonly opts: BoundedLineReaderOptions = {},
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl >= 0; nl = chunk.indexOf(10, start)) {
      const length = nl - start;
      const from = start;
      start = nl + 1;
      this.lines++;
      if (this.skipping || this.held + length > this.maxBytes) {
        if (!this.skipping) this.dropped(this.lines, this.held + length);
        this.skipping = false;
        this.held = 0;
        continue;
      }
      if (this.held) {
        this.hold(chunk.subarray(from, nl));
        const held = this.held;
        this.held = 0;
        this.onRange(this.buf, 0, held, this.lines); // (valid until the next push)
      } else {
        this.onRange(chunk, from, nl, this.lines);
      }
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

export class BoundedLineReader extends BoundedLineRanges {
  /** `onLine` gets a view, valid until the next push; `lineNo` is the line's number (1-based). */
  constructor(maxBytes: number, onLine: (line: Buffer, lineNo: number) => void, opts: BoundedLineReaderOptions = {}) {
    super(maxBytes, (buf, start, end, lineNo) => onLine(buf.subarray(start, end), lineNo), opts);
  }
}
