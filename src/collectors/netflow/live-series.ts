// One capture run as netflow rows: it begins when the capture began, takes
// whole pcap records as they come, closes buckets as the episode clock
// passes them, and ends when the capture ended. The live collector and
// `labtel bucketize --episode` drive the same calls with the same times, so
// the saved capture replays into the same rows.
import type { JsonlWriter } from '../../rows/jsonl-writer.js';
import { writeNetflowRows } from './write-rows.js';
import { createBucketizer, type BucketizeOptions, type BucketizerKind, type CaptureBucketizer, type CaptureStatus } from './bucketizer.js';

export interface SeriesEnd {
  /** Packets stamped after the end (captured while the capture was being stopped): in no row. */
  packetsAfterEnd: number;
  status: CaptureStatus;
}

export class LiveSeries {
  private readonly b: CaptureBucketizer;
  /** t_mono_ns of the first bucket when the capture began inside it (that row is partial). */
  private readonly partialAt: number | undefined;

  constructor(
    private readonly writer: JsonlWriter,
    private readonly o: BucketizeOptions & { originWallNs: bigint },
    atNs: number,
    kind?: BucketizerKind,
  ) {
    this.b = createBucketizer({ ...o, fillEmpty: true }, kind).bucketizer;
    this.b.begin(atNs);
    const bucketNs = BigInt(Math.round(o.bucketMs * 1e6));
    const t = BigInt(Math.round(atNs));
    const k = (t >= 0n ? t : t - bucketNs + 1n) / bucketNs;
    this.partialAt = k * bucketNs === t ? undefined : Number(k * bucketNs);
  }

  /** Whole records (the first chunk of a run starts with the pcap header). */
  feed(bytes: Uint8Array): void {
    this.write(this.b.feed(bytes));
  }

  advance(atNs: number): void {
    this.write(this.b.advance(atNs));
  }

  end(atNs: number): SeriesEnd {
    const r = this.b.end(atNs);
    this.write(r.rows, r.lastPartial);
    return { packetsAfterEnd: r.packetsAfterEnd, status: this.b.status() };
  }

  status(): CaptureStatus {
    return this.b.status();
  }

  private write(rows: Float64Array, lastPartial = false): void {
    if (rows.length) writeNetflowRows(this.writer, this.o.bucketMs, rows, lastPartial, this.partialAt);
  }
}
