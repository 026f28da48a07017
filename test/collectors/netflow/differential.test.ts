// native == TS: every classic pcap we have (recorded fixtures, the fuzz seed
// corpus) and captures built here to reach every branch of the decoder and
// the bucketizer go through the native CaptureBucketizer and the pure-TS one
// (src/collectors/netflow/ts/), in chunks of several sizes and with several
// option sets; the rows each call returns and the status after each call
// must be identical. Hostile input must end with the same message at the same
// offset, after the same rows.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nativeAddon, nativeStatus, type NativeCaptureBucketizerOptions } from '../../../src/native/addon.js';
import { ipBytes, macBytes } from '../../../src/collectors/netflow/address.js';
import { ROW_WIDTH, unpackRows, type CaptureBucketizer, type CaptureStatus, type RawBucketRow } from '../../../src/collectors/netflow/bucketizer.js';
import { TsCaptureBucketizer } from '../../../src/collectors/netflow/ts/bucketizer.js';
import { PCAPNG_REFUSED } from '../../../src/collectors/netflow/ts/pcap-stream.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const addon = nativeAddon();

// ---------------------------------------------------------------- running

type Opts = Partial<NativeCaptureBucketizerOptions>;
const full = (o: Opts): NativeCaptureBucketizerOptions => ({
  bucketNs: 100e6,
  fillEmpty: true,
  latenessNs: 0,
  skipBad: false,
  guestIps: [],
  guestMacs: [],
  bridgeIps: [],
  ...o,
});
const makeNative = (o: Opts): CaptureBucketizer => new addon!.CaptureBucketizer(full(o));
const makeTs = (o: Opts): CaptureBucketizer => new TsCaptureBucketizer(full(o));

interface Trace {
  /** Rows each call returned: the feeds, finish(), a feed after it, a second finish(). */
  rows: Float64Array[];
  /** status() after each of those calls. */
  status: CaptureStatus[];
  lastPartial: boolean[];
}

/**
 * Feeds input in chunks of `chunk` bytes, each through one scratch buffer
 * that is scribbled over after the call (a reader must not keep the
 * caller's memory), then finishes.
 */
function trace(b: CaptureBucketizer, input: Uint8Array, chunk: number, advance?: (i: number) => number | undefined): Trace {
  const t: Trace = { rows: [], status: [], lastPartial: [] };
  const scratch = new Uint8Array(Math.max(chunk, 1));
  for (let i = 0, n = 0; i < input.length; i += chunk, n++) {
    const part = input.subarray(i, i + chunk);
    scratch.set(part);
    t.rows.push(b.feed(scratch.subarray(0, part.length)));
    scratch.fill(0xa5);
    t.status.push(b.status());
    const now = advance?.(n);
    if (now !== undefined) {
      t.rows.push(b.advance(now));
      t.status.push(b.status());
    }
  }
  const f = b.finish();
  t.rows.push(f.rows);
  t.lastPartial.push(f.lastPartial);
  t.status.push(b.status());
  t.rows.push(b.feed(input.subarray(0, 32)));
  t.status.push(b.status());
  const g = b.finish();
  t.rows.push(g.rows);
  t.lastPartial.push(g.lastPartial);
  t.status.push(b.status());
  return t;
}

