import { z } from 'zod';
import { collectorCommon, nonEmptyString, positiveInt } from '../../schema/common.js';

export const qmpConfig = z
  .strictObject({
    ...collectorCommon,
    socket: nonEmptyString('a unix socket path').describe("Path of a QMP unix socket of the guest's QEMU."),
    interval_ms: positiveInt().default(1000).describe('Polling period, ms.'),
  })
  .describe("QEMU's monitor: status, block stats, KVM stats, lifecycle events.");
