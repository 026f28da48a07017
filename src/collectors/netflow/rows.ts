// netflow rows: one per fixed-time bucket, from live packets or a stored
// capture (the same code and the same shape either way). Keys in the order of
// the JSON line; after bucket_ms and partial, the same names in the same
// order as native/core/netflow_fields.h (test/collectors/netflow/fields.test.ts).
import { z } from 'zod';
import { measurement } from '../../rows/measurement.js';

/** A count of the bucket's packets: every one is a measurement. */
const count = (d: string) => measurement(z.number().int().nonnegative().describe(d));

export const netflowRow = z
  .strictObject({
    bucket_ms: z.number().positive().describe('Bucket width; the row covers [t_mono_ns, t_mono_ns + bucket_ms).'),
    partial: z
      .boolean()
      .describe('true on a bucket the capture did not cover whole: the last one when the capture ended inside it, and (live) the first of a capture run that began inside it.'),
    pkts_in: count('Packets toward the guest (to a guest address, or from bridge_ip).'),
    pkts_out: count('Packets from the guest (from a guest address, or to bridge_ip).'),
    bytes_in: count('Wire bytes toward the guest.'),
    bytes_out: count('Wire bytes from the guest.'),
    pkts_unmatched: count('Packets neither to nor from the guest as configured (other hosts on the bridge, or no guest_ip/guest_mac/bridge_ip given).'),
    bytes_unmatched: count('Wire bytes of those packets.'),
    flows: count('Distinct 5-tuples (protocol, addresses, ports; a reply is its own tuple) seen in the bucket.'),
    new_flows: count('Of those, tuples not seen in the previous 60 s of packet time.'),
    peers: count('Distinct addresses on the non-guest side (both ends of unmatched packets).'),
    dst_ports: count('Distinct TCP/UDP destination ports.'),
    tcp_syn: count('TCP packets with SYN and without ACK.'),
    tcp_synack: count('TCP packets with SYN and ACK.'),
    tcp_fin: count('TCP packets with FIN.'),
    tcp_rst: count('TCP packets with RST.'),
    pkts_tcp: count('TCP packets (IPv4 and IPv6; a non-first fragment counts here, once).'),
    pkts_udp: count('UDP packets.'),
    pkts_icmp: count('ICMP and ICMPv6 packets.'),
    pkts_other_ip: count('Other IP protocols.'),
    pkts_arp: count('ARP packets.'),
    pkts_non_ip: count('Packets that are neither IP nor ARP.'),
    pkts_truncated: count('Packets cut by the snaplen before a header the wire length says exists (still counted above).'),
    pkts_malformed: count('Packets whose headers cannot be right (IPv4 IHL < 5, lengths past the packet, ...).'),
    pkts_late: count('Packets whose timestamp fell in a bucket already written, counted in this one instead.'),
    distinct_estimated: z
      .boolean()
      .describe('true when flows, peers or dst_ports exceeded 65,536 distinct values in the open buckets and is a HyperLogLog estimate (memory stays bounded under a flood).'),
    empty_buckets_skipped: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .describe(
        'Empty buckets right before this row that were not written, 0 when none: the row after a gap longer than max_empty_buckets (a timestamp jump), or past the fill budget, says how long it was (the buckets [t_mono_ns - empty_buckets_skipped * bucket_ms, t_mono_ns) had no packets); with --no-fill, every empty bucket before it. Saturates at 2^53 - 1. Absent in rows of labtel versions before it.',
      ),
  })
  .describe('Fixed-time buckets of the guest\'s traffic. Every packet counts in exactly one of pkts_in/pkts_out/pkts_unmatched and exactly one of the per-protocol counts.');
export type NetflowRow = z.output<typeof netflowRow>;

/** The counters, in the order rows carry them. */
export const NETFLOW_COUNTERS = Object.keys(netflowRow.shape).filter((k) => !['bucket_ms', 'partial', 'distinct_estimated'].includes(k)) as Array<
  Exclude<keyof NetflowRow, 'bucket_ms' | 'partial' | 'distinct_estimated'>
>;
