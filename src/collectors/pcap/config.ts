import { z } from 'zod';
import { bool, collectorCommon, expected, nonEmptyString, positiveInt } from '../../schema/common.js';

/** Linux interface names: at most 15 characters, none of them a slash, space or colon-led trick. */
export const IFACE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

export const pcapConfig = z
  .strictObject({
    ...collectorCommon,
    iface: z
      .string({ error: expected('an interface name') })
      .regex(IFACE_NAME, { error: expected('an interface name (1-15 of A-Z a-z 0-9 _ . -)') })
      .describe("The guest's tap or bridge."),
    snaplen: positiveInt().max(262144, { error: expected('a snaplen of at most 262144') }).default(262144).describe('Bytes kept per packet.'),
    filter: nonEmptyString('a BPF filter').optional().describe('A BPF filter expression for tcpdump.'),
    interval_ms: positiveInt().default(1000).describe('Period of pcap rows, ms.'),
    keep_pcap: bool().default(true).describe('Keep network.pcap in the episode directory.'),
  })
  .describe("Capture on the guest's bridge or tap.");
