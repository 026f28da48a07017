// Both samplers against the real kernel: this process's own threads and their
// task/<tid>/schedstat. No timing bound: only that values move as they must.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createProcSampler, type ProcSampler } from '../../../src/collectors/proc/sampler.js';
import { nativeAddon } from '../../../src/native/addon.js';

const KINDS = ['native', 'ts'] as const;

/** The calling thread's tid: vitest may run this file in a worker thread, whose tid is not the pid. */
function ownTid(): number {
  const m = /^(\d+)\/task\/(\d+)$/.exec(fs.readlinkSync('/proc/thread-self'));
  expect(m, 'the /proc/thread-self link').not.toBeNull();
  expect(Number(m![1])).toBe(process.pid);
  return Number(m![2]);
}

/** Spins until the process has used `ms` more CPU (this thread does the spinning). */
function burnCpu(ms: number): void {
  const start = process.cpuUsage();
  let x = 0;
  for (;;) {
    for (let i = 0; i < 100_000; i++) x = (x + i) | 0;
    const d = process.cpuUsage(start);
    if (d.user + d.system >= ms * 1000) break;
  }
  expect(x).not.toBeNaN();
}

const tidsOf = (s: ProcSampler) => s.threads().map((t) => t.tid).sort((a, b) => a - b);

describe('schedstat of this process\'s own threads', () => {
  it('has the native addon to compare with', () => {
    expect(nativeAddon()).not.toBeNull();
  });

  // Regression for: threads sampled without schedstat (no cpu_time_ns), or its descriptor read once and
  // never again at offset 0, so the value froze at the first sample.
  it.each(KINDS)('the %s sampler sees the calling thread\'s cpu_time_ns grow after ~50 ms of CPU', (kind) => {
    const tid = ownTid();
    const { sampler } = createProcSampler('/proc', process.pid, 4096, kind);
    expect(sampler.open()).toBe(0);
    try {
      const mine = () => sampler.threads().find((t) => t.tid === tid);
      const before = mine();
      burnCpu(50);
      const after = mine();
      expect(before).toBeDefined();
      expect(after).toBeDefined();
      expect([before!.error, before!.sched_error, after!.error, after!.sched_error]).toEqual([0, 0, 0, 0]);
      expect(before!.cpu_time_ns).toBeGreaterThan(0);
      expect(after!.cpu_time_ns).toBeGreaterThan(before!.cpu_time_ns!);
      expect(after!.run_periods).toBeGreaterThan(0);
      expect(after!.run_periods).toBeGreaterThanOrEqual(before!.run_periods!);
      expect(typeof after!.run_delay_ns).toBe('number');
      expect(after!.run_delay_ns).toBeGreaterThanOrEqual(0);
    } finally {
      sampler.close();
    }
  });

  it('both samplers give every thread of this process a schedstat and agree on which tids exist', () => {
    const native = createProcSampler('/proc', process.pid, 4096, 'native').sampler;
    const ts = createProcSampler('/proc', process.pid, 4096, 'ts').sampler;
    expect(native.open()).toBe(0);
    expect(ts.open()).toBe(0);
    try {
      // A thread may start or end between two listings: compare within a window where the native list held still.
      let window: { native: number[]; ts: number[] } | null = null;
      for (let attempt = 0; attempt < 5 && !window; attempt++) {
        const a = tidsOf(native);
        const b = tidsOf(ts);
        if (JSON.stringify(tidsOf(native)) === JSON.stringify(a)) window = { native: a, ts: b };
      }
      expect(window, 'five listings in a row saw threads come or go').not.toBeNull();
      expect(window!.native.length).toBeGreaterThan(0);
      expect(window!.native).toContain(process.pid);
      expect(window!.ts).toEqual(window!.native);
      const all = [...native.threads(), ...ts.threads()];
      expect(all.length).toBeGreaterThan(0);
      for (const t of all) {
        expect(t.sched_error).toBe(0);
        expect(t.cpu_time_ns).toBeGreaterThanOrEqual(0);
        expect(t.run_delay_ns).toBeGreaterThanOrEqual(0);
        expect(t.run_periods).toBeGreaterThanOrEqual(0);
      }
    } finally {
      native.close();
      ts.close();
    }
  });
});
