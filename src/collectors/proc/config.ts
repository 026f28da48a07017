import { z } from 'zod';
import { bool, collectorCommon, positiveInt } from '../../schema/common.js';

export const procConfig = z
  .strictObject({
    ...collectorCommon,
    interval_ms: positiveInt().default(100).describe('Sampling period in ms; 1 ms works and keeps pace.'),
    threads: bool()
      .default(false)
      .describe("Also write a row per thread (task/*/stat), so QEMU's vCPU threads can be told apart."),
    cgroup: bool()
      .default(true)
      .describe("Also write host_cgroup rows: the target's cgroup v2 (pressure, cpu.stat, memory.current, memory.events), every cgroup_interval_ms."),
    cgroup_interval_ms: positiveInt()
      .min(100, { error: (iss) => `expected at least 100 (ms), got ${JSON.stringify(iss.input)}: host_cgroup rows are read on the proc loop's ticks, and their pressure totals are µs counters (1000, what mature agents use, is the default)` })
      .default(1000)
      .describe('Period of the host_cgroup rows in ms, at least 100 (read on the proc loop\'s ticks: at most as often as interval_ms, or once per 1 ms batch of the native loop). Pressure totals are µs counters: 1 s is what mature agents use.'),
  })
  .describe('/proc of the target process and, optionally, of each of its threads; and its cgroup v2.');
export type ProcConfig = z.output<typeof procConfig>;
