// The guest line fuzz target (test/fuzz/guest-lines.ts), deterministically:
// 200 runs from seed 42, so a broken invariant fails npm test the same way
// every time (test/fuzz/fuzz.test.ts runs it for a while with fresh seeds).
// regression for: lines neither written nor counted, rows larger than the
// guest's bytes, the budget or the cap overrun, unbounded held bytes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GUEST_SEEDS, guestLinesProperty } from '../../fuzz/guest-lines.js';

describe('guest line fuzz target', () => {
  it('is seeded with real traffic: the test guest\'s lines and a real qemu-ga\'s answers, the sync\'s with its 0xFF', () => {
    expect(GUEST_SEEDS.length).toBeGreaterThan(20);
    expect(GUEST_SEEDS.some((l) => l.toString().startsWith('{"seq":'))).toBe(true);
    expect(GUEST_SEEDS.some((l) => l[0] === 0xff)).toBe(true);
    expect(GUEST_SEEDS.some((l) => l.toString().includes('"return"'))).toBe(true);
  });

  it('holds for 200 runs from seed 42', async () => {
    await fc.assert(guestLinesProperty(), { numRuns: 200, seed: 42 });
  });
});
