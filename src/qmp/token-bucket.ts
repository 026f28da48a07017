// A token bucket: `ratePerS` tokens a second, holding at most `burst` (by
// default one second's worth), starting full. take() is O(1) and allocates
// nothing, so a flood costs one call per message. take(n) of more than the
// burst passes from a full bucket and leaves it in debt, so the long-run
// rate holds for any size (a byte budget smaller than one message).

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerS: number,
    private readonly now: () => number = () => performance.now(),
    readonly burst: number = ratePerS,
  ) {
    if (!(ratePerS > 0) || !(burst >= 1)) throw new Error(`TokenBucket: expected a positive rate and a burst of at least 1, got ${ratePerS}/s and ${burst}`);
    this.tokens = burst;
    this.last = now();
  }

  /** Takes `n` tokens (default one) if there are that many, or a full bucket's worth when n is more than the burst. */
  take(n = 1): boolean {
    const t = this.now();
    const dt = t - this.last;
    this.last = t;
    // A clock that steps back (it should not: performance.now is monotonic) refills nothing.
    if (dt > 0) this.tokens = Math.min(this.burst, this.tokens + (dt * this.ratePerS) / 1000);
    if (this.tokens < Math.min(n, this.burst)) return false;
    this.tokens -= n;
    return true;
  }
}
