// Cuts a byte stream into lines without trusting it: a line is kept up to
// maxBytes; a longer one is dropped whole (counted) and the reader
// resynchronizes at the next newline. An unfinished line is held in one
// buffer that grows by doubling up to maxBytes, so memory stays about the
// line's size whatever the pieces it arrives in (one byte per read
// included), and a peer that stops mid-line holds nothing else up.

export class BoundedLineReader {
  /** Lines dropped for being longer than maxBytes. */
  oversize = 0;
  private buf = Buffer.alloc(0);
  private held = 0;
  private skipping = false;

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl >= 0; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.skipping || this.held + piece.length > this.maxBytes) {
        if (!this.skipping) this.oversize++;
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
      this.onLine(line); // (a view: used before the next push)
    }
    if (start >= chunk.length || this.skipping) return;
    const rest = chunk.subarray(start);
    if (this.held + rest.length > this.maxBytes) {
      this.oversize++;
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

  /** The connection ended: an unfinished line is not a line. */
  end(): void {
    this.held = 0;
    this.skipping = false;
    this.buf = Buffer.alloc(0);
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
