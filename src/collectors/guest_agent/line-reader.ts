// Cuts a byte stream into lines without trusting it: a line is kept up to
// maxBytes; a longer one is dropped whole (counted) and the reader
// resynchronizes at the next newline. Memory held is at most maxBytes,
// whatever the peer sends, and a peer that stops mid-line holds nothing else up.

export class BoundedLineReader {
  /** Lines dropped for being longer than maxBytes. */
  oversize = 0;
  private parts: Buffer[] = [];
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
        this.reset();
        continue;
      }
      const line = this.parts.length ? Buffer.concat([...this.parts, piece]) : piece;
      this.reset();
      this.onLine(line);
    }
    if (start >= chunk.length || this.skipping) return;
    const rest = chunk.subarray(start);
    if (this.held + rest.length > this.maxBytes) {
      this.oversize++;
      this.skipping = true; // until the next newline
      this.reset();
      return;
    }
    this.parts.push(Buffer.from(rest));
    this.held += rest.length;
  }

  /** Bytes of an unfinished line held. */
  get pending(): number {
    return this.held;
  }

  /** The connection ended: an unfinished line is not a line. */
  end(): void {
    this.reset();
    this.skipping = false;
  }

  private reset(): void {
    this.parts = [];
    this.held = 0;
  }
}
