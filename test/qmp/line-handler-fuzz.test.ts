// The QMP fuzz property (test/fuzz/qmp-lines.ts), deterministic: 300 inputs
// from a fixed seed, so a regression in the line handling fails npm test the
// same way every time (the timed, random run is test/fuzz/fuzz.test.ts).
//
// regression for: a QMP line handler that throws on hostile input, holds
// more than its bounds, leaves a command waiting, or loses a line from the
// accounting (see the invariants in qmp-lines.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QMP_SEEDS, qmpLinesProperty } from '../fuzz/qmp-lines.js';

describe('QMP line handling under fast-check (fixed seed)', () => {
  it('seeds are real QMP traffic: a greeting, replies, an error and events', () => {
    expect(QMP_SEEDS.length).toBeGreaterThan(10);
    expect(QMP_SEEDS.some((l) => l.startsWith('{"QMP": {"version": {"qemu":'))).toBe(true);
    expect(QMP_SEEDS.some((l) => l.includes('"event": "RESUME"'))).toBe(true);
    expect(QMP_SEEDS.some((l) => l.includes('"event": "STOP"'))).toBe(true);
    expect(QMP_SEEDS.some((l) => l.includes('"error": {"class": "CommandNotFound"'))).toBe(true);
    expect(QMP_SEEDS.some((l) => l.includes('"thread-id"'))).toBe(true);
  });

  it('holds for 300 inputs from seed 42', () => {
    fc.assert(qmpLinesProperty(), { numRuns: 300, seed: 42 });
  });
});
