// The episode clock: one CLOCK_MONOTONIC origin, a CLOCK_REALTIME reading taken
// at the same instant (bracketed, so its uncertainty is known) and the boot_id.
// See docs/clock.md.
import { readFileSync } from 'node:fs';
import { nativeAddon } from '../native/addon.js';

export interface ClockOrigin {
  /** CLOCK_MONOTONIC at the origin, ns (decimal string: JSON numbers lose precision past 2^53). */
  t_mono_origin_ns: string;
  /** CLOCK_REALTIME at the origin, ns since the Unix epoch (decimal string). */
  realtime_origin_ns: string;
  /** CLOCK_REALTIME minus CLOCK_MONOTONIC, ns (decimal string). */
  realtime_minus_mono_ns: string;
  /** Width of the bracket around the realtime reading, ns: the offset is known to within this. */
  uncertainty_ns: number;
  boot_id: string;
  /** 'native': clock_gettime(2) in the addon; 'ts': Date.now(), millisecond resolution. */
  source: 'native' | 'ts';
}

/** process.hrtime is CLOCK_MONOTONIC on Linux (libuv's uv_hrtime). */
export const monoNowNs = (): bigint => process.hrtime.bigint();

export function readBootId(procRoot = '/proc'): string {
  return readFileSync(`${procRoot}/sys/kernel/random/boot_id`, 'utf8').trim();
}

export function takeOrigin(): ClockOrigin {
  let before: bigint, realtime: bigint, after: bigint, source: ClockOrigin['source'];
  const addon = nativeAddon();
  if (addon) {
    [before, realtime, after] = addon.readClocks();
    source = 'native';
  } else {
    before = monoNowNs();
    realtime = BigInt(Date.now()) * 1_000_000n;
    after = monoNowNs();
    source = 'ts';
  }
  const mono = before + (after - before) / 2n;
  // Date.now() truncates to the millisecond: the offset is uncertain by that much more.
  const uncertainty = Number(after - before) + (source === 'ts' ? 1_000_000 : 0);
  return {
    t_mono_origin_ns: mono.toString(),
    realtime_origin_ns: realtime.toString(),
    realtime_minus_mono_ns: (realtime - mono).toString(),
    uncertainty_ns: uncertainty,
    boot_id: readBootId(),
    source,
  };
}

/** A clock to stamp rows with: integer ns since the origin. */
export class EpisodeClock {
  readonly originNs: bigint;
  readonly realtimeMinusMonoNs: bigint;

  constructor(originNs: bigint | number | string, realtimeMinusMonoNs: bigint | number | string = 0n) {
    this.originNs = BigInt(originNs);
    this.realtimeMinusMonoNs = BigInt(realtimeMinusMonoNs);
  }

  static fromOrigin(o: ClockOrigin): EpisodeClock {
    return new EpisodeClock(o.t_mono_origin_ns, o.realtime_minus_mono_ns);
  }

  /** Now, in ns since the origin. */
  now(): number {
    return Number(monoNowNs() - this.originNs);
  }

  /** A CLOCK_MONOTONIC reading (ns) on the episode clock. */
  fromMono(monoNs: bigint): number {
    return Number(monoNs - this.originNs);
  }

  /** A wall-clock timestamp (ns since the epoch) on the episode clock. */
  fromWall(wallNs: bigint): number {
    return Number(wallNs - this.realtimeMinusMonoNs - this.originNs);
  }
}
