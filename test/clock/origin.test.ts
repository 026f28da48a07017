import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EpisodeClock, monoNowNs, takeOrigin } from '../../src/clock/origin.js';

describe('episode clock', () => {
  it('records monotonic and realtime readings taken together, and the boot id', () => {
    const wallBefore = BigInt(Date.now()) * 1_000_000n;
    const before = monoNowNs();
    const o = takeOrigin();
    const after = monoNowNs();
    const wallAfter = BigInt(Date.now() + 1) * 1_000_000n; // Date.now() truncates to the ms
    const mono = BigInt(o.t_mono_origin_ns);
    expect(mono >= before && mono <= after).toBe(true);
    expect(BigInt(o.realtime_minus_mono_ns)).toBe(BigInt(o.realtime_origin_ns) - mono);
    // The realtime reading is the wall clock between two readings of it around takeOrigin():
    // an order, not a tolerance in seconds (regression for a 5 s threshold a loaded host could pass or fail).
    const realtime = BigInt(o.realtime_origin_ns);
    expect(realtime >= wallBefore && realtime <= wallAfter, `${realtime} not in [${wallBefore}, ${wallAfter}]`).toBe(true);
    expect(o.boot_id).toBe(fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    expect(o.uncertainty_ns).toBeGreaterThanOrEqual(0);
  });

  it('maps a wall-clock timestamp onto the episode clock with the recorded offset', () => {
    const c = new EpisodeClock(1_000_000_000n, 1_700_000_000_000_000_000n);
    // The instant of the origin in wall-clock terms is t_mono_ns 0; 50 ms later is 50e6.
    expect(c.fromWall(1_700_000_001_000_000_000n)).toBe(0);
    expect(c.fromWall(1_700_000_001_050_000_000n)).toBe(50_000_000);
    expect(c.fromWall(1_700_000_000_900_000_000n)).toBe(-100_000_000); // before the origin: negative, not clamped
    expect(c.fromMono(1_000_000_123n)).toBe(123);
  });

  it('counts from the origin', () => {
    const c = EpisodeClock.fromOrigin(takeOrigin());
    const a = c.now();
    const b = c.now();
    expect(a).toBeGreaterThanOrEqual(0);
    expect(b).toBeGreaterThanOrEqual(a);
    expect(Number.isInteger(a)).toBe(true);
  });
});
