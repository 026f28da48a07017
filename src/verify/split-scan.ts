// `labtel verify` on two cores: the tail of the episode's largest telemetry
// file is offered to a worker thread, started before verify loads its
// modules so that both threads load theirs at once; the main thread scans
// the head, then the other files, then joins the worker's scan of the tail
// (scan-merge.ts). Whoever comes first takes the tail: a worker that has not
// started it by then (a busy machine) leaves it to the main thread, which is
// then no slower than one pass. A tail that cannot be joined exactly, or a
// worker that fails or stops making progress, and the main thread scans the
// file itself. A second core is used only when there is one to spare (load
// average): on a busy host the worker's start-up would take CPU from the
// main thread. Zod-free, and imports nothing of verify's (this module is
// loaded before them).
//
// LABTEL_VERIFY_SPLIT: `off` never splits (one thread; the README tells users).
// For tests: `worker` splits any file of two lines or more and leaves the tail
// to the worker (waits for it; its failure is an error, not a scan again);
// `main` splits it and scans the tail on the main thread, as when the worker
// comes late.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { receiveMessageOnPort, MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { spawnModuleWorker } from '../util/spawn-worker.js';
import type { FileScan, scanFile } from './scan-rows.js';

/**
 * Episodes of less telemetry are scanned on one thread: the worker's start-up (zod and the row schemas, then
 * the head's lines counted) costs 0.1-0.2 s of CPU, which a small episode would not win back in wall time.
 */
export const SPLIT_MIN_BYTES = 40 << 20;
export type SplitMode = 'auto' | 'off' | 'worker' | 'main';
const MODE: SplitMode = (['off', 'worker', 'main'] as const).find((m) => m === process.env.LABTEL_VERIFY_SPLIT) ?? 'auto';
/**
 * The part of all telemetry bytes the worker takes (from the largest file's tail): a little less than half, as
 * it also counts the head's lines. With the bundle (bin/labtel.js) both threads are ready about together; the
 * worker finished first at 0.4 (main thread's CPU 0.38 s, the worker's 0.22-0.27 s, load 5-6).
 */
const TAIL_SHARE = 0.47;
/** How long the main thread waits for a worker that reads nothing before it scans the tail itself. */
const STALLED_MS = 10_000;

/** The tail's phase, in the shared Int32Array at 0; at 1, the worker's reads so far. */
export const OFFERED = 0;
export const TAKEN_BY_WORKER = 1;
export const TAKEN_BY_MAIN = 2;
export const DONE = 3;
export const FAILED = 4;

/** What the worker is given (workerData). */
export interface SplitJob {
  file: string;
  collector: string;
  at: number;
  state: SharedArrayBuffer;
  port: MessagePort;
}

/** What the worker sends back: the tail's scan and the lines before it (which the head must have counted too). */
export type SplitResult = { scan: FileScan; lineBase: number } | { error: string };

type Row = Record<string, unknown>;
// scan-rows.ts's scanFile, handed in by verify-episode.ts (a type import: this module loads before verify's).
type Scan = typeof scanFile;
type Merge = (head: FileScan, tail: FileScan) => FileScan | null;

export class SplitScan {
  private readonly state: Int32Array;
  private worker: Worker | null;
  /** Who scanned the tail (once finished): the worker, the main thread, or neither (the whole file scanned again). */
  tailBy: 'worker' | 'main' | 'whole' | null = null;

  constructor(
    /** The collector whose file is split (telemetry-<collector>.jsonl), and the byte where its tail starts (a line's start). */
    readonly collector: string,
    readonly at: number,
    worker: Worker,
    state: SharedArrayBuffer,
    private readonly port: MessagePort,
    private readonly mode: SplitMode,
  ) {
    this.worker = worker;
    this.state = new Int32Array(state);
  }

  /** The tail is not wanted (the file is not judged, or its rows go to a reader): the worker stops when it comes to it. */
  cancel(): void {
    Atomics.compareExchange(this.state, 0, OFFERED, TAKEN_BY_MAIN);
    this.close();
  }

