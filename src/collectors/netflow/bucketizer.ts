// One interface over the native capture bucketizer and its pure-TS twin.
import { nativeAddon } from '../../native/addon.js';
import { asList, ipBytes, macBytes } from './address.js';
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
}

/** What a bucket row carries after t_mono_ns, in the order rows are packed. */
export const PACKED_FIELDS = [...NETFLOW_COUNTERS, 'distinct_estimated'] as const;
/** Doubles per packed row: t_mono_ns, then PACKED_FIELDS. */
export const ROW_WIDTH = PACKED_FIELDS.length + 1;

export type RawBucketRow = { t_mono_ns: number; distinct_estimated: boolean } & Record<(typeof NETFLOW_COUNTERS)[number], number>;

export interface CaptureStatus {
  ok: boolean;
  error: string | null;
  errorOffset: number | null;
  /** Bytes of input consumed. */
  offset: number;
  packets: number;
  skippedBytes: number;
  skippedRecords: number;
  /** Classic records longer than the file's snaplen, read as libpcap reads them (cut to the snaplen). */
  recordsOverSnaplen: number;
  /** Silences longer than the fill limit left as holes (hostile timestamp jumps). */
  holes: number;
}

/**
 * A capture stream in, closed bucket rows out. Rows travel packed, ROW_WIDTH
 * doubles each (one typed array per call rather than an object per row: the
 * objects cost more than the bucketing); unpackRows() gives objects.
 */
export interface CaptureBucketizer {
  /** Feeds a chunk of any size; returns the rows it closed. */
  feed(chunk: Uint8Array): Float64Array;
  /** Live use: the episode clock reached nowMonoNs; returns the rows that closed. */
  advance(nowMonoNs: number): Float64Array;
  /** End of input: the remaining rows, and whether the last one was cut short. */
  finish(): { rows: Float64Array; lastPartial: boolean };
  /** Live use (needs originWallNs, before any packet): the capture began at nowMonoNs; its empty buckets from there on give zero rows. */
  begin(nowMonoNs: number): void;
  /** Live use: the capture ended at endMonoNs; ends the input, closes every bucket starting before it, drops (and counts the packets of) later ones; only status() may follow. */
  end(endMonoNs: number): { rows: Float64Array; lastPartial: boolean; packetsAfterEnd: number };
  status(): CaptureStatus;
  /**
   * Native only: a whole file or pipe on three threads (read, parse, bucket),
   * rows handed back as finished netflow JSONL (the same bytes
   * writeNetflowRows() makes), seq counting from format.seq.
   */
  runFd?(
    fd: number,
    format: { bucketMs: number; availableInDeployment: boolean; seq: number },
    /** Runs on this thread while the pipeline's other threads run: do not call status() from it. */
    onLines: (text: string, rows: number, bytes: number, packets: number) => void,
  ): { readErrno: number; lastPartial: boolean };
}

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
  const config = {
    bucketNs: Math.round(o.bucketMs * 1e6),
    originWallNs: o.originWallNs,
    fillEmpty: o.fillEmpty ?? true,
    latenessNs: Math.round((o.latenessMs ?? 0) * 1e6),
    skipBad: o.skipBad ?? false,
    guestIps: asList(o.guestIp).map(ipBytes),
    guestMacs: asList(o.guestMac).map(macBytes),
    bridgeIps: asList(o.bridgeIp).map(ipBytes),
  };
  if (addon && kind !== 'ts') return { bucketizer: new addon.CaptureBucketizer(config), kind: 'native' };
  return { bucketizer: new TsCaptureBucketizer(config), kind: 'ts' };
}
