// The proc collector's output for one real process, two ways: one native sample (values and errors, as the
// sampler fills them), and the rows procLoop writes in exactly N samples with either sampler.
import { expect } from 'vitest';
import { PROC_FIELDS, SAMPLE_ERRORS } from '../../src/collectors/proc/fields.js';
import { procLoop } from '../../src/collectors/proc/run-loop.js';
import { createProcSampler } from '../../src/collectors/proc/sampler.js';
import { JsonlWriter } from '../../src/rows/jsonl-writer.js';
import { stopAfterSamples } from './stop-after.js';
import { readJsonl, tmpDir } from './tmp.js';

/** One sample of pid by the native sampler, opened and closed for it. */
export function nativeSample(pid: number): { v: Float64Array; err: Int32Array } {
  const { sampler } = createProcSampler('/proc', pid, 4096, 'native');
  expect(sampler.open()).toBe(0);
  const v = new Float64Array(PROC_FIELDS.length);
  const err = new Int32Array(SAMPLE_ERRORS);
  sampler.sample(v, err);
  sampler.close();
  return { v, err };
}

/** The rows procLoop writes for pid in exactly `samples` samples (interval 1 ms) with the given sampler. */
export async function procRowsOf(pid: number, kind: 'native' | 'ts', samples: number): Promise<Record<string, unknown>[]> {
  const out = `${tmpDir()}/${kind}.jsonl`;
  const writer = new JsonlWriter(out, { availableInDeployment: true });
  const { clock, signal } = stopAfterSamples(samples);
  await procLoop({ pid, writer, clock, intervalMs: 1, signal, sampler: kind, pageSize: 4096 });
  writer.close();
  return readJsonl(out);
}
