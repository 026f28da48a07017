// One capture file through the addon's pipeline (CaptureBucketizer.runFd):
// rows come back as finished JSONL bytes and go straight to the file (no
// string made of them, nor encoded again by the writer). Its imports are the
// addon and what it needs alone, so `labtel bucketize` starts without the
// pure-TS twin and the row schema (bucketize-file.ts takes the other path).
import fs from 'node:fs';
import { nativeAddon } from '../../../native/addon.js';
import type { CaptureBucketizer, CaptureStatus } from '../../../native/types.js';
import type { BucketizerKind } from '../bucketizer.js';
import type { JsonlWriter } from '../../../rows/jsonl-writer.js';
import { errnoName } from '../../../util/errno.js';
import { nativeOptions, type BucketizeOptions } from '../native-options.js';

export interface BucketizeFileOptions extends BucketizeOptions {
  kind?: BucketizerKind;
  /** Called after each chunk with the bytes read so far. */
  onProgress?: (bytes: number, packets: number) => void;
}

export interface BucketizeFileResult {
  file: string;
  rows: number;
  status: CaptureStatus;
  kind: BucketizerKind;
}

type RunFd = NonNullable<CaptureBucketizer['runFd']>;

/** Runs an open capture through a bucketizer that has runFd (the addon's). */
export function runFile(file: string, fd: number, bucketizer: CaptureBucketizer & { runFd: RunFd }, writer: JsonlWriter, o: BucketizeFileOptions): BucketizeFileResult {
  const rowsBefore = writer.rows;
  const format = { bucketMs: o.bucketMs, availableInDeployment: writer.availableInDeployment, seq: writer.nextSeq('netflow') };
  const { readErrno } = bucketizer.runFd(fd, format, (lines: Uint8Array, rows: number, bytes: number, packets: number) => {
    writer.appendLineBytes('netflow', lines, rows);
    o.onProgress?.(bytes, packets);
  });
  if (readErrno) throw new Error(`cannot read ${file}: ${errnoName(readErrno)}`);
  writer.flush();
  return { file, rows: writer.rows - rowsBefore, status: bucketizer.status(), kind: 'native' };
}

/** bucketizeFile() on the addon; null when the addon is not loaded (the caller takes the pure-TS path). */
export function bucketizeNativeFile(file: string, writer: JsonlWriter, o: BucketizeFileOptions): BucketizeFileResult | null {
  const addon = nativeAddon();
  if (!addon || o.kind === 'ts') return null;
  const bucketizer = new addon.CaptureBucketizer(nativeOptions(o));
  if (!bucketizer.runFd) return null;
  const fd = fs.openSync(file, 'r');
  try {
    return runFile(file, fd, bucketizer as CaptureBucketizer & { runFd: RunFd }, writer, o);
  } finally {
    fs.closeSync(fd);
  }
}
