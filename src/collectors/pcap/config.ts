import { z } from 'zod';
import { bool, collectorCommon, expected, nonEmptyString, positiveInt } from '../../schema/common.js';

import { IFACE_NAME } from './iface-name.js';

export { IFACE_NAME };
/** A user name for tcpdump to capture as: what useradd accepts, nothing that reads as an option. */
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

export const pcapConfig = z
  .strictObject({
    ...collectorCommon,
    iface: z
      .string({ error: expected('an interface name') })
      .regex(IFACE_NAME, { error: expected('an interface name (1-15 of A-Z a-z 0-9 _ . -)') })
      .optional()
      .describe("The guest's tap or bridge. Without it, a target.libvirt_domain fills it with the domain's tap when it has exactly one."),
    snaplen: positiveInt().max(262144, { error: expected('a snaplen of at most 262144') }).default(262144).describe('Bytes kept per packet.'),
    filter: nonEmptyString('a BPF filter').optional().describe('A BPF filter expression for tcpdump.'),
    interval_ms: positiveInt().default(1000).describe('Period of pcap rows, ms.'),
    keep_pcap: bool().default(true).describe('Keep the capture in the episode directory (network.pcap, then network-001.pcap, ... when rotated).'),
    rotate_mb: positiveInt('a positive number of MiB').default(1024).describe('Start a new capture file when the current one reaches this size, MiB.'),
    max_total_mb: positiveInt('a positive number of MiB')
      .default(20480)
      .describe('Stop saving once the capture files reach this total, MiB; capture, pcap rows and netflow go on, and the stop is recorded.'),
    user: z
      .string({ error: expected('a user name') })
      .regex(USER_NAME, { error: expected('a user name (a-z 0-9 _ -, starting with a letter or _)') })
      .optional()
      .describe(
        "The unprivileged user tcpdump captures as from its start, with CAP_NET_RAW alone (default when labtel is root: tcpdump, the user Debian's package makes; a user with uid 0 is refused). When labtel is not root, tcpdump runs as labtel's own user, the only one this may name.",
      ),
  })
  .describe("Capture on the guest's bridge or tap with tcpdump.");
