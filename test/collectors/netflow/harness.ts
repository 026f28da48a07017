// The differential harness: runs one input through the native
// CaptureBucketizer and the pure-TS one (src/collectors/netflow/ts/) in chunks
// of several sizes, and compares the rows of every call and the status after
// it; and builders for the classic pcap captures the tests make.
import { beforeEach, expect } from 'vitest';
import { nativeAddon } from '../../../src/native/addon.js';
import type { NativeCaptureBucketizerOptions } from '../../../src/native/types.js';
import { ipBytes, macBytes } from '../../../src/collectors/netflow/address.js';
import { ROW_WIDTH, unpackRows, type CaptureBucketizer, type CaptureStatus, type RawBucketRow } from '../../../src/collectors/netflow/bucketizer.js';
import { TsCaptureBucketizer } from '../../../src/collectors/netflow/ts/bucketizer.js';

export const addon = nativeAddon();

// The differential tests are long synchronous runs: let the worker's event
// loop turn between tests, or vitest's RPC to its main process times out
// ("Timeout calling onTaskUpdate") and the run fails though every test passed.
beforeEach(() => new Promise<void>((resolve) => setImmediate(resolve)));

// ---------------------------------------------------------------- running

/** The addon's options. */
export type Opts = Partial<NativeCaptureBucketizerOptions>;
export const full = (o: Opts): NativeCaptureBucketizerOptions => ({
  bucketNs: 100e6,
  fillEmpty: true,
  latenessNs: 0,
  skipBad: false,
  guestIps: [],
  guestMacs: [],
  bridgeIps: [],
  ...o,
});
export const makeNative = (o: Opts): CaptureBucketizer => new addon!.CaptureBucketizer(full(o));
export const makeTs = (o: Opts): CaptureBucketizer => new TsCaptureBucketizer(full(o));

