// native == TS: every capture we have (the recorded fixtures and the fuzz
// seed corpus, found by a glob, pcapng included) and classic pcap captures
// built here to reach every branch of the decoder and the bucketizer go
// through the native CaptureBucketizer and the pure-TS one
// (src/collectors/netflow/ts/), in chunks of several sizes and with several
// option sets, with and without skipBad; the rows each call returns and the
// status after each call must be identical. Hostile input must end with the
// same message at the same offset, after the same rows. pcapng built to reach
// every block type, and --skip-bad on hostile input: differential-pcapng.test.ts.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nativeStatus } from '../../../src/native/addon.js';
import { ipBytes, macBytes } from '../../../src/collectors/netflow/address.js';
import { CaptureReader } from '../../../src/collectors/netflow/ts/capture-reader.js';
import { ROW_WIDTH, unpackRows, type CaptureBucketizer, type RawBucketRow } from '../../../src/collectors/netflow/bucketizer.js';
import {
  ACK,
  addon,
  allRows,
  arp,
  BASE,
  BCAST,
  BRIDGE,
  differential,
  eth,
  expectSame,
  ext,
  ah,
  fill,
  FIN,
  finalStatus,
  frag6,
  GMAC,
  GUEST4,
  GUEST6,
  HMAC,
  icmp,
  ipv4,
  ipv6,
  mac,
  makeNative,
  makeTs,
  mixRecords,
  ms,
  OMAC,
  type Opts,
  type Trace,
  pcap,
  PEER4,
  PEER4B,
  PEER6,
  PSH,
  type Rec,
  RST,
  SYN,
  SYNTH_OPTIONS,
  tagged,
  tcp,
  tcp4,
  trace,
  udp,
  udp4,
  evenJumps,
  yearJumps,
} from './harness.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const ETH = { linktype: 1 };

