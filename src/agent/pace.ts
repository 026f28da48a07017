// Runs tick() every intervalMs on a fixed schedule (k * interval from the
// start), so the average rate holds even when timers fire late; falls back to
// "now" if more than ten periods behind, instead of bursting to catch up.
import { setTimeout as sleep } from 'node:timers/promises';
import { setImmediate as yieldNow } from 'node:timers/promises';

export async function paced(intervalMs: number, signal: AbortSignal, tick: () => boolean | Promise<boolean>): Promise<void> {
  const period = intervalMs * 1e6;
  let next = Number(process.hrtime.bigint());
  while (!signal.aborted) {
    if (!(await tick())) return;
    next += period;
    const now = Number(process.hrtime.bigint());
    const waitNs = next - now;
    if (waitNs < -10 * period) next = now;
    try {
      // Node timers have 1 ms granularity: sleep only for whole ms, then yield.
      if (waitNs >= 1e6) await sleep(Math.floor(waitNs / 1e6), undefined, { signal });
      else await yieldNow(undefined, { signal });
    } catch {
      return; // aborted
    }
  }
}
