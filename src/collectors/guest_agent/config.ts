import { z } from 'zod';
import { collectorCommon, expected, nonEmptyString, positiveInt } from '../../schema/common.js';

export const guestAgentConfig = z
  .strictObject({
    ...collectorCommon,
    socket: nonEmptyString('a unix socket path').describe('Host end of the virtio-serial channel.'),
    mode: z
      .enum(['connect', 'listen'], { error: expected('"connect" or "listen"') })
      .default('connect')
      .describe('connect when QEMU is the socket server (chardev server=on), listen when it is the client.'),
    protocol: z
      .enum(['jsonl', 'qga'], { error: expected('"jsonl" or "qga"') })
      .default('jsonl')
      .describe('jsonl: an in-guest agent writes one JSON object per line; qga: a stock qemu-guest-agent, polled.'),
    interval_ms: positiveInt().default(1000).describe('Period of the channel rows (counters), and of the polls with qga, ms.'),
    max_line_bytes: positiveInt('a positive number of bytes')
      .max(64 << 20, { error: expected('at most 67108864 bytes') })
      .default(1 << 20)
      .describe('Longest line kept; a longer one is dropped and counted, and the stream resynchronizes at the next newline.'),
    max_lines_per_s: positiveInt('a positive number of lines per second')
      .default(1000)
      .describe('Lines accepted per second (bursts up to one second\'s worth); the rest are dropped and counted.'),
  })
  .describe('Telemetry from inside the guest over virtio-serial (untrusted input).');
