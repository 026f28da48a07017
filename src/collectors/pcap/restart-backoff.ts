// The wait before tcpdump is started again: from the first delay, doubling
// up to 8 s while it keeps dying; a run that captured for over 10 s starts
// the backoff over.
import { setTimeout as sleep } from 'node:timers/promises';

const MAX_DELAY_MS = 8000;
const LONG_RUN_NS = 10e9;

export class RestartBackoff {
  delayMs: number;

  constructor(private readonly firstMs = 500) {
    this.delayMs = firstMs;
  }

  /** Waits delayMs; false when the stop came first. */
  async wait(signal: AbortSignal): Promise<boolean> {
    try {
      await sleep(this.delayMs, undefined, { signal });
      return true;
    } catch {
      return false;
    }
  }

  /** After the wait: `ranNs` is how long the run that ended captured, null when it never started. */
  next(ranNs: number | null): void {
    this.delayMs = ranNs !== null && ranNs > LONG_RUN_NS ? this.firstMs : Math.min(this.delayMs * 2, MAX_DELAY_MS);
  }
}