export interface Trace {
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
export function trace(b: CaptureBucketizer, input: Uint8Array, chunk: number, advance?: (i: number) => number | undefined): Trace {
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

export const sameRows = (a: Float64Array, b: Float64Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

/** Asserts identical traces, reporting the first call that differs. */
export function expectSame(native: Trace, ts: Trace, what: string): void {
  expect(native.rows.length, `${what}: calls`).toBeGreaterThan(0);
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
  expect(native.status.length, `${what}: statuses`).toBeGreaterThan(0);
  for (let i = 0; i < native.status.length; i++) expect(ts.status[i], `${what}: status after call ${i}`).toEqual(native.status[i]);
  expect(ts.lastPartial, `${what}: lastPartial`).toEqual(native.lastPartial);
}

export const CHUNKS = [1, 7, 4096, 0]; // 0: the whole input at once

/** Runs both paths over every chunk size and option set; returns the native's whole-input trace per option set. */
export function differential(input: Uint8Array, optionSets: Opts[], chunks = CHUNKS): Trace[] {
  expect(optionSets.length, 'option sets').toBeGreaterThan(0);
  expect(chunks.length, 'chunk sizes').toBeGreaterThan(0);
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

export const allRows = (t: Trace) => unpackRows(Float64Array.from(t.rows.flatMap((r) => Array.from(r))));
export const finalStatus = (t: Trace) => t.status[t.status.length - 1]!;

// ---------------------------------------------------------------- building captures

export type B = number[];
export const u16 = (v: number): B => [(v >>> 8) & 255, v & 255];
export const u32 = (v: number): B => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
export const v4 = (s: string): B => s.split('.').map(Number);
export const v6 = (s: string): B => Array.from(ipBytes(s));
export const mac = (s: string): B => Array.from(macBytes(s));
export const fill = (n: number, x = 0x55): B => new Array<number>(n).fill(x);

export const eth = (dst: string, src: string, type: number, payload: B): B => [...mac(dst), ...mac(src), ...u16(type), ...payload];
/** Ethernet with VLAN tags (their TPIDs, outermost first) around `type`. */
export const tagged = (dst: string, src: string, tpids: number[], type: number, payload: B): B => {
  let body = payload;
  let t = type;
  for (let i = tpids.length - 1; i >= 0; i--) {
    body = [...u16(100 + i), ...u16(t), ...body];
    t = tpids[i]!;
  }
  return eth(dst, src, t, body);
};

export interface Ip4 {
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
export const ipv4 = (h: Ip4): B => {
  const opts = h.options ?? [];
  const ihl = h.ihl ?? 5 + opts.length / 4;
  const total = h.total ?? 20 + opts.length + h.payload.length;
  return [((h.version ?? 4) << 4) | ihl, 0, ...u16(total), 0x12, 0x34, ...u16(h.ff ?? 0x4000), 64, h.proto, 0, 0, ...v4(h.src), ...v4(h.dst), ...opts, ...h.payload];
};
export const ipv6 = (src: string, dst: string, nh: number, payload: B, plen = payload.length): B => [0x60, 0, 0, 0, ...u16(plen), nh, 64, ...v6(src), ...v6(dst), ...payload];
/** Hop-by-hop (0), routing (43) or destination options (60): (len + 1) * 8 bytes. */
export const ext = (nh: number, len = 0): B => [nh, len, ...fill((len + 1) * 8 - 2, 0)];
/** Authentication header: (len + 2) * 4 bytes. */
export const ah = (nh: number, len = 4): B => [nh, len, ...fill((len + 2) * 4 - 2, 0)];
export const frag6 = (nh: number, offset8: number, more: boolean): B => [nh, 0, ...u16((offset8 << 3) | (more ? 1 : 0)), 0, 0, 0x12, 0x34];
export const tcp = (sp: number, dp: number, flags: number, payload: B = [], doff = 5): B => [
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
export const udp = (sp: number, dp: number, payload: B = [], ulen = 8 + payload.length): B => [...u16(sp), ...u16(dp), ...u16(ulen), 0, 0, ...payload];
export const icmp = (type: number, code = 0, rest: B = fill(4, 0)): B => [type, code, 0, 0, ...rest];
export const arp = (op: number, sha: string, spa: string, tha: string, tpa: string): B => [0, 1, 8, 0, 6, 4, ...u16(op), ...mac(sha), ...v4(spa), ...mac(tha), ...v4(tpa)];

export const FIN = 1,
  SYN = 2,
  RST = 4,
  PSH = 8,
  ACK = 16;

export interface Rec {
  ts: bigint; // ns since the epoch
  data: B;
  wire?: number; // default: data.length (before any cut)
  cut?: number; // captured bytes (default: all)
  caplen?: number; // the caplen field, when it must lie
  sec?: number; // raw timestamp fields, when they must be odd
  frac?: number;
}
export interface FileOpts {
  le?: boolean;
  ns?: boolean;
  snaplen?: number;
  linktype?: number;
  major?: number;
  minor?: number;
}
export function pcap(f: FileOpts, recs: Rec[]): Uint8Array {
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
export const GUEST4 = '10.200.0.10';
export const GUEST6 = '2001:db8::10';
export const BRIDGE = '10.200.0.1';
export const PEER4 = '192.0.2.7';
export const PEER4B = '198.51.100.9';
export const PEER6 = '2001:db8::7';
export const GMAC = '52:54:00:12:34:56';
export const HMAC = '52:54:00:00:00:01';
export const OMAC = '02:00:00:00:00:99';
export const BCAST = 'ff:ff:ff:ff:ff:ff';
/** A µs-aligned wall-clock time, far past 2^53 ns. */
export const BASE = 1_700_000_000_123_456_000n;
export const ms = (x: number) => BigInt(Math.round(x * 1e6));

export const SYNTH_OPTIONS: Opts[] = [
  { guestIps: [ipBytes(GUEST4), ipBytes(GUEST6)] },
  { fillEmpty: false, guestMacs: [macBytes(GMAC)], bridgeIps: [ipBytes(BRIDGE)], originWallNs: BASE - 12_345_679n },
  { bucketNs: 10e6, latenessNs: 35e6, guestIps: [ipBytes(GUEST4)], guestMacs: [macBytes(GMAC)], bridgeIps: [ipBytes(BRIDGE)], originWallNs: BASE + 250_000_001n },
  { bucketNs: 1e9, latenessNs: 2.5e9 },
  { bucketNs: 1000, fillEmpty: false, latenessNs: 3000, guestIps: [ipBytes(GUEST4), ipBytes(GUEST6)] },
];

export const tcp4 = (src: string, dst: string, sp: number, dp: number, flags: number, payload: B = []) =>
  eth(src === GUEST4 ? BCAST : GMAC, src === GUEST4 ? GMAC : HMAC, 0x0800, ipv4({ src, dst, proto: 6, payload: tcp(sp, dp, flags, payload) }));
export const udp4 = (src: string, dst: string, sp: number, dp: number, payload: B = []) =>
  eth(GMAC, HMAC, 0x0800, ipv4({ src, dst, proto: 17, payload: udp(sp, dp, payload) }));

/** Everything a real capture holds, in both directions, over a few buckets with a gap. */
export function mixRecords(ns: boolean): Rec[] {
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


// ---------------------------------------------------------------- time jumps

export const YEAR_S = 365 * 86400;

/**
 * A hostile capture whose timestamps jump back and forth by years: packet i
 * is at base + (i odd ? (i + 1) / 2 years : 0), so every odd packet jumps a
 * year past all before it and every even one falls back years (late).
 */
export function yearJumps(n: number, base = 1_600_000_000): Rec[] {
  return Array.from({ length: n }, (_, i) => ({ ts: 0n, sec: base + (i % 2 ? ((i + 1) / 2) * YEAR_S : 0), frac: i % 1000, data: udp4(PEER4, GUEST4, 1000 + (i % 7), 53) }));
}

/** Packets `gap` empty buckets of bucketMs apart (a jump just under a bound of gap + 1), n of them. */
export function evenJumps(n: number, gap: number, bucketMs = 100, base = 1_600_000_000): Rec[] {
  return Array.from({ length: n }, (_, i) => {
    const ms0 = i * (gap + 1) * bucketMs;
    return { ts: 0n, sec: base + Math.floor(ms0 / 1000), frac: (ms0 % 1000) * 1000, data: udp4(GUEST4, PEER4, 53, 1000 + i) };
  });
}

/**
 * What rows with gaps must satisfy: every bucket between two consecutive
 * rows was either written or counted in the later row's
 * empty_buckets_skipped. Returns the sum of empty_buckets_skipped.
 */
export function expectGapsAccounted(rows: RawBucketRow[], bucketNs: number): number {
  expect(rows.length, 'rows').toBeGreaterThan(1);
  let sum = 0;
  for (let i = 1; i < rows.length; i++) {
    const step = (BigInt(rows[i]!.t_mono_ns) - BigInt(rows[i - 1]!.t_mono_ns)) / BigInt(bucketNs);
    expect(Number(step - 1n), `row ${i}: buckets since row ${i - 1}`).toBe(rows[i]!.empty_buckets_skipped);
    sum += rows[i]!.empty_buckets_skipped;
  }
  return sum;
}
