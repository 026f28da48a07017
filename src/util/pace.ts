// Runs tick() every intervalMs on a fixed schedule (k * interval from the
// start), so the average rate holds even when a wake-up is late; resyncs to
// "now" when more than ten periods behind instead of bursting to catch up.
//
// With a stop flag (a collector on its worker thread), the wait is
// Atomics.wait: one futex sleep with sub-millisecond precision, woken at once
// when the agent raises the flag. Without one (runLoop on the caller's
// thread), it uses timers, which leave the event loop free.
import { setTimeout as sleep, setImmediate as yieldNow } from 'node:timers/promises';

/** Shared between the agent and a worker: 0 while running, 1 once stopped. */
export type StopFlag = Int32Array;

export function newStopFlag(): StopFlag {
  return new Int32Array(new SharedArrayBuffer(4));
}

export function raiseStopFlag(flag: StopFlag): void {
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

export async function paced(
  intervalMs: number,
  signal: AbortSignal,
  tick: () => boolean | Promise<boolean>,
  stopFlag?: StopFlag,
): Promise<void> {
  const period = intervalMs * 1e6;
  let next = Number(process.hrtime.bigint());
  const stopped = () => signal.aborted || (stopFlag !== undefined && Atomics.load(stopFlag, 0) !== 0);
  while (!stopped()) {
    if (!(await tick())) return;
    next += period;
    const now = Number(process.hrtime.bigint());
    const waitNs = next - now;
    if (waitNs < -10 * period) next = now;
    if (stopFlag) {
      if (waitNs > 0) Atomics.wait(stopFlag, 0, 0, waitNs / 1e6);
      continue;
    }
    try {
      // Node timers have 1 ms granularity: round to the nearest ms (at least 1),
      // and yield without sleeping only to catch up when behind schedule.
      if (waitNs > 0) await sleep(Math.max(1, Math.round(waitNs / 1e6)), undefined, { signal });
      else await yieldNow(undefined, { signal });
    } catch {
      return; // aborted
    }
  }
}