const sameRows = (a: Float64Array, b: Float64Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

/** Asserts identical traces, reporting the first call that differs. */
function expectSame(native: Trace, ts: Trace, what: string): void {
  expect(ts.rows.length, `${what}: calls`).toBe(native.rows.length);
  for (let i = 0; i < native.rows.length; i++) {
    const n = native.rows[i]!;
    const t = ts.rows[i]!;
    if (sameRows(n, t)) continue;
    // The first rows that differ (a window: there may be a million rows).
    let j = 0;
    while (j < n.length && j < t.length && Object.is(n[j], t[j])) j++;
    const r = Math.floor(j / ROW_WIDTH);
    const window = (a: Float64Array) => unpackRows(a.subarray(r * ROW_WIDTH, (r + 3) * ROW_WIDTH));
    expect(window(t), `${what}: call ${i}, rows from #${r}`).toEqual(window(n));
    expect(t.length / ROW_WIDTH, `${what}: call ${i}, rows`).toBe(n.length / ROW_WIDTH);
    expect.fail(`${what}: rows of call ${i} differ`);
  }
  for (let i = 0; i < native.status.length; i++) expect(ts.status[i], `${what}: status after call ${i}`).toEqual(native.status[i]);
  expect(ts.lastPartial, `${what}: lastPartial`).toEqual(native.lastPartial);
}

const CHUNKS = [1, 7, 4096, 0]; // 0: the whole input at once

/** Runs both paths over every chunk size and option set; returns the native's whole-input trace per option set. */
function differential(input: Uint8Array, optionSets: Opts[], chunks = CHUNKS): Trace[] {
  const out: Trace[] = [];
  optionSets.forEach((o, oi) => {
    for (const c of chunks) {
      const chunk = c || Math.max(input.length, 1);
      const n = trace(makeNative(o), input, chunk);
      const t = trace(makeTs(o), input, chunk);
      expectSame(n, t, `options #${oi}, chunks of ${c || 'all'}`);
      if (c === 0) out.push(n);
    }
  });
  return out;
}

const allRows = (t: Trace) => unpackRows(Float64Array.from(t.rows.flatMap((r) => Array.from(r))));
const finalStatus = (t: Trace) => t.status[t.status.length - 1]!;

// ---------------------------------------------------------------- building captures

type B = number[];
const u16 = (v: number): B => [(v >>> 8) & 255, v & 255];
const u32 = (v: number): B => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const v4 = (s: string): B => s.split('.').map(Number);
const v6 = (s: string): B => Array.from(ipBytes(s));
const mac = (s: string): B => Array.from(macBytes(s));
const fill = (n: number, x = 0x55): B => new Array<number>(n).fill(x);

const eth = (dst: string, src: string, type: number, payload: B): B => [...mac(dst), ...mac(src), ...u16(type), ...payload];
/** Ethernet with VLAN tags (their TPIDs, outermost first) around `type`. */
const tagged = (dst: string, src: string, tpids: number[], type: number, payload: B): B => {
  let body = payload;
  let t = type;
  for (let i = tpids.length - 1; i >= 0; i--) {
    body = [...u16(100 + i), ...u16(t), ...body];
    t = tpids[i]!;
  }
  return eth(dst, src, t, body);
};

interface Ip4 {
  src: string;
  dst: string;
  proto: number;
  payload: B;
  ff?: number; // flags + fragment offset field
  options?: B;
  total?: number;
  ihl?: number; // in 4-byte words
  version?: number;
}
const ipv4 = (h: Ip4): B => {
  const opts = h.options ?? [];
  const ihl = h.ihl ?? 5 + opts.length / 4;
  const total = h.total ?? 20 + opts.length + h.payload.length;
  return [((h.version ?? 4) << 4) | ihl, 0, ...u16(total), 0x12, 0x34, ...u16(h.ff ?? 0x4000), 64, h.proto, 0, 0, ...v4(h.src), ...v4(h.dst), ...opts, ...h.payload];
};
const ipv6 = (src: string, dst: string, nh: number, payload: B, plen = payload.length): B => [0x60, 0, 0, 0, ...u16(plen), nh, 64, ...v6(src), ...v6(dst), ...payload];
/** Hop-by-hop (0), routing (43) or destination options (60): (len + 1) * 8 bytes. */
const ext = (nh: number, len = 0): B => [nh, len, ...fill((len + 1) * 8 - 2, 0)];
/** Authentication header: (len + 2) * 4 bytes. */
const ah = (nh: number, len = 4): B => [nh, len, ...fill((len + 2) * 4 - 2, 0)];
const frag6 = (nh: number, offset8: number, more: boolean): B => [nh, 0, ...u16((offset8 << 3) | (more ? 1 : 0)), 0, 0, 0x12, 0x34];
const tcp = (sp: number, dp: number, flags: number, payload: B = [], doff = 5): B => [
  ...u16(sp),
  ...u16(dp),
  ...u32(1000),
  ...u32(flags & 0x10 ? 2000 : 0),
  doff << 4,
  flags,
  ...u16(65535),
  0,
  0,
  0,
  0,
  ...fill(Math.max(doff - 5, 0) * 4, 1),
  ...payload,
];
const udp = (sp: number, dp: number, payload: B = [], ulen = 8 + payload.length): B => [...u16(sp), ...u16(dp), ...u16(ulen), 0, 0, ...payload];
const icmp = (type: number, code = 0, rest: B = fill(4, 0)): B => [type, code, 0, 0, ...rest];
const arp = (op: number, sha: string, spa: string, tha: string, tpa: string): B => [0, 1, 8, 0, 6, 4, ...u16(op), ...mac(sha), ...v4(spa), ...mac(tha), ...v4(tpa)];

const FIN = 1,
  SYN = 2,
  RST = 4,
  PSH = 8,
  ACK = 16;

interface Rec {
  ts: bigint; // ns since the epoch
  data: B;
  wire?: number; // default: data.length (before any cut)
  cut?: number; // captured bytes (default: all)
  caplen?: number; // the caplen field, when it must lie
  sec?: number; // raw timestamp fields, when they must be odd
  frac?: number;
}
interface FileOpts {
  le?: boolean;
  ns?: boolean;
  snaplen?: number;
  linktype?: number;
  major?: number;
  minor?: number;
}
function pcap(f: FileOpts, recs: Rec[]): Uint8Array {
  const le = f.le ?? true;
  const ns = f.ns ?? false;
  const out: number[] = [];
  const w32 = (v: number) => {
    const b = u32(v >>> 0);
    out.push(...(le ? b.reverse() : b));
  };
  const w16 = (v: number) => {
    const b = u16(v);
    out.push(...(le ? b.reverse() : b));
  };
  w32(ns ? 0xa1b23c4d : 0xa1b2c3d4);
  w16(f.major ?? 2);
  w16(f.minor ?? 4);
  w32(0);
  w32(0);
  w32(f.snaplen ?? 262144);
  w32(f.linktype ?? 1);
  for (const r of recs) {
    const data = r.cut === undefined ? r.data : r.data.slice(0, r.cut);
    w32(r.sec ?? Number(r.ts / 1_000_000_000n));
    w32(r.frac ?? (ns ? Number(r.ts % 1_000_000_000n) : Number((r.ts % 1_000_000_000n) / 1000n)));
    w32(r.caplen ?? data.length);
    w32(r.wire ?? r.data.length);
    for (const x of data) out.push(x);
  }
  return Uint8Array.from(out);
}

// The synthesized lab: a guest, its bridge, peers.
const GUEST4 = '10.200.0.10';
const GUEST6 = '2001:db8::10';
const BRIDGE = '10.200.0.1';
const PEER4 = '192.0.2.7';
const PEER4B = '198.51.100.9';
const PEER6 = '2001:db8::7';
const GMAC = '52:54:00:12:34:56';
const HMAC = '52:54:00:00:00:01';
const OMAC = '02:00:00:00:00:99';
const BCAST = 'ff:ff:ff:ff:ff:ff';
/** A µs-aligned wall-clock time, far past 2^53 ns. */
const BASE = 1_700_000_000_123_456_000n;
const ms = (x: number) => BigInt(Math.round(x * 1e6));

const SYNTH_OPTIONS: Opts[] = [
  { guestIps: [ipBytes(GUEST4), ipBytes(GUEST6)] },
  { fillEmpty: false, guestMacs: [macBytes(GMAC)], bridgeIps: [ipBytes(BRIDGE)], originWallNs: BASE - 12_345_679n },
  { bucketNs: 10e6, latenessNs: 35e6, guestIps: [ipBytes(GUEST4)], guestMacs: [macBytes(GMAC)], bridgeIps: [ipBytes(BRIDGE)], originWallNs: BASE + 250_000_001n },
  { bucketNs: 1e9, latenessNs: 2.5e9 },
  { bucketNs: 1000, fillEmpty: false, latenessNs: 3000, guestIps: [ipBytes(GUEST4), ipBytes(GUEST6)] },
];

const tcp4 = (src: string, dst: string, sp: number, dp: number, flags: number, payload: B = []) =>
  eth(src === GUEST4 ? BCAST : GMAC, src === GUEST4 ? GMAC : HMAC, 0x0800, ipv4({ src, dst, proto: 6, payload: tcp(sp, dp, flags, payload) }));
const udp4 = (src: string, dst: string, sp: number, dp: number, payload: B = []) =>
  eth(GMAC, HMAC, 0x0800, ipv4({ src, dst, proto: 17, payload: udp(sp, dp, payload) }));

/** Everything a real capture holds, in both directions, over a few buckets with a gap. */
function mixRecords(ns: boolean): Rec[] {
  const j = (x: number) => (ns ? BigInt(x) : 0n); // sub-µs jitter in ns captures
  const r: Rec[] = [];
  const at = (t: bigint, data: B, extra: Partial<Rec> = {}) => r.push({ ts: BASE + t, data, ...extra });
  at(0n, eth(BCAST, HMAC, 0x0806, arp(1, HMAC, BRIDGE, '00:00:00:00:00:00', GUEST4)));
  at(ms(0.2) + j(1), eth(HMAC, GMAC, 0x0806, arp(2, GMAC, GUEST4, HMAC, BRIDGE)));
  at(ms(1), tcp4(PEER4, GUEST4, 40001, 8080, SYN));
  at(ms(1.5), tcp4(GUEST4, PEER4, 8080, 40001, SYN | ACK));
  at(ms(2), tcp4(PEER4, GUEST4, 40001, 8080, ACK));
  at(ms(3) + j(999), tcp4(PEER4, GUEST4, 40001, 8080, PSH | ACK, fill(1000)));
  at(ms(50), tcp4(GUEST4, PEER4, 8080, 40001, FIN | ACK));
  at(ms(99.999) + j(999), tcp4(PEER4, GUEST4, 40001, 8080, FIN | ACK)); // 1 ns before the edge in ns files
  at(ms(100), tcp4(PEER4, GUEST4, 40001, 8080, ACK)); // on the edge
  at(ms(101), tcp4(PEER4B, GUEST4, 40002, 9, SYN));
  at(ms(102), tcp4(GUEST4, PEER4B, 9, 40002, RST | ACK));
  at(ms(110), udp4(PEER4, GUEST4, 41001, 7777, fill(100)));
  at(ms(111), udp4(GUEST4, PEER4, 7777, 41001, fill(100)));
  at(ms(112), udp4(GUEST4, BRIDGE, 68, 67, fill(300))); // to the bridge: out
  at(ms(113), udp4(BRIDGE, GUEST4, 67, 68, fill(300)));
  at(ms(114), udp4(BRIDGE, PEER4, 5353, 5353, fill(20))); // from the bridge to elsewhere: in
  at(ms(120), eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 1, payload: icmp(8, 0, fill(60)) })));
  at(ms(121), eth(HMAC, GMAC, 0x0800, ipv4({ src: GUEST4, dst: PEER4, proto: 1, payload: icmp(0, 0, fill(60)) })));
  at(ms(130), eth(GMAC, HMAC, 0x86dd, ipv6(PEER6, GUEST6, 6, tcp(40004, 8080, SYN))));
  at(ms(131), eth(HMAC, GMAC, 0x86dd, ipv6(GUEST6, PEER6, 6, tcp(8080, 40004, SYN | ACK))));
  at(ms(132), eth(GMAC, HMAC, 0x86dd, ipv6(PEER6, GUEST6, 58, icmp(128, 0, fill(8)))));
  at(ms(133), eth('33:33:ff:00:00:10', HMAC, 0x86dd, ipv6(PEER6, 'ff02::1:ff00:10', 58, icmp(135, 0, fill(20))))); // unmatched
  at(ms(140), eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 47, payload: fill(24) }))); // GRE: other IP
  at(ms(141), eth(BCAST, HMAC, 0x88cc, fill(40))); // LLDP: non-IP
  at(ms(142), eth(BCAST, OMAC, 0x0026, fill(38))); // an 802.3 length
  at(ms(143), eth(GMAC, OMAC, 0x0800, ipv4({ src: PEER4, dst: PEER4B, proto: 17, payload: udp(1, 2) }))); // guest MAC only
  at(ms(144), eth(OMAC, GMAC, 0x0800, ipv4({ src: PEER4B, dst: PEER4, proto: 17, payload: udp(2, 1) })));
  at(ms(145), eth(OMAC, OMAC, 0x0800, ipv4({ src: GUEST4, dst: GUEST4, proto: 17, payload: udp(3, 3) }))); // both: out wins
  at(ms(146), eth(OMAC, OMAC, 0x0800, ipv4({ src: PEER4, dst: PEER4B, proto: 6, payload: tcp(5, 6, SYN) }))); // unmatched
  // A few buckets of silence, then a flow seen before and a new one.
  at(ms(640) + j(7), tcp4(PEER4, GUEST4, 40001, 8080, ACK));
  at(ms(641), tcp4(GUEST4, PEER4, 8080, 40001, ACK));
  at(ms(642), tcp4(PEER4, GUEST4, 40009, 22, SYN));
  at(ms(700), udp4(PEER4, GUEST4, 41001, 7777, fill(100)));
  return r;
}

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
];

