// One interface over the native capture bucketizer and its pure-TS twin.
import { nativeAddon } from '../../native/addon.js';
import type { CaptureBucketizer } from '../../native/types.js';
import { nativeOptions, type BucketizeOptions } from './native-options.js';
import { NETFLOW_FIELDS as PACKED_FIELDS, NETFLOW_ROW_WIDTH as ROW_WIDTH } from './fields.js';
import { NETFLOW_COUNTERS } from './rows.js';
import { TsCaptureBucketizer } from './ts/bucketizer.js';

export type { BucketizeOptions } from './native-options.js';

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
  const config = nativeOptions(o);
  if (addon && kind !== 'ts') return { bucketizer: new addon.CaptureBucketizer(config), kind: 'native' };
  return { bucketizer: new TsCaptureBucketizer(config), kind: 'ts' };
}