/** Captures built here: name, bytes, and (when not the default) option sets. */
const SYNTH: Array<{ name: string; bytes: Uint8Array; options?: Opts[] }> = [
  { name: 'mix, little-endian µs', bytes: pcap({ le: true }, mixRecords(false)) },
  { name: 'mix, big-endian µs', bytes: pcap({ le: false }, mixRecords(false)) },
  { name: 'mix, little-endian ns', bytes: pcap({ le: true, ns: true }, mixRecords(true)) },
  { name: 'mix, big-endian ns', bytes: pcap({ le: false, ns: true }, mixRecords(true)) },
  {
    name: 'VLAN: 802.1Q, QinQ, 0x9100, 4 and 5 deep, cut tags',
    bytes: pcap(ETH, [
      { ts: BASE, data: tagged(GMAC, HMAC, [0x8100], 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 6, payload: tcp(1, 80, SYN) })) },
      { ts: BASE + ms(1), data: tagged(HMAC, GMAC, [0x88a8, 0x8100], 0x0800, ipv4({ src: GUEST4, dst: PEER4, proto: 6, payload: tcp(80, 1, SYN | ACK) })) },
      { ts: BASE + ms(2), data: tagged(HMAC, GMAC, [0x9100, 0x8100], 0x86dd, ipv6(GUEST6, PEER6, 17, udp(53, 5353, fill(10)))) },
      { ts: BASE + ms(3), data: tagged(HMAC, GMAC, [0x88a8, 0x8100, 0x8100, 0x8100], 0x0806, arp(1, GMAC, GUEST4, OMAC, BRIDGE)) },
      { ts: BASE + ms(4), data: tagged(HMAC, GMAC, [0x88a8, 0x8100, 0x8100, 0x8100, 0x8100], 0x0800, ipv4({ src: GUEST4, dst: PEER4, proto: 6, payload: tcp(80, 1, ACK) })) },
      { ts: BASE + ms(5), data: tagged(HMAC, GMAC, [0x8100], 0x0800, ipv4({ src: GUEST4, dst: PEER4, proto: 6, payload: tcp(80, 1, ACK) })), cut: 16 },
      { ts: BASE + ms(6), data: tagged(HMAC, GMAC, [0x8100], 0x0800, []), cut: 16 }, // tag cut on the wire too
      { ts: BASE + ms(7), data: tagged(HMAC, GMAC, [0x8100, 0x8100], 0x0800, ipv4({ src: GUEST4, dst: PEER4, proto: 17, payload: udp(1, 2) })), cut: 30 },
      { ts: BASE + ms(8), data: tagged(HMAC, GMAC, [0x8100], 0x88cc, fill(30)) },
    ]),
  },
  {
    name: 'IPv6 extension headers, fragments, jumbograms, malformed chains',
    bytes: pcap({ le: false, ns: true }, [
      { ts: BASE, data: eth(GMAC, HMAC, 0x86dd, ipv6(PEER6, GUEST6, 0, [...ext(60), ...ext(17, 1), ...udp(1, 7777, fill(8))])) },
      { ts: BASE + 1n, data: eth(GMAC, HMAC, 0x86dd, ipv6(PEER6, GUEST6, 0, [...ext(43, 1), ...ext(60), ...ext(6), ...tcp(2, 8080, SYN)])) },
      { ts: BASE + 2n, data: eth(GMAC, HMAC, 0x86dd, ipv6(PEER6, GUEST6, 51, [...ah(17), ...udp(3, 53)])) },
      { ts: BASE + 3n, data: eth(GMAC, HMAC, 0x86dd, ipv6(PEER6, GUEST6, 44, [...frag6(17, 0, true), ...udp(4, 7777, fill(40), 3000)])) }, // first fragment
      { ts: BASE + 4n, data: eth(GMAC, HMAC, 0x86dd, ipv6(PEER6, GUEST6, 44, [...frag6(17, 6, true), ...fill(48)])) }, // middle
      { ts: BASE + 5n, data: eth(GMAC, HMAC, 0x86dd, ipv6(PEER6, GUEST6, 44, [...frag6(6, 12, false), ...fill(48)])) }, // last, TCP
      { ts: BASE + 6n, data: eth(GMAC, HMAC, 0x86dd, ipv6(PEER6, GUEST6, 44, [...frag6(6, 0, false), ...tcp(5, 80, RST)])) }, // atomic
      { ts: BASE + 7n, data: eth(GMAC, HMAC, 0x86dd, ipv6(PEER6, GUEST6, 50, fill(40))) }, // ESP
      { ts: BASE + 8n, data: eth(GMAC, HMAC, 0x86dd, ipv6(PEER6, GUEST6, 59, [])) }, // no next header
      { ts: BASE + 9n, data: eth(GMAC, HMAC, 0x86dd, ipv6(PEER6, GUEST6, 0, [...ext(17), ...udp(6, 7, fill(4), 0)], 0)) }, // jumbogram
      { ts: BASE + 10n, data: eth(GMAC, HMAC, 0x86dd, ipv6(PEER6, GUEST6, 0, [...ext(60), 17, 9], 10)) }, // chain past the payload
      { ts: BASE + 11n, data: eth(GMAC, HMAC, 0x86dd, ipv6(PEER6, GUEST6, 6, tcp(7, 8, ACK), 200)) }, // plen past the frame
      { ts: BASE + 12n, data: eth(GMAC, HMAC, 0x86dd, ipv6(PEER6, GUEST6, 6, tcp(7, 8, ACK))), cut: 50 }, // cut in the header
      { ts: BASE + 13n, data: eth(GMAC, HMAC, 0x86dd, ipv6(PEER6, GUEST6, 0, [...ext(6, 3), ...tcp(7, 8, ACK)])), cut: 70 }, // cut in an extension
      { ts: BASE + 14n, data: eth(GMAC, HMAC, 0x86dd, [0x40, ...ipv6(PEER6, GUEST6, 6, tcp(7, 8, ACK)).slice(1)]) }, // version 4 in an IPv6 frame
      { ts: BASE + 15n, data: eth(GMAC, HMAC, 0x86dd, ipv6(PEER6, GUEST6, 1, icmp(8))) }, // ICMP (v4) in IPv6
      { ts: BASE + 16n, data: eth(GMAC, HMAC, 0x86dd, ipv6(PEER6, GUEST6, 58, [128])) }, // ICMPv6 cut by its length
      { ts: BASE + 17n, data: eth(GMAC, HMAC, 0x86dd, ipv6('::ffff:10.200.0.10', PEER6, 17, udp(9, 9))) }, // a v4-mapped source is the guest
    ]),
  },
  {
    name: 'IPv4 fragments, options, malformed and truncated headers',
    bytes: pcap({ le: true, ns: true }, [
      { ts: BASE, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 17, ff: 0x2000, payload: udp(41004, 7777, fill(1472), 3008) })) }, // UDP first fragment
      { ts: BASE + 1n, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 17, ff: 0x2000 | 185, payload: fill(1480) })) },
      { ts: BASE + 2n, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 17, ff: 370, payload: fill(48) })) },
      { ts: BASE + 3n, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 6, ff: 0x2000, payload: tcp(22, 1022, ACK, fill(200)) })) }, // TCP first fragment
      { ts: BASE + 4n, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 6, ff: 27, payload: fill(24) })) }, // TCP non-first
      { ts: BASE + 5n, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 17, ff: 0x2000, payload: udp(1, 2, fill(4), 5) })) }, // UDP length < 8 in a fragment
      { ts: BASE + 6n, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 17, payload: udp(1, 2, fill(4), 300) })) }, // UDP past the datagram, unfragmented
      { ts: BASE + 7n, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 6, options: [1, 1, 1, 0], payload: tcp(7, 9, SYN) })) }, // options
      { ts: BASE + 8n, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 6, ihl: 4, payload: tcp(7, 9, SYN) })) }, // IHL < 5
      { ts: BASE + 9n, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 6, total: 12, payload: tcp(7, 9, SYN) })) }, // total < IHL
      { ts: BASE + 10n, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 6, total: 900, payload: tcp(7, 9, SYN) })) }, // total past the frame
      { ts: BASE + 11n, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 6, version: 6, payload: tcp(7, 9, SYN) })) }, // version 6 in IPv4
      { ts: BASE + 12n, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 6, payload: tcp(7, 9, SYN, [], 4) })) }, // TCP offset < 5
      { ts: BASE + 13n, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 6, payload: tcp(7, 9, SYN, [], 15) })), cut: 60 }, // TCP offset past the datagram? no: cut
      { ts: BASE + 14n, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 6, total: 44, payload: tcp(7, 9, SYN, [], 8) })) }, // TCP offset past the datagram
      { ts: BASE + 15n, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 6, payload: tcp(7, 9, SYN) })), cut: 40 }, // cut in TCP
      { ts: BASE + 16n, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 6, payload: tcp(7, 9, SYN) })), cut: 20 }, // cut in IPv4
      { ts: BASE + 17n, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 6, payload: tcp(7, 9, SYN) })), cut: 10 }, // cut in Ethernet
      { ts: BASE + 18n, data: eth(GMAC, HMAC, 0x0800, []).slice(0, 10) }, // shorter than Ethernet on the wire
      { ts: BASE + 19n, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 1, payload: [8] })) }, // ICMP cut by its length
      { ts: BASE + 20n, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 58, payload: icmp(128) })) }, // ICMPv6 in IPv4
      { ts: BASE + 21n, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 17, payload: udp(1, 2, fill(10)) })), wire: 30 }, // caplen > wirelen
      { ts: BASE + 22n, data: eth(GMAC, HMAC, 0x0806, arp(1, HMAC, BRIDGE, OMAC, GUEST4)), cut: 30 }, // ARP cut
      { ts: BASE + 23n, data: eth(GMAC, HMAC, 0x0806, [0, 1, 0x86, 0xdd, 6, 16, 0, 1, ...fill(44)]) }, // ARP, not IPv4
      { ts: BASE + 24n, data: eth(GMAC, HMAC, 0x0806, [0, 1, 8, 0, 6, 4, 0, 1]) }, // ARP without addresses
    ]),
  },
  {
    name: 'Linux cooked v1',
    bytes: pcap({ linktype: 113 }, [
      { ts: BASE, data: [0, 0, 0, 1, 0, 6, ...mac(HMAC), 0, 0, 0x08, 0x00, ...ipv4({ src: PEER4, dst: GUEST4, proto: 6, payload: tcp(1, 2, SYN) })] },
      { ts: BASE + ms(1), data: [0, 4, 0, 1, 0, 6, ...mac(GMAC), 0, 0, 0x86, 0xdd, ...ipv6(GUEST6, PEER6, 17, udp(1, 2))] },
      { ts: BASE + ms(2), data: [0, 4, 3, 4, 0, 0, ...fill(8, 0), 0x08, 0x00, ...ipv4({ src: GUEST4, dst: PEER4, proto: 1, payload: icmp(8) })] }, // no MAC
      { ts: BASE + ms(3), data: [0, 0, 0, 1, 0, 6, ...mac(HMAC), 0, 0, 0x81, 0x00, 0, 5, 0x08, 0x06, ...arp(2, HMAC, BRIDGE, GMAC, GUEST4)] },
      { ts: BASE + ms(4), data: [0, 0, 0, 1, 0, 6, ...mac(HMAC), 0, 0, 0x00, 0x04, ...fill(20)] }, // 802.2
      { ts: BASE + ms(5), data: [0, 0, 0, 1, 0, 6, ...mac(HMAC)], cut: 10 },
    ]),
  },
  {
    name: 'Linux cooked v2',
    bytes: pcap({ linktype: 276, le: false }, [
      { ts: BASE, data: [0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, ...mac(HMAC), 0, 0, ...ipv4({ src: PEER4, dst: GUEST4, proto: 6, payload: tcp(1, 2, SYN) })] },
      { ts: BASE + ms(1), data: [0x86, 0xdd, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6, ...mac(GMAC), 0, 0, ...ipv6(GUEST6, PEER6, 58, icmp(129))] },
      { ts: BASE + ms(2), data: [0x08, 0x00, 0, 0, 0, 0, 0, 1, 3, 4, 4, 0, ...fill(8, 0), ...ipv4({ src: GUEST4, dst: PEER4, proto: 17, payload: udp(1, 2) })] }, // no MAC
      { ts: BASE + ms(3), data: [0x08, 0x06, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, ...mac(HMAC), 0, 0, ...arp(1, HMAC, BRIDGE, OMAC, GUEST4)] },
      { ts: BASE + ms(4), data: [0x08, 0x00, 0, 0, 0, 0, 0, 3], cut: 8 },
    ]),
  },
  ...[101, 228, 229].map((linktype) => ({
    name: `raw IP, linktype ${linktype}`,
    bytes: pcap({ linktype, ns: true }, [
      { ts: BASE, data: ipv4({ src: PEER4, dst: GUEST4, proto: 6, payload: tcp(1, 2, SYN) }) },
      { ts: BASE + ms(1), data: ipv6(GUEST6, PEER6, 17, udp(3, 4)) },
      { ts: BASE + ms(2), data: [0x20, ...fill(30)] }, // neither version
      { ts: BASE + ms(3), data: [], wire: 40 },
      { ts: BASE + ms(4), data: ipv4({ src: GUEST4, dst: BRIDGE, proto: 17, payload: udp(68, 67) }), cut: 1 },
    ]),
  })),
  ...[0, 108].map((linktype) => ({
    name: `loopback, linktype ${linktype}`,
    bytes: pcap({ linktype }, [
      { ts: BASE, data: [2, 0, 0, 0, ...ipv4({ src: PEER4, dst: GUEST4, proto: 6, payload: tcp(1, 2, SYN) })] },
      { ts: BASE + ms(1), data: [0, 0, 0, 2, ...ipv4({ src: GUEST4, dst: PEER4, proto: 6, payload: tcp(2, 1, SYN | ACK) })] },
      { ts: BASE + ms(2), data: [24, 0, 0, 0, ...ipv6(GUEST6, PEER6, 17, udp(3, 4))] },
      { ts: BASE + ms(3), data: [0, 0, 0, 28, ...ipv6(PEER6, GUEST6, 17, udp(4, 3))] },
      { ts: BASE + ms(4), data: [30, 0, 0, 0, ...ipv6(PEER6, GUEST6, 58, icmp(1))] },
      { ts: BASE + ms(5), data: [7, 0, 0, 0, ...fill(20)] },
      { ts: BASE + ms(6), data: [2, 0], cut: 2 },
    ]),
  })),
  {
    name: 'a link type nobody decodes (147), FCS bits in the link type',
    bytes: pcap({ linktype: 147 | 0x14000000 }, [
      { ts: BASE, data: fill(60) },
      { ts: BASE + ms(150), data: fill(70) },
    ]),
  },
  {
    name: 'Ethernet with FCS bits in the link type',
    bytes: pcap({ linktype: 1 | 0x14000000 }, [{ ts: BASE, data: tcp4(PEER4, GUEST4, 1, 2, SYN) }]),
  },
  {
    name: 'out-of-order timestamps (pkts_late)',
    bytes: pcap({ ns: true }, [
      { ts: BASE + ms(10), data: tcp4(PEER4, GUEST4, 1, 80, SYN) },
      { ts: BASE + ms(250), data: tcp4(PEER4, GUEST4, 2, 80, SYN) },
      { ts: BASE + ms(120), data: tcp4(PEER4, GUEST4, 3, 80, SYN) }, // late by 130 ms
      { ts: BASE + ms(240), data: tcp4(PEER4, GUEST4, 1, 80, ACK) }, // within the bucket
      { ts: BASE + ms(5), data: tcp4(PEER4B, GUEST4, 4, 80, SYN) }, // before the first packet
      { ts: BASE - 3_000_000_000n, data: udp4(PEER4, GUEST4, 5, 53) }, // seconds before
      { ts: BASE + ms(520), data: udp4(PEER4, GUEST4, 5, 53) },
      { ts: BASE + ms(519), data: udp4(PEER4, GUEST4, 6, 53) },
      { ts: BASE + ms(410), data: udp4(PEER4, GUEST4, 7, 53) },
      { ts: BASE + ms(530), data: udp4(PEER4, GUEST4, 5, 53) },
    ]),
  },
  {
    name: 'flows over time: repeats, replies, idle for more than 60 s',
    bytes: pcap({ le: false }, [
      { ts: BASE, data: tcp4(PEER4, GUEST4, 1000, 80, SYN) },
      { ts: BASE + ms(1), data: tcp4(GUEST4, PEER4, 80, 1000, SYN | ACK) },
      { ts: BASE + ms(2), data: tcp4(PEER4, GUEST4, 1000, 80, ACK) },
      { ts: BASE + ms(3), data: tcp4(PEER4B, GUEST4, 1000, 80, SYN) },
      { ts: BASE + ms(4), data: udp4(PEER4, GUEST4, 1000, 80) },
      { ts: BASE + ms(150), data: tcp4(PEER4, GUEST4, 1000, 80, ACK) },
      { ts: BASE + ms(30_000), data: tcp4(PEER4, GUEST4, 1000, 80, ACK) },
      { ts: BASE + ms(90_000), data: tcp4(PEER4, GUEST4, 1000, 80, ACK) }, // idle 60 s exactly: not new
      { ts: BASE + ms(150_001), data: tcp4(PEER4, GUEST4, 1000, 80, ACK) }, // idle 60.001 s: new
      { ts: BASE + ms(150_002), data: tcp4(GUEST4, PEER4, 80, 1000, ACK) }, // its reply, idle since 1 ms: new
      { ts: BASE + ms(150_003), data: udp4(PEER4, GUEST4, 1000, 80) },
    ]),
  },
  {
    name: 'a long silence, then a jump back in time',
    bytes: pcap({ ns: true }, [
      { ts: BASE, data: udp4(PEER4, GUEST4, 1, 2) },
      { ts: BASE + 3_600_000_000_000n + 7n, data: udp4(PEER4, GUEST4, 1, 2) }, // an hour later
      { ts: BASE + 3_600_050_000_000n, data: udp4(GUEST4, PEER4, 2, 1) },
      { ts: BASE + 1n, data: udp4(PEER4, GUEST4, 1, 2) }, // an hour back
      { ts: BASE + 3_600_200_000_000n, data: udp4(GUEST4, PEER4, 2, 1) },
    ]),
    options: [
      { guestIps: [ipBytes(GUEST4)] },
      { bucketNs: 1e9, fillEmpty: true, latenessNs: 10e9, guestIps: [ipBytes(GUEST4)], originWallNs: BASE - 1n },
      { bucketNs: 10e6, fillEmpty: false },
    ],
  },
  {
    name: 'odd timestamp fields: fractions past a second, 0, 2^32 - 1 s',
    bytes: pcap({}, [
      { ts: 0n, sec: 1_700_000_000, frac: 999_999, data: udp4(PEER4, GUEST4, 1, 2) },
      { ts: 0n, sec: 1_700_000_000, frac: 4_000_000_000, data: udp4(PEER4, GUEST4, 1, 2) }, // 4000 s on
      { ts: 0n, sec: 0, frac: 0, data: udp4(PEER4, GUEST4, 1, 2) },
      { ts: 0n, sec: 0xffffffff, frac: 0xffffffff, data: udp4(PEER4, GUEST4, 1, 2) },
      { ts: 0n, sec: 1_700_000_001, frac: 0, data: udp4(PEER4, GUEST4, 1, 2) },
    ]),
    options: [
      { fillEmpty: false, guestIps: [ipBytes(GUEST4)] },
      { bucketNs: 9e18, fillEmpty: true },
      { bucketNs: 1e9, fillEmpty: false, latenessNs: 1e18, originWallNs: -(2n ** 63n) },
      { bucketNs: 1e9, fillEmpty: false, originWallNs: 2n ** 64n + 5n }, // wraps as the native's Int64Value
    ],
  },
  {
    name: 'snaplen-cut frames (tcpdump -s 64)',
    bytes: pcap({ snaplen: 64 }, mixRecords(false).map((r) => ({ ...r, cut: Math.min(r.data.length, 64) }))),
  },
  // Time jumps (issue 17 point 6): gaps past max_empty_buckets and the fill budget, marked in the next row, every option set.
  { name: 'timestamps jumping back and forth by years', bytes: pcap({}, yearJumps(40)) },
  { name: 'packets 3599 empty buckets apart', bytes: pcap({}, evenJumps(12, 3599)), options: [{}, { maxEmptyBuckets: 100 }, { bucketNs: 10e6, latenessNs: 35e6, maxEmptyBuckets: 5 }, { fillEmpty: false }] },
];

