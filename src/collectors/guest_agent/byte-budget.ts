// What the guest may make labtel write: a token bucket of bytes per second
// (max_bytes_per_s) and a total (max_total_mb), both charged with the bytes
// of each row as written, envelope included. A row is written only when
// both have room for all of it; otherwise it is dropped (the caller counts
// it). The bucket holds one second's worth, or one longest row when that is
// more, so a line of max_line_bytes can always pass once the bucket refills.
// Times are the rows' own t_mono_ns (ns), so a row file can be checked
// against the bound with nothing but its rows: over any span of rows,
// written <= capacity + max_bytes_per_s * span.

export type BudgetVerdict = 'ok' | 'byte_rate' | 'total_cap';

export class ByteBudget {
  /** Bytes of guest rows written so far. */
  written = 0;
  readonly capacity: number;
  private tokens: number;
  private lastNs: number | null = null;

  constructor(
    readonly bytesPerS: number,
    readonly totalBytes: number,
    /** The longest row one line can make (bytes). */
    longestRow: number,
  ) {
    this.capacity = Math.max(bytesPerS, longestRow);
    this.tokens = this.capacity;
  }

  private refill(nowNs: number): void {
    if (this.lastNs !== null && nowNs > this.lastNs) this.tokens = Math.min(this.capacity, this.tokens + ((nowNs - this.lastNs) / 1e9) * this.bytesPerS);
    if (this.lastNs === null || nowNs > this.lastNs) this.lastNs = nowNs;
  }

  /** Whether a row of `bytes` would pass now (nothing is charged). */
  check(bytes: number, nowNs: number): BudgetVerdict {
    this.refill(nowNs);
    if (this.written + bytes > this.totalBytes) return 'total_cap';
    if (bytes > this.tokens) return 'byte_rate';
    return 'ok';
  }

  /** Charges a row of `bytes` written at `nowNs` (after check said ok). */
  charge(bytes: number, nowNs: number): void {
    this.refill(nowNs);
    this.tokens -= bytes;
    this.written += bytes;
  }
}
