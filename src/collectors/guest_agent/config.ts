import { z } from 'zod';
import { collectorCommon, expected, nonEmptyString, positiveInt } from '../../schema/common.js';

export const guestAgentConfig = z
  .strictObject({
    ...collectorCommon,
    socket: nonEmptyString('a unix socket path').describe('Host end of the virtio-serial channel.'),
    mode: z.enum(['connect', 'listen'], { error: expected('"connect" or "listen"') }).default('connect').describe('connect when QEMU is the socket server, listen when it is the client.'),
    protocol: z.enum(['jsonl', 'qga'], { error: expected('"jsonl" or "qga"') }).default('jsonl').describe('jsonl: one JSON object per line; qga: a stock qemu-guest-agent.'),
    interval_ms: positiveInt().default(1000).describe('Polling period for qga, ms.'),
  })
  .describe('Telemetry from inside the guest over virtio-serial (untrusted input).');
