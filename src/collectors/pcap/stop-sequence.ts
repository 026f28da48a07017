// How one tcpdump run ends. It exits by itself, or the episode stops: then
// the run's end is that instant, and tcpdump keeps capturing DRAIN_MS so
// that the kernel hands over every packet from before it (its ring delivers
// blocks up to 1 s late) before it gets SIGTERM. A stop while tcpdump is
// still starting ends it there.
import { setTimeout as sleep } from 'node:timers/promises';
import { DRAIN_MS } from './packet-stream.js';
import type { TcpdumpExit, TcpdumpRun } from './tcpdump-run.js';

export interface RunEnd {
  exit: TcpdumpExit;
  /** The end of the run on the episode clock. */
  endAt: number;
}

/** `onEnd` is called once the run has ended or the stop came, before the drain. */
export async function endOfRun(t: TcpdumpRun, started: boolean, stopped: Promise<'stop'>, now: () => number, onEnd: () => void): Promise<RunEnd> {
  if (!started) {
    t.stop(); // (if the stop came first)
    const exit = await t.exited;
    return { exit, endAt: now() };
  }
  const ended = await Promise.race([t.exited, stopped]);
  onEnd();
  if (ended !== 'stop') return { exit: ended, endAt: now() };
  // Everything captured before this instant is delivered within the ring's block timeout.
  const endAt = now();
  await Promise.race([sleep(DRAIN_MS), t.exited]);
  t.stop();
  return { exit: await t.exited, endAt };
}

/** Resolves at the stop (at once when it already came). */
export function whenStopped(signal: AbortSignal): Promise<'stop'> {
  return new Promise<'stop'>((resolve) => {
    if (signal.aborted) resolve('stop');
    signal.addEventListener('abort', () => resolve('stop'), { once: true });
  });
}