// ---------------------------------------------------------------- the tests

describe('native and pure-TS bucketizers agree', () => {
  it('has the native addon to compare with', () => {
    expect(addon, nativeStatus().reason).not.toBeNull();
    expect(ROW_WIDTH).toBe(26);
  });

  /** Every file in a fixture folder but its README: a glob, so fixtures added there are covered. */
  const fixtures = (sub: string) => {
    const dir = path.join(ROOT, 'test', 'fixtures', sub);
    return fs
      .readdirSync(dir)
      .filter((f) => !f.endsWith('.md'))
      .sort()
      .map((f) => ({ name: f, bytes: new Uint8Array(fs.readFileSync(path.join(dir, f))) }));
  };
  const packetsIn = (rows: RawBucketRow[]) => rows.reduce((s, r) => s + r.pkts_in + r.pkts_out + r.pkts_unmatched, 0);

  describe.skipIf(!addon)('on every recorded fixture, pcap and pcapng, with and without skipBad', () => {
    const files = fixtures('pcap');
    it('finds the fixtures, pcapng among them', () => {
      expect(files.length).toBeGreaterThanOrEqual(6);
      expect(files.filter((f) => f.name.endsWith('.pcapng')).length).toBeGreaterThan(0);
    });
    for (const { name, bytes } of files) {
      it(name, () => {
        const first = firstTimestamp(bytes);
        const guest = { guestIps: [ipBytes('10.201.0.10'), ipBytes('fd00:201::10')] };
        const [whole, , , , skipping] = differential(
          bytes,
          [
            guest,
            { ...guest, guestMacs: [macBytes('02:00:0a:c9:00:0a')], bridgeIps: [ipBytes('10.201.0.1')], fillEmpty: false, originWallNs: first - 40_000_001n },
            { bucketNs: 10e6, latenessNs: 150e6, bridgeIps: [ipBytes('10.201.0.1')], originWallNs: first + 333_333_333n },
            { bucketNs: 1e6, fillEmpty: true, guestMacs: [macBytes('02:00:0a:c9:00:0a')] },
            { ...guest, skipBad: true },
          ],
          [1, 7, 4096, 0],
        );
        // Both did read the file (the differential alone would accept two
        // readers that read nothing): every packet is in a row.
        const s = finalStatus(whole!);
        expect(s.packets, s.error ?? '').toBeGreaterThan(0);
        expect(packetsIn(allRows(whole!))).toBe(s.packets);
        expect(finalStatus(skipping!).packets).toBeGreaterThanOrEqual(s.packets);
        expect(packetsIn(allRows(skipping!))).toBe(finalStatus(skipping!).packets);
      });
    }
  });

  describe.skipIf(!addon)('on the fuzz seed corpus, pcap and pcapng, with and without skipBad', () => {
    const files = fixtures('fuzz-corpus');
    it('finds the seeds, pcapng among them', () => {
      expect(files.length).toBeGreaterThan(0);
      expect(files.filter((f) => f.bytes[2] === 0x0a && f.bytes[3] === 0x0d).length).toBeGreaterThan(0);
    });
    for (const { name, bytes: seed } of files) {
      it(name, () => {
        // A seed is [ctl][seed][capture]: as it is (not a capture at all) and the capture alone.
        differential(seed, [{}, { skipBad: true }], [1, 0]);
        const capture = seed.subarray(2);
        const [whole, , , , , skipping] = differential(capture, [{ guestIps: [ipBytes('10.0.0.2')] }, ...SYNTH_OPTIONS.slice(1), { skipBad: true }]);
        const s = finalStatus(whole!);
        expect(s.packets > 0 || s.error !== null, 'read packets, or said why not').toBe(true);
        expect(packetsIn(allRows(whole!))).toBe(s.packets);
        expect(finalStatus(skipping!).packets).toBeGreaterThanOrEqual(s.packets);
      });
    }
  });

  describe.skipIf(!addon)('on captures built to reach every branch', () => {
    for (const c of SYNTH) {
      it(c.name, () => {
        const wholes = differential(c.bytes, c.options ?? SYNTH_OPTIONS);
        if (process.env.DUMP_AGG) {
          const rows = allRows(wholes[0]!);
          const agg: Record<string, number> = {};
          for (const r of rows) for (const [k, v] of Object.entries(r)) if (k !== 't_mono_ns') agg[k] = (agg[k] ?? 0) + Number(v);
          console.log(c.name, rows.length, JSON.stringify(finalStatus(wholes[0]!)), JSON.stringify(agg));
        }
        expect(finalStatus(wholes[0]!)).toMatchObject({ ok: true });
        expect(finalStatus(wholes[0]!).packets).toBeGreaterThan(0);
      });
    }

    it('counts what it should (the differential alone would accept two identical mistakes)', () => {
      const [whole] = differential(pcap({}, mixRecords(false)), [SYNTH_OPTIONS[0]!], [0]);
      const rows = allRows(whole!);
      expect(rows.map((r) => r.t_mono_ns)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((k) => k * 100e6));
      const sum = (k: keyof (typeof rows)[number]) => rows.reduce((s, r) => s + Number(r[k]), 0);
      expect(sum('pkts_arp')).toBe(2);
      expect(sum('pkts_non_ip')).toBe(2);
      expect(sum('pkts_other_ip')).toBe(1);
      expect(sum('tcp_syn')).toBe(5);
      expect(sum('tcp_synack')).toBe(2);
      expect(rows[5]).toMatchObject({ pkts_in: 0, pkts_out: 0 }); // a filled hole
      expect(rows[6]).toMatchObject({ pkts_in: 2, pkts_out: 1, flows: 3, new_flows: 1, dst_ports: 3, peers: 1 });
    });

    it('records of the largest sizes allowed, fed in pieces of any size', () => {
      const big = (n: number) => eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 17, total: 0xffff, payload: udp(9, 9, fill(n - 42)) }));
      const [large] = differential(
        pcap({ snaplen: 0, ns: true }, [
          { ts: BASE, data: big(262144), wire: 300000 },
          { ts: BASE + ms(1), data: tcp4(PEER4, GUEST4, 1, 2, SYN) },
          { ts: BASE + ms(150), data: big(100000) },
        ]),
        [{ guestIps: [ipBytes(GUEST4)] }],
      );
      expect(finalStatus(large!)).toMatchObject({ ok: true, packets: 3 });
      const [snap] = differential(pcap({ snaplen: 1500 }, [{ ts: BASE, data: big(1500) }, { ts: BASE + ms(200), data: big(1499) }]), [{}]);
      expect(finalStatus(snap!)).toMatchObject({ ok: true, packets: 2 });
    });

    it('records over the header snaplen are read as libpcap reads them: cut to it, counted, not refused', () => {
      // Regression: both readers refused them ("record caplen 101 exceeds the file's snaplen 100").
      const mix = mixRecords(false);
      const over = mix.filter((r) => r.data.length > 64).length;
      expect(over).toBeGreaterThan(0);
      const [whole] = differential(pcap({ snaplen: 64 }, mix), SYNTH_OPTIONS);
      expect(finalStatus(whole!)).toMatchObject({ ok: true, packets: mix.length, recordsOverSnaplen: over });
      // libpcap hands on the first snaplen bytes: the rows of the same records cut to 64 bytes by the writer.
      const [cut] = differential(pcap({ snaplen: 64 }, mix.map((r) => ({ ...r, cut: Math.min(r.data.length, 64) }))), [SYNTH_OPTIONS[0]!], [0]);
      expect(allRows(whole!)).toEqual(allRows(cut!));
      expect(finalStatus(cut!)).toMatchObject({ ok: true, packets: mix.length, recordsOverSnaplen: 0 });
    });

    it('the UDP first fragment is not malformed (its length covers the whole datagram)', () => {
      const bytes = pcap({}, [
        { ts: BASE, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 17, ff: 0x2000, payload: udp(41004, 7777, fill(1472), 3008) })) },
      ]);
      const [whole] = differential(bytes, [{}], [0]);
      expect(allRows(whole!)[0]).toMatchObject({ pkts_udp: 1, pkts_malformed: 0, dst_ports: 1, flows: 1 });
    });

    it('a jump longer than max_empty_buckets: 3600 zero rows, then the rest of the gap counted in the next row', () => {
      // regression for: a jump wrote 1,000,000 zero rows and no row said where the gap was.
      // 2^60 ns clamp: the jump is 11.5e9 buckets of 100 ms.
      const bytes = pcap({}, [
        { ts: 0n, sec: 1, frac: 0, data: udp4(PEER4, GUEST4, 1, 2) },
        { ts: 0n, sec: 0xfffffff0, frac: 0, data: udp4(PEER4, GUEST4, 1, 2) },
        { ts: 0n, sec: 0xfffffff1, frac: 0, data: udp4(PEER4, GUEST4, 1, 2) },
      ]);
      const n = trace(makeNative({}), bytes, bytes.length);
      const t = trace(makeTs({}), bytes, bytes.length);
      expectSame(n, t, 'hole');
      const rows = allRows(n);
      expect(rows.length).toBe(1 + 3600 + 1);
      const k = (1n << 60n) / 100_000_000n; // the clamped packets' bucket
      expect(rows.at(-1)).toMatchObject({ t_mono_ns: Number(k * 100_000_000n), pkts_unmatched: 2, empty_buckets_skipped: Number(k - 1n - 3600n) });
      const before = rows.slice(0, -1);
      expect(before).toHaveLength(1 + 3600);
      expect(before.every((r) => r.empty_buckets_skipped === 0)).toBe(true);
      expect(finalStatus(t)).toMatchObject({ ok: true, packets: 3, holes: 1, emptyBucketsSkipped: Number(k - 1n - 3600n) });
    });

    it("past the flow table's bound (262144 flows): the same evictions, the same new_flows", () => {
      // 300,000 one-packet flows 2 µs apart, then 30,000 of the first ones
      // (evicted: new again) and 30,000 recent ones (not new).
      const order = [...Array.from({ length: 300_000 }, (_, i) => i), ...Array.from({ length: 30_000 }, (_, i) => i), ...Array.from({ length: 30_000 }, (_, i) => 270_000 + i)];
      const rec = 16 + 42;
      const buf = new Uint8Array(24 + order.length * rec);
      buf.set(pcap({ snaplen: 65535 }, []));
      const dv = new DataView(buf.buffer);
      const frame = Uint8Array.from(udp4(PEER4, GUEST4, 1, 53));
      order.forEach((f, i) => {
        const o = 24 + i * rec;
        const us = 2 * (i + 1);
        dv.setUint32(o, 1_700_000_000 + Math.floor(us / 1e6), true);
        dv.setUint32(o + 4, us % 1e6, true);
        dv.setUint32(o + 8, 42, true);
        dv.setUint32(o + 12, 42, true);
        buf.set(frame, o + 16);
        dv.setUint32(o + 16 + 26, (10 << 24) | (f >>> 8)); // source address and port name the flow
        dv.setUint16(o + 16 + 34, 1024 + (f & 0xff));
      });
      const wholes = differential(buf, [{ bucketNs: 10e6, guestIps: [ipBytes(GUEST4)] }, { bucketNs: 10e6, latenessNs: 10e6 }], [65536, 0]);
      expect(wholes.length).toBe(2);
      for (const w of wholes) expect(allRows(w).reduce((s, r) => s + r.new_flows, 0)).toBe(330_000);
    });

    it('live use: advance() between feeds closes the same buckets', () => {
      const bytes = pcap({ ns: true }, mixRecords(true));
      for (const o of SYNTH_OPTIONS) {
        for (const chunk of [7, 200]) {
          const steps = [0, 30e6, 10e6, 99_999_999, 100e6, 250e6, -5e18, 120e6, 650e6, 700e6 + 1, 5e9];
          const adv = (i: number) => (i % 3 === 0 ? steps[(i / 3) % steps.length] : undefined);
          const n = trace(makeNative(o), bytes, chunk, adv);
          const t = trace(makeTs(o), bytes, chunk, adv);
          expectSame(n, t, `advance, chunks of ${chunk}`);
        }
      }
    });

    it('finish() after advance() to a bucket edge or past it: the same lastPartial', () => {
      const bytes = pcap({ ns: true }, mixRecords(true)); // the last packet at 700 ms
      for (const o of SYNTH_OPTIONS) {
        for (const now of [700e6, 700e6 + 1, 701e6, 710e6, 735e6, 800e6, 1e9]) {
          const n = trace(makeNative(o), bytes, bytes.length, () => now);
          const t = trace(makeTs(o), bytes, bytes.length, () => now);
          expectSame(n, t, `advance(${now})`);
        }
      }
      // Cut short or not, both ways.
      const lasts = SYNTH_OPTIONS.flatMap((o) => [700e6, 710e6, 800e6].map((now) => trace(makeTs(o), bytes, bytes.length, () => now).lastPartial[0]));
      expect(lasts).toContain(true);
      expect(lasts).toContain(false);
    });
  });

  describe.skipIf(!addon)('on hostile input: the same error, at the same offset, after the same rows', () => {
    const good = mixRecords(false).slice(0, 12);
    const lenOf = (recs: Rec[]) => pcap({}, recs).length;
    const cases: Array<{ name: string; bytes: Uint8Array; error: string; at: number; packets?: number }> = [
      {
        name: 'caplen > 262144 (snaplen 0)',
        bytes: pcap({ snaplen: 0 }, [...good, { ts: BASE + ms(900), data: fill(64), caplen: 262145 }]),
        error: 'record caplen 262145 exceeds the 262144-byte limit',
        at: lenOf(good),
        packets: 12,
      },
      {
        name: 'caplen > 262144 with a smaller snaplen',
        bytes: pcap({ snaplen: 65535 }, [...good, { ts: BASE + ms(900), data: fill(64), caplen: 0xffffffff }]),
        error: 'record caplen 4294967295 exceeds the 262144-byte limit',
        at: lenOf(good),
        packets: 12,
      },
      {
        name: 'caplen > 262144 with a larger snaplen',
        bytes: pcap({ snaplen: 0x7fffffff }, [{ ts: BASE, data: fill(300) }, { ts: BASE + 1000n, data: fill(64), caplen: 300000 }]),
        error: 'record caplen 300000 exceeds the 262144-byte limit',
        at: 24 + 16 + 300,
        packets: 1,
      },
      {
        name: 'a truncated last record',
        bytes: pcap({}, [...good, { ts: BASE + ms(900), data: fill(100) }]).slice(0, -40),
        error: 'truncated pcap record: input ends after 76 of its 116 bytes',
        at: lenOf(good),
        packets: 12,
      },
      {
        name: 'a truncated last record header',
        bytes: pcap({}, [...good, { ts: BASE + ms(900), data: fill(100) }]).slice(0, lenOf(good) + 9),
        error: 'truncated pcap record header: input ends after 9 of its 16 bytes',
        at: lenOf(good),
        packets: 12,
      },
      {
        name: 'a record header and nothing else',
        bytes: pcap({}, [{ ts: BASE, data: fill(100) }]).slice(0, 40),
        error: 'truncated pcap record: input ends after 16 of its 116 bytes',
        at: 24,
        packets: 0,
      },
      { name: 'a truncated file header', bytes: pcap({}, []).slice(0, 10), error: 'truncated pcap file header: input ends after 10 of its 24 bytes', at: 0 },
      { name: 'empty input', bytes: new Uint8Array(0), error: 'empty input: not a pcap or pcapng capture', at: 0 },
      { name: '3 bytes', bytes: Uint8Array.from([0xd4, 0xc3, 0xb2]), error: 'input is only 3 bytes: not a pcap or pcapng capture', at: 0 },
      { name: 'text', bytes: new TextEncoder().encode('hello, this is not a capture\n'), error: 'not a pcap or pcapng capture (starts with 68 65 6c 6c)', at: 0 },
      { name: 'gzip', bytes: Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, ...fill(40)]), error: 'not a pcap or pcapng capture (starts with 1f 8b 08 00; gzip-compressed? decompress it first)', at: 0 },
      { name: 'Kuznetzov pcap', bytes: Uint8Array.from([0xa1, 0xb2, 0xcd, 0x34, ...fill(40)]), error: 'not a pcap or pcapng capture (starts with a1 b2 cd 34; modified (Kuznetzov) pcap is not supported)', at: 0 },
      { name: 'pcap version 3.0', bytes: pcap({ major: 3, minor: 0 }, good), error: 'unsupported pcap version 3.0', at: 0 },
      { name: 'pcap version 1.4', bytes: pcap({ major: 1, minor: 4, le: false }, good), error: 'unsupported pcap version 1.4', at: 0 },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const wholes = differential(c.bytes, [SYNTH_OPTIONS[0]!, SYNTH_OPTIONS[2]!]);
        expect(finalStatus(wholes[0]!)).toMatchObject({ ok: false, error: c.error, errorOffset: c.at, offset: c.at, packets: c.packets ?? 0 });
        if (c.packets) expect(allRows(wholes[0]!).reduce((s, r) => s + r.pkts_in + r.pkts_out + r.pkts_unmatched, 0)).toBe(c.packets);
      });
    }

    it('a pcap-parser version it would accept but the native refuses (2.x is fine, 4.4 is not)', () => {
      differential(pcap({ major: 2, minor: 2 }, good), [{}]);
      const [whole] = differential(pcap({ major: 4, minor: 4 }, good), [{}]);
      expect(finalStatus(whole!)).toMatchObject({ ok: false, error: 'unsupported pcap version 4.4' });
    });

    it('random bytes, with and without a pcap header in front', () => {
      let x = 0x2545f491;
      const rand = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0), x >>> 24);
      for (let i = 0; i < 40; i++) {
        const body = Array.from({ length: 1 + ((i * 97) % 700) }, rand);
        differential(Uint8Array.from(body), [{}], [1, 0]);
        for (const f of [{}, { le: false, ns: true, snaplen: 300 }]) {
          const withHeader = new Uint8Array([...pcap(f, []), ...body]);
          differential(withHeader, [{ guestIps: [ipBytes(GUEST4)] }, SYNTH_OPTIONS[2]!], [1, 5, 0]);
        }
      }
      // Records with plausible headers and random contents, then garbage.
      for (let i = 0; i < 20; i++) {
        const recs: Rec[] = Array.from({ length: 30 }, (_, k) => ({
          ts: BASE + BigInt(k * 7_000_000 + (rand() << 8)),
          data: Array.from({ length: rand() % 120 }, rand),
          wire: rand() * 8,
        }));
        const bytes = new Uint8Array([...pcap({ linktype: [1, 113, 276, 101, 0][i % 5]!, snaplen: 200 }, recs), ...Array.from({ length: i * 3 }, rand)]);
        differential(bytes, SYNTH_OPTIONS, [1, 13, 0]);
      }
    });
  });

  describe.skipIf(!addon)('live use: begin() and end()', () => {
    // The episode clock's 0 is 300 ms before BASE: the mix's packets lie at 300..1000 ms.
    const ORIGIN = BASE - ms(300);
    const tOf = (r: Rec) => Number(r.ts - ORIGIN) / 1e6; // ms on the episode clock
    const MIX = mixRecords(false);
    const CAPTURES: Array<{ name: string; bytes: Uint8Array }> = [
      { name: 'mix µs', bytes: pcap({}, MIX) },
      { name: 'mix ns', bytes: pcap({ ns: true }, mixRecords(true)) },
      { name: 'no packets', bytes: pcap({}, []) },
      { name: 'no bytes', bytes: new Uint8Array(0) },
      { name: 'a truncated last record', bytes: pcap({}, [...MIX.slice(0, 20), { ts: BASE + ms(900), data: fill(100) }]).slice(0, -40) },
    ];
    const guests = { guestIps: [ipBytes(GUEST4), ipBytes(GUEST6)] };
    const LIVE_OPTIONS: Opts[] = [
      { ...guests, originWallNs: ORIGIN },
      { ...guests, originWallNs: ORIGIN, latenessNs: 2000e6 },
      { bucketNs: 10e6, latenessNs: 35e6, fillEmpty: false, guestMacs: [macBytes(GMAC)], bridgeIps: [ipBytes(BRIDGE)], originWallNs: ORIGIN + 1n },
      { bucketNs: 1e9, latenessNs: 2000e6, originWallNs: ORIGIN },
      { ...guests }, // no origin: begin() is refused
    ];

    type LiveOp = { op: 'begin' | 'advance' | 'end'; t: number } | { op: 'feed'; n: number } | { op: 'finish' };
    interface LiveTrace extends Trace {
      /** Per call: the message it threw, end()'s packetsAfterEnd, or null. */
      results: Array<string | number | null>;
    }

    /** Replays ops (a feed takes the input's next n bytes); a call that throws records its message. */
    function liveTrace(b: CaptureBucketizer, input: Uint8Array, ops: LiveOp[]): LiveTrace {
      const t: LiveTrace = { rows: [], status: [], lastPartial: [], results: [] };
      let at = 0;
      for (const o of ops) {
        try {
          if (o.op === 'feed') {
            const part = input.subarray(at, at + o.n);
            at += o.n;
            t.rows.push(b.feed(part));
            t.results.push(null);
          } else if (o.op === 'advance') {
            t.rows.push(b.advance(o.t));
            t.results.push(null);
          } else if (o.op === 'begin') {
            b.begin(o.t);
            t.results.push(null);
          } else if (o.op === 'finish') {
            const f = b.finish();
            t.rows.push(f.rows);
            t.lastPartial.push(f.lastPartial);
            t.results.push(null);
          } else {
            const e = b.end(o.t);
            t.rows.push(e.rows);
            t.lastPartial.push(e.lastPartial);
            t.results.push(e.packetsAfterEnd);
          }
        } catch (e) {
          t.results.push((e as Error).message);
        }
        t.status.push(b.status());
      }
      return t;
    }

    const both = (o: Opts, input: Uint8Array, ops: LiveOp[], what: string): LiveTrace => {
      const n = liveTrace(makeNative(o), input, ops);
      const t = liveTrace(makeTs(o), input, ops);
      expectSame(n, t, what);
      expect(t.results, `${what}: results`).toEqual(n.results);
      return n;
    };
    const pkts = (r: RawBucketRow) => r.pkts_in + r.pkts_out + r.pkts_unmatched;

    /** begin (maybe late, maybe never), feeds of random sizes, advances (mostly forward), end, then calls end refuses. */
    function randomOps(seed: number, inputLength: number): LiveOp[] {
      let x = seed * 2654435761 + 1;
      const rand = (n: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0), (x >>> 8) % n);
      const pick = <T>(a: T[]) => a[rand(a.length)]!;
      const ops: LiveOp[] = [];
      const beginAt = pick([-1, 0, 0, 0, 0, 1, 3]); // before which feed (-1: never; past the last: after them)
      const begin: LiveOp = { op: 'begin', t: pick([0, 250e6, 450e6, 450e6 + 1, 999_999_999, -150e6]) };
      let fed = 0;
      let feeds = 0;
      let now = pick([-50e6, 0, 200e6]);
      while (fed < inputLength) {
        if (feeds === beginAt) ops.push(begin);
        const n = 1 + rand(rand(4) === 0 ? 4096 : 300);
        ops.push({ op: 'feed', n });
        fed += n;
        feeds++;
        if (rand(3) === 0) {
          now += (rand(300) - 60) * 1e6 + rand(3) - 1;
          ops.push({ op: 'advance', t: now });
        }
        if (rand(30) === 0) ops.push({ op: 'finish' });
      }
      if (beginAt >= feeds) ops.push(begin);
      if (rand(2)) ops.push({ op: 'advance', t: pick([300e6, 950e6, 1000e6, 3000e6]) });
      ops.push({ op: 'end', t: pick([0, 300e6, 440e6, 950e6, 1000e6, 1000e6 + 1, 1049e6, 2000e6, 5e9]) });
      // Over: all refused.
      ops.push({ op: 'feed', n: 64 }, { op: 'advance', t: 6e9 }, { op: 'finish' }, begin, { op: 'end', t: 7e9 });
      return ops;
    }

    it('random interleavings of begin, feed, advance and end: the same rows, results and status', () => {
      const seen = { begun: 0, refused: 0, after: 0, partial: 0, whole: 0, rows: 0 };
      for (const c of CAPTURES) {
        LIVE_OPTIONS.forEach((o, oi) => {
          for (let seed = 1; seed <= 16; seed++) {
            const ops = randomOps(seed, c.bytes.length);
            const n = both(o, c.bytes, ops, `${c.name}, options #${oi}, seed ${seed}`);
            const endAt = ops.findIndex((op) => op.op === 'end');
            const beginAt = ops.findIndex((op) => op.op === 'begin');
            if (beginAt >= 0 && beginAt < endAt) {
              if (n.results[beginAt] === null) seen.begun++;
              else seen.refused++;
            }
            const after = n.results[endAt];
            if (typeof after === 'number' && after > 0) seen.after++;
            if (n.lastPartial[n.lastPartial.length - 1]) seen.partial++;
            else seen.whole++;
            seen.rows += allRows(n).length;
            const rest = n.results.slice(endAt + 1);
            expect(rest).toEqual(Array<string>(rest.length).fill('the series has ended'));
          }
        });
      }
      // The draws did reach every case.
      for (const [k, v] of Object.entries(seen)) expect(v, k).toBeGreaterThan(0);
    });

    it('a capture with no traffic: a zero row per bucket from the begin bucket on', () => {
      for (const make of [makeNative, makeTs]) {
        const b = make({ originWallNs: ORIGIN });
        expect(unpackRows(b.feed(pcap({}, [])))).toEqual([]);
        b.begin(250e6);
        const r = unpackRows(b.advance(1000e6));
        expect(r.map((x) => x.t_mono_ns)).toEqual([2, 3, 4, 5, 6, 7, 8, 9].map((k) => k * 100e6));
        expect(r.every((x) => pkts(x) === 0 && x.flows === 0)).toBe(true);
        const e = b.end(1050e6);
        expect(unpackRows(e.rows).map((x) => [x.t_mono_ns, pkts(x)])).toEqual([[1000e6, 0]]);
        expect(e).toMatchObject({ lastPartial: true, packetsAfterEnd: 0 });
        expect(b.status()).toMatchObject({ ok: true, packets: 0 });
      }
    });

    it('packets before the begin bucket are late into it; packets after the end are counted, not emitted', () => {
      const bytes = pcap({}, MIX);
      const lateExpected = MIX.filter((r) => tOf(r) < 400).length; // bucket 3 and before
      const inFirst = MIX.filter((r) => tOf(r) < 500).length;
      const atOrAfter = (t: number) => MIX.filter((r) => tOf(r) >= t).length;
      expect(lateExpected).toBeGreaterThan(0);
      expect(atOrAfter(1000)).toBe(1); // the 700 ms record, at 1000 ms
      for (const make of [makeNative, makeTs]) {
        const cases = [
          // [lateness, end, rows closed by end() (bucket indices), lastPartial, packetsAfterEnd]
          { latenessNs: 2000e6, end: 950e6, closed: [4, 5, 6, 7, 8, 9], lastPartial: true, after: 1 },
          { latenessNs: 2000e6, end: 1000e6, closed: [4, 5, 6, 7, 8, 9], lastPartial: false, after: 1 }, // on an edge
          { latenessNs: 2000e6, end: 1000e6 + 1, closed: [4, 5, 6, 7, 8, 9, 10], lastPartial: true, after: 0 },
          // Lateness 0: the packets closed buckets 4..9 as they came (the 1000 ms one closed 9).
          { latenessNs: 0, end: 950e6, closed: [], lastPartial: false, after: 1 },
          { latenessNs: 0, end: 1000e6 + 1, closed: [10], lastPartial: true, after: 0 },
          // An end before the begin: nothing to close; every packet is after it.
          { latenessNs: 2000e6, end: 300e6, closed: [], lastPartial: false, after: MIX.length },
        ];
        for (const c of cases) {
          const what = `lateness ${c.latenessNs / 1e6} ms, end at ${c.end}`;
          const b = make({ ...guests, originWallNs: ORIGIN, latenessNs: c.latenessNs });
          b.begin(450e6);
          const fed = unpackRows(b.feed(bytes));
          const e = b.end(c.end);
          const ended = unpackRows(e.rows);
          expect(ended.map((r) => r.t_mono_ns / 100e6), what).toEqual(c.closed);
          expect(e.lastPartial, what).toBe(c.lastPartial);
          expect(e.packetsAfterEnd, what).toBe(c.after);
          const rows = [...fed, ...ended];
          if (c.end > 400e6) {
            expect(rows[0], what).toMatchObject({ t_mono_ns: 400e6, pkts_late: lateExpected });
            expect(pkts(rows[0]!), what).toBe(inFirst);
          }
          expect(rows.reduce((s, r) => s + pkts(r), 0) + e.packetsAfterEnd, `${what}: every packet once`).toBe(MIX.length);
          expect(b.status()).toMatchObject({ ok: true, packets: MIX.length });
        }
      }
    });

    it('with lateness, advance() leaves the young buckets open and end() closes them', () => {
      for (const make of [makeNative, makeTs]) {
        const b = make({ originWallNs: ORIGIN, latenessNs: 250e6 });
        b.begin(250e6);
        expect(unpackRows(b.advance(1000e6)).map((r) => r.t_mono_ns)).toEqual([2, 3, 4, 5, 6].map((k) => k * 100e6));
        const e = b.end(1000e6);
        expect(unpackRows(e.rows).map((r) => r.t_mono_ns)).toEqual([7, 8, 9].map((k) => k * 100e6));
        expect(e).toMatchObject({ lastPartial: false, packetsAfterEnd: 0 });
      }
    });

    it('refuses what it should, with the same messages on both paths', () => {
      const msg = (f: () => unknown) => {
        try {
          f();
        } catch (e) {
          return (e as Error).message;
        }
        return null;
      };
      const bytes = pcap({}, MIX);
      const refusals = (make: (o: Opts) => CaptureBucketizer) => {
        const out: Array<string | null> = [];
        out.push(msg(() => make({}).begin(0))); // no origin
        const twice = make({ originWallNs: ORIGIN });
        twice.begin(0);
        out.push(msg(() => twice.begin(100e6)));
        const afterPacket = make({ originWallNs: ORIGIN });
        afterPacket.feed(bytes);
        out.push(msg(() => afterPacket.begin(0)));
        const afterHeader = make({ originWallNs: ORIGIN }); // a header, no packet yet: not started
        afterHeader.feed(bytes.subarray(0, 30));
        out.push(msg(() => afterHeader.begin(0)));
        out.push(msg(() => afterHeader.begin('x' as unknown as number)));
        out.push(msg(() => afterHeader.end('x' as unknown as number)));
        const ended = make({ originWallNs: ORIGIN });
        ended.end(0); // never started: ends all the same
        out.push(
          msg(() => ended.feed(bytes)),
          msg(() => ended.advance(1)),
          msg(() => ended.finish()),
          msg(() => ended.begin(0)),
          msg(() => ended.end(1)),
          msg(() => ended.feed('x' as unknown as Uint8Array)),
        );
        out.push(JSON.stringify(ended.status()));
        return out;
      };
      const ts = refusals(makeTs);
      expect(ts).toEqual(refusals(makeNative));
      expect(ts.slice(0, -1)).toEqual([
        'begin() needs originWallNs (a series on the episode clock)',
        'begin(): the series has already started',
        'begin(): the series has already started',
        null, // after the file header alone: begun
        'Expected nowMonoNs to be a number',
        'Expected endMonoNs to be a number',
        ...Array<string>(6).fill('the series has ended'),
      ]);
    });
  });

  it('the TS path takes skipBad and refuses bad options as the native does', () => {
    expect(makeTs({ skipBad: true }).status()).toEqual(makeTs({}).status());
    for (const bucketNs of [0, -1, NaN, 1e19]) {
      expect(() => makeTs({ bucketNs })).toThrow(RangeError);
      if (addon) expect(() => makeNative({ bucketNs })).toThrow('Expected bucketNs to be a positive number of nanoseconds');
    }
    expect(() => makeTs({ guestIps: [new Uint8Array(4)] })).toThrow('Expected guestIps entries to be Uint8Array(16)');
    expect(() => makeTs({ guestMacs: [new Uint8Array(16)] })).toThrow('Expected guestMacs entries to be Uint8Array(6)');
    expect(() => makeTs({ bridgeIps: 'x' as unknown as Uint8Array[] })).toThrow('Expected bridgeIps to be an array of Uint8Array');
    expect(() => makeTs({}).feed('x' as unknown as Uint8Array)).toThrow('Expected a Uint8Array');
  });
});

/** The first packet's timestamp (pcap or pcapng), ns; 0 when there is none. */
function firstTimestamp(b: Uint8Array): bigint {
  let first: bigint | null = null;
  const r = new CaptureReader((p) => (first ??= p.tsNs));
  r.feed(b);
  r.finish();
  return first ?? 0n;
}
