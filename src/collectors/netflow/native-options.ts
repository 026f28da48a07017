// A bucketizer's options, and the form both bucketizers take them in (the
// addon's options object, addresses packed): one module for createBucketizer
// and for the offline native path, which must start without loading the
// pure-TS twin or the row schema.
import type { NativeCaptureBucketizerOptions } from '../../native/types.js';
import { asList, ipBytes, macBytes } from './address.js';

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

export function nativeOptions(o: BucketizeOptions): NativeCaptureBucketizerOptions {
  if (!(o.bucketMs > 0)) throw new RangeError(`Expected bucketMs to be a positive number, got ${o.bucketMs}`);
  return {
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
}
