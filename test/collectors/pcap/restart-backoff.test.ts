// The backoff between tcpdump restarts: a tcpdump that keeps dying must not
// be respawned in a tight loop (capped at 8 s), one that captured for a
// while must come back quickly, and a stop must end the wait.
import { describe, expect, it } from 'vitest';
import { RestartBackoff } from '../../../src/collectors/pcap/restart-backoff.js';

describe('RestartBackoff', () => {
  it('doubles while runs keep dying (never started, or short), capped at 8 s; a run over 10 s starts over', () => {
    const b = new RestartBackoff(500);
    const seen = [b.delayMs];
    for (const ranNs of [null, 1e9, null, 5e9, null, null, 10e9, 10e9 + 1, null]) {
      b.next(ranNs);
      seen.push(b.delayMs);
    }
    expect(seen).toEqual([500, 1000, 2000, 4000, 8000, 8000, 8000, 8000, 500, 1000]);
  });

  it('its wait ends false at a stop, and true when it ran out', async () => {
    const stop = new AbortController();
    stop.abort();
    expect(await new RestartBackoff(60_000).wait(stop.signal)).toBe(false);
    expect(await new RestartBackoff(1).wait(new AbortController().signal)).toBe(true);
  });
});
