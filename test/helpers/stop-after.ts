// A proc loop's clock that stops it after exactly `samples` samples: procLoop
// reads the clock once at the start of each sample, and a stop raised during a
// sample ends the loop once that sample is written. No timer decides how many.
import { EpisodeClock } from '../../src/clock/origin.js';

export function stopAfterSamples(samples: number): { clock: EpisodeClock; signal: AbortSignal } {
  const controller = new AbortController();
  const clock = new EpisodeClock(0);
  let taken = 0;
  const now = clock.now.bind(clock);
  clock.now = () => {
    if (++taken >= samples) controller.abort();
    return now();
  };
  return { clock, signal: controller.signal };
}
