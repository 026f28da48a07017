import { z } from 'zod';
import { collectorCommon, expected, nonEmptyString, positiveInt } from '../../schema/common.js';
import { libvirtRef } from '../../libvirt/ref-config.js';

/** The largest max_line_bytes: 15 MiB, so a row (the line plus at most 1 KiB) stays under verify's and report's 16 MiB lines. */
export const MAX_LINE_BYTES = 15 << 20;

export const guestAgentConfig = z
  .strictObject({
    ...collectorCommon,
    socket: nonEmptyString('a unix socket path')
      .optional()
      .describe("Host end of the virtio-serial channel. Without it, a target.libvirt_domain fills it: for jsonl, the unix socket of the domain's org.labtel.telemetry.0 channel (mode connect when QEMU binds it); for qga, libvirt's agent channel (see libvirt)."),
    libvirt: libvirtRef
      .optional()
      .describe("protocol qga only: the stock guest agent through libvirt, which owns its channel (org.qemu.guest_agent.0), with virsh qemu-agent-command. Filled from target.libvirt_domain when the domain has that channel and socket is not given."),
    mode: z
      .enum(['connect', 'listen'], { error: expected('"connect" or "listen"') })
      .default('connect')
      .describe('connect when QEMU is the socket server (chardev server=on), listen when it is the client.'),
    protocol: z
      .enum(['jsonl', 'qga'], { error: expected('"jsonl" or "qga"') })
      .default('jsonl')
      .describe('jsonl: an in-guest agent writes one JSON object per line; qga: a stock qemu-guest-agent, polled.'),
    interval_ms: positiveInt().default(1000).describe('Period of the channel rows (counters), and of the polls with qga, ms.'),
    // A row is its line plus at most 1 KiB (row-text.ts ROW_OVERHEAD_MAX), and labtel verify and report read lines of up to 16 MiB.
    max_line_bytes: positiveInt('a positive number of bytes')
      .max(MAX_LINE_BYTES, { error: expected('at most 15728640 bytes') })
      .default(1 << 20)
      .describe('Longest line kept, at most 15 MiB (its row, the line plus at most 1 KiB, stays within the 16 MiB lines labtel verify and report read); a longer one is dropped and counted, and the stream resynchronizes at the next newline.'),
    max_lines_per_s: positiveInt('a positive number of lines per second')
      .default(1000)
      .describe('Lines accepted per second (bursts up to one second\'s worth); the rest are dropped and counted.'),
    max_bytes_per_s: positiveInt('a positive number of bytes per second')
      .max(64 << 20, { error: expected('at most 67108864 bytes per second') })
      .default(1 << 20)
      .describe(
        "Bytes of rows the guest's lines (or qga answers) may make labtel write per second, envelopes included (bursts up to one second's worth, or one longest line's row when that is more); a row past it is dropped and counted in dropped_byte_rate.",
      ),
    max_total_mb: positiveInt('a positive number of MiB')
      .max(1 << 20, { error: expected('at most 1048576 MiB') })
      .default(1024)
      .describe("MiB of rows the guest's lines (or qga answers) may make labtel write in the whole episode; past it they are dropped and counted in dropped_total_cap, and the channel rows go on."),
  })
  .superRefine((c, ctx) => {
    if (c.libvirt === undefined) return;
    if (c.socket !== undefined) ctx.addIssue({ code: 'custom', path: ['libvirt'], input: c.libvirt, message: 'expected "socket" or "libvirt", not both' });
    else if (c.protocol !== 'qga') ctx.addIssue({ code: 'custom', path: ['libvirt'], input: c.libvirt, message: 'expected protocol "qga" with libvirt (a jsonl channel is a socket: name it in socket)' });
  })
  .describe('Telemetry from inside the guest over virtio-serial (untrusted input).');