// ---------------------------------------------------------------- the tests

describe('native and pure-TS bucketizers agree', () => {
  it('has the native addon to compare with', () => {
    expect(addon, nativeStatus().reason).not.toBeNull();
    expect(ROW_WIDTH).toBe(25);
  });

  describe.skipIf(!addon)('on every recorded fixture', () => {
    const dir = path.join(ROOT, 'test', 'fixtures', 'pcap');
    const files = fs.readdirSync(dir).filter((f) => /\.pcap(ng)?$/.test(f));
    it('finds the fixtures', () => expect(files.length).toBeGreaterThanOrEqual(6));
    for (const f of files) {
      it(f, () => {
        const bytes = new Uint8Array(fs.readFileSync(path.join(dir, f)));
        if (f.endsWith('.pcapng')) {
          const t = trace(makeTs({}), bytes, bytes.length);
          expect(finalStatus(t)).toMatchObject({ ok: false, error: PCAPNG_REFUSED, errorOffset: 0, packets: 0 });
          expect(t.rows.every((r) => r.length === 0)).toBe(true);
          return;
        }
        const first = firstTimestamp(bytes);
        const guest = { guestIps: [ipBytes('10.201.0.10'), ipBytes('fd00:201::10')] };
        const [whole] = differential(
          bytes,
          [
            guest,
            { ...guest, guestMacs: [macBytes('02:00:0a:c9:00:0a')], bridgeIps: [ipBytes('10.201.0.1')], fillEmpty: false, originWallNs: first - 40_000_001n },
            { bucketNs: 10e6, latenessNs: 150e6, bridgeIps: [ipBytes('10.201.0.1')], originWallNs: first + 333_333_333n },
            { bucketNs: 1e6, fillEmpty: true, guestMacs: [macBytes('02:00:0a:c9:00:0a')] },
          ],
          [1, 7, 4096, 0],
        );
        // The README's totals, as a check that both did read the file.
        const rows = allRows(whole!);
        expect(finalStatus(whole!)).toMatchObject({ ok: true, packets: 98 });
        expect(rows.reduce((s, r) => s + r.pkts_in + r.pkts_out + r.pkts_unmatched, 0)).toBe(98);
        expect(rows.reduce((s, r) => s + r.pkts_malformed + r.pkts_truncated, 0)).toBe(0);
      });
    }
  });

  describe.skipIf(!addon)('on the fuzz seed corpus', () => {
    const dir = path.join(ROOT, 'test', 'fixtures', 'fuzz-corpus');
    const files = fs.readdirSync(dir);
    it('finds the seeds', () => expect(files.length).toBeGreaterThan(0));
    for (const f of files) {
      it(f, () => {
        const seed = new Uint8Array(fs.readFileSync(path.join(dir, f)));
        // A seed is [ctl][seed][capture]: as it is (not a capture at all) and the capture alone.
        differential(seed, [{}], [1, 0]);
        const capture = seed.subarray(2);
        if (capture[0] === 0x0a && capture[1] === 0x0d) {
          const t = trace(makeTs({}), capture, capture.length);
          expect(finalStatus(t)).toMatchObject({ ok: false, error: PCAPNG_REFUSED, errorOffset: 0 });
          return;
        }
        const [whole] = differential(capture, [{ guestIps: [ipBytes('10.0.0.2')] }, ...SYNTH_OPTIONS.slice(1)]);
        expect(finalStatus(whole!).packets).toBeGreaterThan(0);
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
      const t0 = Date.now();
      differential(
        pcap({ snaplen: 0, ns: true }, [
          { ts: BASE, data: big(262144), wire: 300000 },
          { ts: BASE + ms(1), data: tcp4(PEER4, GUEST4, 1, 2, SYN) },
          { ts: BASE + ms(150), data: big(100000) },
        ]),
        [{ guestIps: [ipBytes(GUEST4)] }],
      );
      differential(pcap({ snaplen: 1500 }, [{ ts: BASE, data: big(1500) }, { ts: BASE + ms(200), data: big(1499) }]), [{}]);
      expect(Date.now() - t0).toBeLessThan(20_000); // byte by byte too: no quadratic buffering
    });

    it('the UDP first fragment is not malformed (its length covers the whole datagram)', () => {
      const bytes = pcap({}, [
        { ts: BASE, data: eth(GMAC, HMAC, 0x0800, ipv4({ src: PEER4, dst: GUEST4, proto: 17, ff: 0x2000, payload: udp(41004, 7777, fill(1472), 3008) })) },
      ]);
      const [whole] = differential(bytes, [{}], [0]);
      expect(allRows(whole!)[0]).toMatchObject({ pkts_udp: 1, pkts_malformed: 0, dst_ports: 1, flows: 1 });
    });

    it('a silence longer than the fill limit: 1,000,000 zero rows, then a hole', () => {
      // 2^60 ns clamp: the jump is 11.5e9 buckets of 100 ms.
      const bytes = pcap({}, [
        { ts: 0n, sec: 1, frac: 0, data: udp4(PEER4, GUEST4, 1, 2) },
        { ts: 0n, sec: 0xfffffff0, frac: 0, data: udp4(PEER4, GUEST4, 1, 2) },
        { ts: 0n, sec: 0xfffffff1, frac: 0, data: udp4(PEER4, GUEST4, 1, 2) },
      ]);
      const n = trace(makeNative({}), bytes, bytes.length);
      const t = trace(makeTs({}), bytes, bytes.length);
      expectSame(n, t, 'hole');
      const total = n.rows.reduce((s, r) => s + r.length / ROW_WIDTH, 0);
      expect(total).toBe(1 + 1_000_000 + 1);
      expect(finalStatus(t)).toMatchObject({ ok: true, packets: 3, holes: 1 });
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
        name: 'caplen > snaplen',
        bytes: pcap({ snaplen: 100 }, [...good.map((r) => ({ ...r, cut: Math.min(r.data.length, 100) })), { ts: BASE + ms(900), data: fill(101) }]),
        error: "record caplen 101 exceeds the file's snaplen 100",
        at: lenOf(good.map((r) => ({ ...r, cut: Math.min(r.data.length, 100) }))),
        packets: 12,
      },
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
            for (const r of n.results.slice(endAt + 1)) expect(r).toBe('the series has ended');
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

  it('the TS path refuses --skip-bad and bad options as the native does', () => {
    expect(() => makeTs({ skipBad: true })).toThrow('--skip-bad needs the native addon (this is the pure-TypeScript path)');
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

/** The first record's timestamp of a classic pcap, ns. */
function firstTimestamp(b: Uint8Array): bigint {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const le = dv.getUint32(0, true) === 0xa1b2c3d4 || dv.getUint32(0, true) === 0xa1b23c4d;
  const ns = dv.getUint32(0, le) === 0xa1b23c4d;
  return BigInt(dv.getUint32(24, le)) * 1_000_000_000n + BigInt(dv.getUint32(28, le)) * (ns ? 1n : 1000n);
}
