// Streams one capture file through a bucketizer into netflow rows: read in
// fixed chunks (memory bounded for any file size), rows written as buckets
// close, and on a bad record everything before it is still written.
import fs from 'node:fs';
import { createBucketizer } from '../bucketizer.js';
import type { JsonlWriter } from '../../../rows/jsonl-writer.js';
import { writeNetflowRows } from '../write-rows.js';
import { runFile, type BucketizeFileOptions, type BucketizeFileResult } from './bucketize-native.js';

export type { BucketizeFileOptions, BucketizeFileResult };

const CHUNK = 4 << 20;
/** What the pure-TS path feeds at once (see bucketizeFile). */
const FEED_BYTES = 64 << 10;

export function bucketizeFile(file: string, writer: JsonlWriter, o: BucketizeFileOptions): BucketizeFileResult {
  const { bucketizer, kind } = createBucketizer(o, o.kind);
  const rowsBefore = writer.rows;
  const fd = fs.openSync(file, 'r');
  try {
    if (bucketizer.runFd) return runFile(file, fd, bucketizer as Parameters<typeof runFile>[2], writer, o);
    const buf = Buffer.allocUnsafe(CHUNK);
    let read = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      read += n;
      // feed() returns every row its bytes closed at once: fed a FEED_BYTES slice at a time, a hostile chunk of
      // jumping 16-byte records (about 17 rows each within the fill budget) holds ~16 MiB of rows, not ~1 GiB.
      for (let at = 0; at < n && bucketizer.status().ok; at += FEED_BYTES) writeNetflowRows(writer, o.bucketMs, bucketizer.feed(buf.subarray(at, Math.min(n, at + FEED_BYTES))));
      o.onProgress?.(read, bucketizer.status().packets);
      if (!bucketizer.status().ok) break;
    }
    const end = bucketizer.finish();
    writeNetflowRows(writer, o.bucketMs, end.rows, end.lastPartial);
    writer.flush();
    return { file, rows: writer.rows - rowsBefore, status: bucketizer.status(), kind };
  } finally {
    fs.closeSync(fd);
  }
}
