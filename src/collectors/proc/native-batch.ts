// The proc collector's fast path at short intervals: the native sampler
// sleeps, samples and formats steady rows in C++ for a batch of periods
// (native/core/proc_batch.cc), and this thread wakes once per batch to append
// them and write them in one write(2). Any other sample (first row, exit,
// restart, a new null) comes back unformatted for run-loop.ts to judge.
import type { JsonlWriter } from '../../rows/jsonl-writer.js';
import type { NativeProcSampler } from '../../native/types.js';
import type { ProcSampler, SamplerKind } from './sampler.js';

/** Rows stay in C++ at most this long: what a killed worker can lose, and the time between writes. */
export const BATCH_MS = 50;
/** Longer intervals sleep in Atomics.wait (woken at once by the stop flag), one row per wake-up. */
export const MAX_BATCHED_INTERVAL_MS = 10;

/** batch()'s state array: [seq, prevT, identity, nextNs] in and out, then [end, rows, measured, handoffT] out. */
export const BATCH = { seq: 0, prevT: 1, identity: 2, nextNs: 3, end: 4, rows: 5, measured: 6, handoffT: 7 } as const;
export const BATCH_END = { full: 0, stopped: 1, handoff: 2 } as const;

export type BatchingSampler = ProcSampler & Required<Pick<NativeProcSampler, 'batchFormat' | 'batchSignature' | 'batch'>>;

export function canBatch(s: ProcSampler): s is BatchingSampler {
  const n = s as Partial<NativeProcSampler>;
  return typeof n.batch === 'function' && typeof n.batchFormat === 'function' && typeof n.batchSignature === 'function';
}

/**
 * Whether procLoop makes its rows in the native batch loop with this sampler and these options, or one JS tick per
 * row: the one place the choice is made (run-loop.ts, and bench:proc saying which path it measured).
 */
export function batchesRows(kind: SamplerKind, sampler: ProcSampler, o: { intervalMs: number; threads?: boolean; stopFlag?: Int32Array; batch?: boolean }): boolean {
  return o.batch !== false && kind === 'native' && o.stopFlag !== undefined && !o.threads && o.intervalMs <= MAX_BATCHED_INTERVAL_MS && canBatch(sampler);
}

/** The rows a batch holds at most: BATCH_MS of them. */
export function batchRows(intervalMs: number): number {
  return Math.max(1, Math.floor(BATCH_MS / intervalMs));
}

/** Tells the sampler how rows are spelled (the envelope as JsonlWriter writes it) and scheduled. */
export function formatBatches(s: BatchingSampler, w: JsonlWriter, originNs: bigint, intervalMs: number): void {
  s.batchFormat('{"source":"host_proc","t_mono_ns":', ',"seq":', `,"available_in_deployment":${w.availableInDeployment ? 'true' : 'false'}`, originNs, intervalMs * 1e6, batchRows(intervalMs));
}
