// Which loop makes proc's rows (the native batch loop, or one JS tick per row) is decided in one place,
// batchesRows(), which run-loop.ts follows and bench:proc prints beside its figures.
import { describe, expect, it } from 'vitest';
import { batchesRows, MAX_BATCHED_INTERVAL_MS } from '../../src/collectors/proc/native-batch.js';
import { createProcSampler, type ProcSampler } from '../../src/collectors/proc/sampler.js';
import { nativeAddon } from '../../src/native/addon.js';
import { newStopFlag } from '../../src/util/pace.js';

const addon = nativeAddon();
const PAGE = 4096;

describe.runIf(addon)('batchesRows: the loop proc uses, as bench:proc reports it', () => {
  const native = () => createProcSampler('/proc', process.pid, PAGE, 'native');
  const worker = { intervalMs: 1, stopFlag: newStopFlag() }; // the agent's worker: a stop flag, no threads

  it('the native batch loop with this addon on the worker at 1 ms and up to MAX_BATCHED_INTERVAL_MS', () => {
    const { sampler, kind } = native();
    expect(kind).toBe('native');
    expect(batchesRows(kind, sampler, worker)).toBe(true);
    expect(batchesRows(kind, sampler, { ...worker, intervalMs: MAX_BATCHED_INTERVAL_MS })).toBe(true);
  });

  // Regression for: bench:proc printed "native batch loop" whenever the sampler was native at 1 ms, also when the
  // addon the agent loaded was built before batch() (LABTEL_NATIVE_PATH to an older build): its worker ticked in JS,
  // and the figure beside the label was the per-tick loop's.
  it('an addon built before batch() (a native sampler without batchFormat/batchSignature/batch): one JS tick per row', () => {
    const real = native().sampler;
    const older: ProcSampler = { open: () => real.open(), sample: (v, e) => real.sample(v, e), threads: () => real.threads(), close: () => real.close() };
    expect(batchesRows('native', older, worker)).toBe(false);
  });

  it('JS ticks for the pure-TS sampler, threads, intervals over the limit, no stop flag, or batch: false', () => {
    const { sampler, kind } = native();
    const ts = createProcSampler('/proc', process.pid, PAGE, 'ts');
    expect(batchesRows(ts.kind, ts.sampler, worker)).toBe(false);
    expect(batchesRows(kind, sampler, { ...worker, threads: true })).toBe(false);
    expect(batchesRows(kind, sampler, { ...worker, intervalMs: MAX_BATCHED_INTERVAL_MS + 1 })).toBe(false);
    expect(batchesRows(kind, sampler, { intervalMs: 1 })).toBe(false);
    expect(batchesRows(kind, sampler, { ...worker, batch: false })).toBe(false);
  });
});
