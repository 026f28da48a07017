// One interface over the native capture bucketizer and its pure-TS twin.
import { nativeAddon } from '../../native/addon.js';
import type { CaptureBucketizer, NativeCaptureBucketizerOptions } from '../../native/types.js';
import { asList, ipBytes, macBytes } from './address.js';
import { NETFLOW_FIELDS as PACKED_FIELDS, NETFLOW_ROW_WIDTH as ROW_WIDTH } from './fields.js';
import { NETFLOW_COUNTERS } from './rows.js';
import { TsCaptureBucketizer } from './ts/bucketizer.js';

export interface BucketizeOptions {
  bucketMs: number;
  /** Wall clock (ns since the epoch) of the episode clock's 0; default: the first packet is 0. */
  originWallNs?: bigint;
  fillEmpty?: boolean;
  latenessMs?: number;
  skipBad?: boolean;
  guestIp?: string | string[];
  guestMac?: string | string[];
  bridgeIp?: string | string[];
  /**
   * Zero rows a gap between packets may make: a longer run of empty buckets
   * (a timestamp jump) is written up to this many and the rest counted in the
   * next row's empty_buckets_skipped; a fill budget (this, plus 16 per packet)
   * bounds them overall. Default 3600 (native/core/bucketizer.h).
   */
  maxEmptyBuckets?: number;
  /** Replay of a live run: the episode clock passed this (its end), so empty buckets before it were observed and are all written. */
  trustedUntilNs?: number;
}

/** What a bucket row carries after t_mono_ns, in the order rows are packed (declared once: fields.ts). */
export { PACKED_FIELDS, ROW_WIDTH };

/** The addon's interfaces, which the TS twin implements too; re-exported for the many users of this module. */
export type { CaptureBucketizer, CaptureStatus } from '../../native/types.js';

export type RawBucketRow = { t_mono_ns: number; distinct_estimated: boolean } & Record<(typeof NETFLOW_COUNTERS)[number], number>;

export type BucketizerKind = 'native' | 'ts';

export function unpackRows(a: Float64Array): RawBucketRow[] {
  const rows: RawBucketRow[] = [];
  for (let i = 0; i < a.length; i += ROW_WIDTH) {
    const r = { t_mono_ns: a[i]! } as Record<string, number | boolean>;
    PACKED_FIELDS.forEach((k, j) => (r[k] = k === 'distinct_estimated' ? a[i + 1 + j] === 1 : a[i + 1 + j]!));
    rows.push(r as RawBucketRow);
  }
  return rows;
}

export function createBucketizer(o: BucketizeOptions, kind?: BucketizerKind): { bucketizer: CaptureBucketizer; kind: BucketizerKind } {
  const addon = nativeAddon();
  if (kind === 'native' && !addon) throw new Error('the native bucketizer was requested but the addon is not loaded');
  if (!(o.bucketMs > 0)) throw new RangeError(`Expected bucketMs to be a positive number, got ${o.bucketMs}`);
  const config: NativeCaptureBucketizerOptions = {
    bucketNs: Math.round(o.bucketMs * 1e6),
    originWallNs: o.originWallNs,
    fillEmpty: o.fillEmpty ?? true,
    latenessNs: Math.round((o.latenessMs ?? 0) * 1e6),
    skipBad: o.skipBad ?? false,
    guestIps: asList(o.guestIp).map(ipBytes),
    guestMacs: asList(o.guestMac).map(macBytes),
    bridgeIps: asList(o.bridgeIp).map(ipBytes),
    maxEmptyBuckets: o.maxEmptyBuckets,
    trustedUntilNs: o.trustedUntilNs,
  };
  if (addon && kind !== 'ts') return { bucketizer: new addon.CaptureBucketizer(config), kind: 'native' };
  return { bucketizer: new TsCaptureBucketizer(config), kind: 'ts' };
}
