import { z } from 'zod';
import { collectorCommon, expected, positiveInt } from '../../schema/common.js';

const ip = z.union([z.ipv4(), z.ipv6()], { error: expected('an IPv4 or IPv6 address') });
const mac = z
  .string({ error: expected('a MAC address') })
  .regex(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/, { error: expected('a MAC address like 52:54:00:12:34:56') });

export const netflowConfig = z
  .strictObject({
    ...collectorCommon,
    bucket_ms: positiveInt().default(100).describe('Bucket width, ms.'),
    guest_ip: z.union([ip, z.array(ip).min(1)], { error: expected('an IP address or a list of them') }).optional().describe("The guest's address(es): packets to it are in, from it out."),
    guest_mac: z.union([mac, z.array(mac).min(1)], { error: expected('a MAC address or a list of them') }).optional().describe("The guest's MAC address(es)."),
    bridge_ip: ip.optional().describe('The host side of the guest\'s bridge: packets from it count as in, to it as out.'),
    lateness_ms: z
      .number({ error: expected('a number of ms, 0 or more') })
      .int({ error: expected('a number of ms, 0 or more') })
      .nonnegative({ error: expected('a number of ms, 0 or more') })
      .max(600_000, { error: expected('at most 600000 ms') })
      .default(2000)
      .describe("Live: a bucket is written once the episode clock passes its end plus this (tcpdump's kernel ring hands packets over up to 1 s after they arrive). A packet later than that counts in pkts_late."),
    max_empty_buckets: z
      .number({ error: expected('a number of buckets, 0 or more') })
      .int({ error: expected('a number of buckets, 0 or more') })
      .nonnegative({ error: expected('a number of buckets, 0 or more') })
      .max(1_000_000_000, { error: expected('at most 1000000000 buckets') })
      .default(3600)
      .describe(
        "Zero rows a timestamp jump may make: empty buckets no clock saw pass (a packet stamped ahead of the episode clock live; between packets in a stored capture) are written up to this many in a row and while a budget lasts (this, plus 16 per packet), and the rest of the gap is not written but counted in the next row's empty_buckets_skipped. Empty buckets the episode clock passed are always written.",
      ),
  })
  .describe('Fixed-time buckets computed from the captured packets.');
