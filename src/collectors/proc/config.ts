import { z } from 'zod';
import { bool, collectorCommon, positiveInt } from '../../schema/common.js';

export const procConfig = z
  .strictObject({
    ...collectorCommon,
    interval_ms: positiveInt().default(100).describe('Sampling period in ms; 1 ms works and keeps pace.'),
    threads: bool()
      .default(false)
      .describe("Also write a row per thread (task/*/stat), so QEMU's vCPU threads can be told apart."),
  })
  .describe('/proc of the target process and, optionally, of each of its threads.');
export type ProcConfig = z.output<typeof procConfig>;
