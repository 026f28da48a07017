// One capture file through the addon's pipeline (CaptureBucketizer.runFd):
// rows come back as finished JSONL text and go straight to the writer. Its
// imports are the addon and what it needs alone, so `labtel bucketize`
// starts without the pure-TS twin and the row schema (bucketize-file.ts
// takes the other path).
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
type Format = Parameters<RunFd>[1];
type OnLines = Parameters<RunFd>[2];
/** The addon's runFd in two halves (native/binding_bucketize.cc): start() runs the pipeline in the background, drain() is the rest of runFd. */
interface Startable {
  start(fd: number, format: Format): void;
  drain(onLines: OnLines): ReturnType<RunFd>;
  abort(): void;
}

/** A capture whose pipeline was started before its writer existed (startNativeFile). */
export interface StartedFile {
  file: string;
  fd: number;
  bucketizer: CaptureBucketizer & Startable;
  format: Format;
  /** Taken by bucketizeNativeFile(), which then owns the fd and the run. */
  taken: boolean;
}

/** Drains a capture's pipeline into the writer (run: runFd's or drain's call). */
function drainInto(file: string, bucketizer: CaptureBucketizer, writer: JsonlWriter, o: BucketizeFileOptions, run: (onLines: OnLines) => ReturnType<RunFd>): BucketizeFileResult {
  const rowsBefore = writer.rows;
  const { readErrno } = run((text, rows, bytes, packets) => {
    writer.appendLines('netflow', text, rows);
    o.onProgress?.(bytes, packets);
  });
  if (readErrno) throw new Error(`cannot read ${file}: ${errnoName(readErrno)}`);
  writer.flush();
  return { file, rows: writer.rows - rowsBefore, status: bucketizer.status(), kind: 'native' };
}

const formatFor = (o: BucketizeFileOptions, writer: JsonlWriter): Format => ({ bucketMs: o.bucketMs, availableInDeployment: writer.availableInDeployment, seq: writer.nextSeq('netflow') });

/** Runs an open capture through a bucketizer that has runFd (the addon's). */
export function runFile(file: string, fd: number, bucketizer: CaptureBucketizer & { runFd: RunFd }, writer: JsonlWriter, o: BucketizeFileOptions): BucketizeFileResult {
  const format = formatFor(o, writer);
  return drainInto(file, bucketizer, writer, o, (onLines) => bucketizer.runFd(fd, format, onLines));
}

/**
 * Starts a capture's pipeline (read, parse, bucket, format) on the addon's
 * threads before its writer exists, so that it runs while the rest of the
 * command loads; its rows wait (bounded) until bucketizeNativeFile() drains
 * them into a writer whose format is `format`. Null when that cannot be:
 * no addon, or the capture is not a regular file that opens (the ordinary
 * path then opens it and says what is wrong, as before).
 */
export function startNativeFile(file: string, o: BucketizeFileOptions, format: Format): StartedFile | null {
  const addon = nativeAddon();
  if (!addon || o.kind === 'ts') return null;
  const bucketizer = new addon.CaptureBucketizer(nativeOptions(o)) as CaptureBucketizer & Partial<Startable>;
  if (!bucketizer.start || !bucketizer.drain || !bucketizer.abort) return null;
  // Only a regular file: opening a FIFO would pair with its writer (and closing it unread end that writer), and
  // reading a device would take what the command reads later. Checked before the open and, on what was opened, after.
  let fd: number;
  try {
    if (!fs.statSync(file).isFile()) return null;
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) throw new Error('not a regular file');
    bucketizer.start(fd, format);
  } catch {
    fs.closeSync(fd);
    return null;
  }
  return { file, fd, bucketizer: bucketizer as CaptureBucketizer & Startable, format, taken: false };
}

/** Stops a started pipeline nobody drained, and closes its capture. */
export function abandonStarted(s: StartedFile): void {
  if (s.taken) return;
  s.taken = true;
  s.bucketizer.abort();
  fs.closeSync(s.fd);
}

const sameFormat = (a: Format, b: Format) => a.bucketMs === b.bucketMs && a.availableInDeployment === b.availableInDeployment && a.seq === b.seq;

/**
 * bucketizeFile() on the addon; null when the addon is not loaded (the caller takes the pure-TS path).
 * `started`: that capture's pipeline, already running (startNativeFile), drained here when it is this
 * file's with this writer's format (else it is stopped and the file run anew).
 */
export function bucketizeNativeFile(file: string, writer: JsonlWriter, o: BucketizeFileOptions, started?: StartedFile | null): BucketizeFileResult | null {
  if (started && !started.taken) {
    if (started.file === file && sameFormat(started.format, formatFor(o, writer))) {
      started.taken = true;
      try {
        return drainInto(file, started.bucketizer, writer, o, (onLines) => started.bucketizer.drain(onLines));
      } finally {
        started.bucketizer.abort();
        fs.closeSync(started.fd);
      }
    }
    abandonStarted(started);
  }
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
