import { z } from 'zod';
import { collectorCommon, nonEmptyString, positiveInt } from '../../schema/common.js';

export const qmpConfig = z
  .strictObject({
    ...collectorCommon,
    socket: nonEmptyString('a unix socket path').describe("Path of a QMP unix socket of the guest's QEMU."),
    interval_ms: positiveInt().default(1000).describe('Polling period, ms.'),
    max_events_per_s: positiveInt()
      .default(100)
      .describe('QMP events taken per second, in bursts of up to one second\'s worth; the excess is dropped and counted (events_dropped, summary.json).'),
    max_event_bytes_per_s: positiveInt()
      .default(256 << 10)
      .describe(
        "Bytes of qmp_event rows taken per second (each event's name and data as written, plus 512 for the rest of its row), in bursts of up to one second's worth (an event larger than that passes only when none passed for a while, so the rate holds); the excess is dropped and counted (events_dropped, summary.json).",
      ),
  })
  .describe("QEMU's monitor: status, block stats, KVM stats, lifecycle events.");
