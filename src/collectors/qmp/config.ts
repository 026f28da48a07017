import { z } from 'zod';
import { collectorCommon, nonEmptyString, positiveInt } from '../../schema/common.js';
import { libvirtRef } from '../../libvirt/ref-config.js';

export const qmpConfig = z
  .strictObject({
    ...collectorCommon,
    socket: nonEmptyString('a unix socket path')
      .optional()
      .describe("Path of a QMP unix socket of the guest's QEMU. Without it (and without libvirt), a target.libvirt_domain's monitor is used through libvirt."),
    libvirt: libvirtRef
      .optional()
      .describe('QEMU\'s monitor through libvirt, which owns it (virsh qemu-monitor-command for the polls, virsh qemu-monitor-event for the events): the domain and its connection. Filled from target.libvirt_domain when neither this nor socket is given.'),
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
  .superRefine((c, ctx) => {
    if (c.socket !== undefined && c.libvirt !== undefined) ctx.addIssue({ code: 'custom', path: ['libvirt'], input: c.libvirt, message: 'expected "socket" or "libvirt", not both' });
  })
  .describe("QEMU's monitor: status, block stats, KVM stats, lifecycle events.");