  /**
   * The scan of the whole file from its head's (scanFile with `{ end: at }`): the worker's scan of the tail joined
   * to it, or the tail scanned here when the worker had not started it; the whole file scanned again when the
   * tail cannot be joined exactly or the worker failed.
   */
  finish(file: string, head: FileScan, silenceOf: (row: Row) => boolean, scan: Scan, merge: Merge): FileScan {
    let tail: FileScan | null = null;
    // The lines before the tail as one pass numbers them: a line over the bound is one, though not scanned.
    const before = head.endedLines ?? head.lines;
    const mine = this.mode === 'main' || (this.mode !== 'worker' && Atomics.compareExchange(this.state, 0, OFFERED, TAKEN_BY_MAIN) === OFFERED);
    if (mine) {
      tail = scan(file, silenceOf, undefined, { start: this.at, lineBase: before, continued: true });
    } else {
      const r = this.wait();
      if (r && !('error' in r) && r.lineBase === before) tail = r.scan;
      // The tests' mode says so instead of scanning again, or a worker that cannot start would pass unseen.
      else if (this.mode === 'worker') throw new Error(`verify's split scan: the worker failed (${r === null ? 'no result' : 'error' in r ? r.error : `lines ${r.lineBase} before the tail, not ${before}`})`);
    }
    this.close();
    const merged = tail && merge(head, tail);
    if (merged) {
      this.tailBy = mine ? 'main' : 'worker';
      return merged;
    }
    this.tailBy = 'whole';
    return scan(file, silenceOf);
  }

  /** The worker's result, or null when it failed or stopped reading. */
  private wait(): SplitResult | null {
    let reads = Atomics.load(this.state, 1);
    let since = Date.now();
    for (;;) {
      const phase = Atomics.load(this.state, 0);
      if (phase === DONE || phase === FAILED) break;
      Atomics.wait(this.state, 0, phase, 200);
      const now = Atomics.load(this.state, 1);
      if (now !== reads) {
        reads = now;
        since = Date.now();
      } else if (Date.now() - since > STALLED_MS) return null;
    }
    return (receiveMessageOnPort(this.port)?.message as SplitResult | undefined) ?? null;
  }

  private close(): void {
    if (!this.worker) return;
    this.port.close();
    void this.worker.terminate();
    this.worker = null;
  }
}

/**
 * Offers the tail of `dir`'s largest telemetry file to a worker thread, or null when its files are too small to
 * be worth one (or cannot be listed: verify says so itself).
 */
export function startSplitScan(dir: string, mode: SplitMode = MODE): SplitScan | null {
  if (mode === 'off' || (mode === 'auto' && !spareCore())) return null;
  let largest: { collector: string; file: string; size: number } | null = null;
  let total = 0;
  try {
    for (const name of fs.readdirSync(dir)) {
      const m = /^telemetry-(.+)\.jsonl$/.exec(name);
      if (!m) continue;
      const file = path.join(dir, name);
      const st = fs.statSync(file);
      if (!st.isFile()) continue;
      total += st.size;
      if (!largest || st.size > largest.size) largest = { collector: m[1]!, file, size: st.size };
    }
  } catch {
    return null;
  }
  if (!largest || (mode === 'auto' && total < SPLIT_MIN_BYTES)) return null;
  let at: number;
  try {
    at = lineStartAfter(largest.file, largest.size - Math.min(largest.size, total * TAIL_SHARE));
  } catch {
    // Unreadable (a file verify may not even judge, as the agent's own): verify reads the files as it would have, and says so itself.
    return null;
  }
  if (at <= 0 || at >= largest.size) return null;
  const state = new SharedArrayBuffer(8);
  const { port1, port2 } = new MessageChannel();
  let worker: Worker;
  try {
    const job: SplitJob = { file: largest.file, collector: largest.collector, at, state, port: port2 };
    worker = spawnModuleWorker(import.meta.url, 'split-scan-worker', job, [port2]);
  } catch {
    return null;
  }
  worker.unref();
  if (mode === 'main') Atomics.store(new Int32Array(state), 0, TAKEN_BY_MAIN);
  // A worker that fails to start is a tail the main thread scans: nothing to report.
  worker.on('error', () => Atomics.compareExchange(new Int32Array(state), 0, OFFERED, TAKEN_BY_MAIN));
  return new SplitScan(largest.collector, at, worker, state, port1, mode);
}

/** Whether a core is to spare for the worker: two or more, and the last minute's load average below their number. */
function spareCore(): boolean {
  const cores = os.availableParallelism();
  return cores >= 2 && os.loadavg()[0]! < cores;
}

/** The start of the first line that starts after byte `from` of `file`, or -1 when there is none within 1 MiB. */
function lineStartAfter(file: string, from: number): number {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    const n = fs.readSync(fd, buf, 0, buf.length, Math.max(0, Math.floor(from) - 1));
    const nl = buf.subarray(0, n).indexOf(10);
    return nl < 0 ? -1 : Math.max(0, Math.floor(from) - 1) + nl + 1;
  } finally {
    fs.closeSync(fd);
  }
}
