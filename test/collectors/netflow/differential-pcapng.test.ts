// native == TS on pcapng built here to reach every block type the native
// reader handles (SHB in both byte orders and several sections, IDB with
// if_tsresol, if_tsoffset and snaplen, EPB, SPB, the obsolete PB, and NRB,
// ISB, DSB, custom and unknown blocks skipped), on every pcapng error the
// native reports, and with skipBad on hostile classic pcap and pcapng: the
// same rows, the same status after every call, the same messages at the same
// offsets. Regression for: the pure-TS path refused pcapng ("pcapng captures
// need the native addon") and skipBad ("--skip-bad needs the native addon").
import { describe, expect, it } from 'vitest';
import { ipBytes } from '../../../src/collectors/netflow/address.js';
import {
  addon,
  allRows,
  BASE,
  differential,
  fill,
  finalStatus,
  GUEST4,
  makeTs,
  mixRecords,
  ms,
  type Opts,
  pcap,
  PEER4,
  type Rec,
  SYN,
  SYNTH_OPTIONS,
  tcp4,
  trace,
  udp4,
  type B,
  u16,
  u32,
} from './harness.js';

// ---------------------------------------------------------------- building pcapng

const e16 = (v: number, be: boolean): B => (be ? u16(v) : u16(v).reverse());
const e32 = (v: number, be: boolean): B => (be ? u32(v >>> 0) : u32(v >>> 0).reverse());
const e64 = (v: bigint, be: boolean): B => {
  const x = BigInt.asUintN(64, v);
  const hi = e32(Number(x >> 32n), be);
  const lo = e32(Number(x & 0xffffffffn), be);
  return be ? [...hi, ...lo] : [...lo, ...hi];
};
const pad4 = (b: B): B => [...b, ...fill((4 - (b.length % 4)) % 4, 0)];

interface Lie {
  len?: number; // the header's total length
  trailer?: number; // the trailer's
}
const block = (type: number, body: B, be: boolean, lie: Lie = {}): B => {
  const len = 12 + body.length;
  return [...e32(type, be), ...e32(lie.len ?? len, be), ...body, ...e32(lie.trailer ?? len, be)];
};
const option = (code: number, value: B, be: boolean): B => [...e16(code, be), ...e16(value.length, be), ...pad4(value)];
const endOfOptions = (be: boolean): B => [...e16(0, be), ...e16(0, be)];

const shb = (be: boolean, major = 1, minor = 0): B =>
  block(0x0a0d0d0a, [...e32(0x1a2b3c4d, be), ...e16(major, be), ...e16(minor, be), ...e64(-1n, be), ...option(4, Array.from(new TextEncoder().encode('labtel test')), be), ...endOfOptions(be)], be);
interface IdbOpts {
  linktype?: number;
  snaplen?: number;
  tsresol?: number;
  tsoffset?: bigint;
}
const idb = (be: boolean, o: IdbOpts = {}): B => {
  const opts = [
    ...option(2, Array.from(new TextEncoder().encode('fxb')), be),
    ...(o.tsresol === undefined ? [] : option(9, [o.tsresol], be)),
    ...(o.tsoffset === undefined ? [] : option(14, e64(o.tsoffset, be), be)),
  ];
  return block(1, [...e16(o.linktype ?? 1, be), 0, 0, ...e32(o.snaplen ?? 262144, be), ...opts, ...endOfOptions(be)], be);
};
/** ts in the interface's units. */
const epb = (be: boolean, iface: number, ts: bigint, data: B, wire = data.length, caplen = data.length, lie: Lie = {}): B =>
  block(6, [...e32(iface, be), ...e32(Number(BigInt.asUintN(64, ts) >> 32n), be), ...e32(Number(ts & 0xffffffffn), be), ...e32(caplen, be), ...e32(wire, be), ...pad4(data), ...option(1, [1, 2, 3], be), ...endOfOptions(be)], be, lie);
const spb = (be: boolean, data: B, wire = data.length): B => block(3, [...e32(wire, be), ...pad4(data)], be);
const pb = (be: boolean, iface: number, ts: bigint, data: B, wire = data.length): B =>
  block(2, [...e16(iface, be), ...e16(0, be), ...e32(Number(ts >> 32n), be), ...e32(Number(ts & 0xffffffffn), be), ...e32(data.length, be), ...e32(wire, be), ...pad4(data)], be);
const nrb = (be: boolean): B => block(4, [...e16(1, be), ...e16(8, be), 10, 200, 0, 10, ...Array.from(new TextEncoder().encode('gue\0')), ...e16(0, be), ...e16(0, be)], be);
const isb = (be: boolean, ts: bigint): B => block(5, [...e32(0, be), ...e32(Number(ts >> 32n), be), ...e32(Number(ts & 0xffffffffn), be), ...option(4, e64(7n, be), be), ...endOfOptions(be)], be);
const dsb = (be: boolean): B => block(10, [...e32(0x544c534b, be), ...e32(8, be), ...fill(8, 0x41)], be);
const custom = (be: boolean, type = 0x00000bad): B => block(type, [...e32(32473, be), ...fill(6, 0x42), 0, 0], be);

const NS_US = 1000n;
/** The mix's records as EPBs of a µs interface, from record `from` to `to`. */
const mixEpbs = (be: boolean, iface: number, recs: Rec[]): B[] => recs.map((r) => epb(be, iface, r.ts / NS_US, r.data, r.wire ?? r.data.length));
const cat = (...parts: B[]): Uint8Array => Uint8Array.from(parts.flat());

const MIX = mixRecords(false);
const raw4 = (src: string, dst: string) => tcp4(src, dst, 1, 2, SYN).slice(14); // the IPv4 packet alone, for raw IP interfaces

/** pcapng captures that reach every block type and timestamp rule. */
/** Options for captures whose timestamps jump by years: no zero rows to fill the jump (1,000,000 of them per run otherwise). */
const UNFILLED: Opts[] = [
  { fillEmpty: false, guestIps: [ipBytes(GUEST4)] },
  { bucketNs: 1e9, fillEmpty: false, latenessNs: 5e9, originWallNs: BASE },
  { fillEmpty: false, skipBad: true },
];

const NG: Array<{ name: string; bytes: Uint8Array; packets: number; options?: Opts[] }> = [
  { name: 'little-endian, one µs interface, EPBs', bytes: cat(shb(false), idb(false), ...mixEpbs(false, 0, MIX)), packets: MIX.length },
  { name: 'big-endian, one µs interface, EPBs', bytes: cat(shb(true), idb(true), ...mixEpbs(true, 0, MIX)), packets: MIX.length },
  {
    name: 'if_tsresol 9 (ns), 0x80|20 (2^-20 s), 12 (ps), 0 (s) and if_tsoffset, on four interfaces',
    bytes: cat(
      shb(false),
      idb(false, { tsresol: 9 }),
      idb(false, { tsresol: 0x80 | 20, linktype: 101 }),
      idb(false, { tsresol: 12, tsoffset: 1_700_000_000n }),
      idb(false, { tsresol: 0, linktype: 228 }),
      epb(false, 0, BASE + 7n, tcp4(PEER4, GUEST4, 1, 2, SYN)),
      epb(false, 1, ((BASE + ms(1)) << 20n) / 1_000_000_000n, raw4(PEER4, GUEST4)),
      epb(false, 2, (BASE + ms(2) - 1_700_000_000_000_000_000n) * 1000n + 999n, tcp4(GUEST4, PEER4, 2, 1, SYN)),
      epb(false, 3, BASE / 1_000_000_000n + 1n, raw4(GUEST4, PEER4)),
      epb(false, 0, BASE + ms(150), udp4(PEER4, GUEST4, 5, 53)),
    ),
    packets: 5,
  },
  {
    name: 'several sections in both byte orders; interfaces are per section',
    bytes: cat(
      shb(false),
      idb(false),
      ...mixEpbs(false, 0, MIX.slice(0, 10)),
      shb(true),
      idb(true, { linktype: 101, tsresol: 9 }),
      idb(true),
      ...mixEpbs(true, 1, MIX.slice(10, 20)),
      epb(true, 0, BASE + ms(130), raw4(PEER4, GUEST4)),
      shb(false),
      idb(false, { tsresol: 6 }),
      ...mixEpbs(false, 0, MIX.slice(20)),
    ),
    packets: MIX.length + 1,
  },
  {
    name: 'simple packet blocks (the previous timestamp; 0 before any), snaplen-cut, and obsolete packet blocks',
    bytes: cat(
      shb(false),
      idb(false, { snaplen: 60 }),
      spb(false, udp4(PEER4, GUEST4, 1, 2).slice(0, 60), 1000), // before any timestamp: t = 0
      epb(false, 0, BASE / NS_US, tcp4(PEER4, GUEST4, 1, 2, SYN).slice(0, 54)),
      spb(false, fill(80), 80), // caplen: min(wire, block, snaplen 60)
      spb(false, udp4(GUEST4, PEER4, 2, 1), 30), // wire shorter than the block holds
      pb(false, 0, (BASE + ms(120)) / NS_US, tcp4(GUEST4, PEER4, 2, 1, SYN).slice(0, 54)),
    ),
    packets: 5,
    options: UNFILLED,
  },
  {
    name: 'NRB, ISB, DSB, custom, and unknown blocks between packets are skipped',
    bytes: cat(
      shb(true),
      nrb(true),
      idb(true),
      dsb(true),
      ...mixEpbs(true, 0, MIX.slice(0, 5)),
      isb(true, BASE / NS_US),
      custom(true),
      custom(true, 0x40000bad),
      block(0x12345, fill(20, 7), true),
      block(9, fill(8, 1), true), // systemd journal export
      ...mixEpbs(true, 0, MIX.slice(5)),
      isb(true, BASE / NS_US + 1n),
    ),
    packets: MIX.length,
  },
  {
    name: 'absurd timestamps wrap as the native uint64 arithmetic does',
    bytes: cat(
      shb(false),
      idb(false, { tsresol: 0 }), // seconds: 2^63 s wraps
      idb(false, { tsresol: 0x80 | 63, tsoffset: -5n }),
      idb(false, { tsresol: 19 }), // the finest libpcap reads
      epb(false, 0, (1n << 63n) + 5n, udp4(PEER4, GUEST4, 1, 2)),
      epb(false, 1, (1n << 64n) - 1n, udp4(PEER4, GUEST4, 1, 2)),
      epb(false, 2, (1n << 64n) - 1n, udp4(PEER4, GUEST4, 1, 2)),
      epb(false, 0, 1_700_000_000n, udp4(PEER4, GUEST4, 1, 2)),
    ),
    packets: 4,
    // Filled too, now that a jump fills at most max_empty_buckets: with 1 ns buckets the gaps pass 2^53 and the counts saturate alike.
    options: [...UNFILLED, {}, { bucketNs: 1 }, { bucketNs: 1, latenessNs: 3, maxEmptyBuckets: 7 }, { originWallNs: BASE, latenessNs: 5e9 }],
  },
];

const NG_OPTIONS: Opts[] = [...SYNTH_OPTIONS, { guestIps: [ipBytes(GUEST4)], skipBad: true }];

// ---------------------------------------------------------------- hostile input

const goodNg = (be = false) => [shb(be), idb(be), ...mixEpbs(be, 0, MIX.slice(0, 12))];
const lenOf = (parts: B[]) => parts.reduce((n, p) => n + p.length, 0);
const after = (recs: Rec[]) => mixEpbs(false, 0, recs);
const LATER = [MIX[20]!, MIX[25]!, MIX[30]!]; // packets after the bad block (resynchronized on with skipBad)

interface Bad {
  name: string;
  parts: B[]; // good blocks, then the bad one, then LATER
  bad: B;
  error: string;
  /** The error's offset, when it is not the bad block's. */
  at?: number;
  /** Packets before the bad block, when not the 12 of goodNg(). */
  before?: number;
}
const NG_BAD: Bad[] = [
  { name: 'an unknown byte-order magic', parts: goodNg(), bad: [...e32(0x0a0d0d0a, false), ...e32(28, false), 1, 2, 3, 4, ...fill(16, 0)], error: 'pcapng section header has an unknown byte-order magic 01 02 03 04' },
  { name: 'a block length below 12', parts: goodNg(), bad: [6, 0, 0, 0, 8, 0, 0, 0], error: 'enhanced packet block length 8 is below the 12-byte minimum' },
  { name: 'a block length not a multiple of 4', parts: goodNg(), bad: [...e32(6, false), ...e32(42, false), ...fill(36)], error: 'enhanced packet block length 42 is not a multiple of 4' },
  { name: 'an IDB below its minimum', parts: goodNg(), bad: [...e32(1, false), ...e32(16, false), 1, 0, 0, 0, ...e32(16, false)], error: 'interface description block length 16 is below its 20-byte minimum' },
  { name: 'a block over the limit', parts: goodNg(), bad: [...e32(6, false), ...e32(0x7fffff00, false), ...fill(64)], error: 'enhanced packet block length 2147483392 exceeds the 16777216-byte limit' },
  { name: 'a trailer that disagrees', parts: goodNg(), bad: epb(false, 0, BASE / NS_US + 1n, fill(40), 40, 40, { trailer: 999 }), error: 'enhanced packet block trailer length 999 disagrees with its header length 84' },
  { name: 'an undeclared interface', parts: goodNg(), bad: epb(false, 3, BASE / NS_US, fill(40)), error: 'enhanced packet block names interface 3 but the section declared 1' },
  { name: 'caplen past its block', parts: goodNg(), bad: epb(false, 0, BASE / NS_US, fill(40), 500, 200), error: 'enhanced packet block caplen 200 exceeds the 52 bytes its block holds' },
  {
    name: "caplen over the interface's snaplen (libpcap refuses it in pcapng)",
    parts: [shb(false), idb(false, { snaplen: 100 }), ...mixEpbs(false, 0, MIX.slice(0, 12).map((r) => ({ ...r, data: r.data.slice(0, 100) })))],
    bad: epb(false, 0, BASE / NS_US + 900n, fill(120)),
    error: "record caplen 120 exceeds interface 0's snaplen 100",
  },
  { name: 'a simple packet block before any interface', parts: [shb(false)], bad: spb(false, fill(40)), error: 'simple packet block but the section declared no interface', before: 0 },
  { name: 'an unsupported if_tsresol', parts: goodNg(), bad: idb(false, { tsresol: 29 }), error: 'interface 1 has an unsupported if_tsresol 0x1d' },
  { name: 'an unsupported binary if_tsresol', parts: goodNg(), bad: idb(false, { tsresol: 0x80 | 64 }), error: 'interface 1 has an unsupported if_tsresol 0xc0' },
  { name: 'if_tsresol 10^-20 (libpcap refuses it)', parts: goodNg(), bad: idb(false, { tsresol: 20 }), error: 'interface 1 has an unsupported if_tsresol 0x14' },
  { name: 'an if_tsresol of 2 bytes', parts: goodNg(), bad: block(1, [1, 0, 0, 0, ...e32(0, false), ...option(9, [6, 0], false), ...endOfOptions(false)], false), error: 'interface 1 has an if_tsresol option of length 2, not 1' },
  { name: 'two if_tsresol options', parts: goodNg(), bad: block(1, [1, 0, 0, 0, ...e32(0, false), ...option(9, [6], false), ...option(9, [9], false)], false), error: 'interface 1 has more than one if_tsresol option' },
  { name: 'an if_tsoffset of 4 bytes', parts: goodNg(), bad: block(1, [1, 0, 0, 0, ...e32(0, false), ...option(14, [1, 0, 0, 0], false)], false), error: 'interface 1 has an if_tsoffset option of length 4, not 8' },
  { name: 'two if_tsoffset options', parts: goodNg(), bad: block(1, [1, 0, 0, 0, ...e32(0, false), ...option(14, e64(1n, false), false), ...option(14, e64(2n, false), false)], false), error: 'interface 1 has more than one if_tsoffset option' },
  { name: 'an interface option running past its block', parts: goodNg(), bad: block(1, [1, 0, 0, 0, ...e32(0, false), ...e16(2, false), ...e16(100, false), 97, 98, 99, 100], false), error: 'interface 1 has an option running past its block' },
  { name: 'an end of options with a length', parts: goodNg(), bad: block(1, [1, 0, 0, 0, ...e32(0, false), ...e16(0, false), ...e16(4, false), 97, 98, 99, 100], false), error: 'interface 1 has an end-of-options option of length 4' },
  { name: 'a section of version 2.0 (its blocks go unread)', parts: goodNg(), bad: [...shb(false, 2, 0), ...idb(false), ...epb(false, 0, BASE / NS_US, fill(40))], error: 'unsupported pcapng version 2.0' },
  { name: 'a truncated block', parts: goodNg(), bad: epb(false, 0, BASE / NS_US, fill(100)).slice(0, 50), error: 'truncated enhanced packet block: input ends after 50 of its 144 bytes' },
  { name: 'a truncated block header', parts: goodNg(), bad: [6, 0, 0, 0, 1], error: 'truncated pcapng block header: input ends after 5 of its 8 bytes' },
  { name: 'a truncated section header', parts: goodNg(), bad: shb(false).slice(0, 10), error: 'truncated section header block: input ends after 10 of its 12 bytes' },
];

/** Hostile classic pcap, bad record then good ones (skipBad resynchronizes on them). */
const GOOD = MIX.slice(0, 12);
const CLASSIC_BAD: Array<{ name: string; bytes: Uint8Array; skipped: boolean }> = [
  { name: 'caplen over 262144', bytes: pcap({}, [...GOOD, { ts: BASE + ms(900), data: fill(64), caplen: 262145 }, ...LATER.map((r) => ({ ...r, ts: r.ts + ms(900) }))]), skipped: true },
  { name: 'caplen over 262144, big-endian ns', bytes: pcap({ le: false, ns: true }, [...GOOD, { ts: BASE + ms(900), data: fill(64), caplen: 0xffffffff }, ...LATER.map((r) => ({ ...r, ts: r.ts + ms(900) }))]), skipped: true },
  {
    name: 'garbage between records',
    bytes: (() => {
      const a = pcap({}, GOOD);
      const b = pcap({}, LATER.map((r) => ({ ...r, ts: r.ts + ms(900) }))).slice(24);
      return Uint8Array.from([...a, ...fill(37, 0xff), ...b]);
    })(),
    skipped: true,
  },
  { name: 'a truncated last record', bytes: pcap({}, [...GOOD, { ts: BASE + ms(900), data: fill(100) }]).slice(0, -40), skipped: true },
  { name: 'a timestamp a year off after a bad record is no landing point', bytes: pcap({}, [...GOOD, { ts: BASE + ms(900), data: fill(64), caplen: 300000 }, { ts: BASE + 365n * 86_400_000_000_000n, data: udp4(PEER4, GUEST4, 1, 2) }, ...LATER.map((r) => ({ ...r, ts: r.ts + ms(900) }))]), skipped: true },
];

// ---------------------------------------------------------------- the tests

describe.skipIf(!addon)('native and pure-TS agree on pcapng', () => {
  it('has captures for every block type', () => expect(NG.length).toBeGreaterThanOrEqual(6));
  for (const c of NG) {
    it(c.name, () => {
      const options = c.options ?? NG_OPTIONS;
      expect(options.length).toBeGreaterThan(0);
      const wholes = differential(c.bytes, options);
      expect(wholes.length).toBe(options.length);
      for (const w of wholes) {
        expect(finalStatus(w)).toMatchObject({ ok: true, packets: c.packets, skippedRecords: 0, recordsOverSnaplen: 0 });
        expect(allRows(w).reduce((s, r) => s + r.pkts_in + r.pkts_out + r.pkts_unmatched, 0)).toBe(c.packets);
      }
    });
  }

  it('reads a pcapng the way the same records read from classic pcap (the rows are the capture, not the format)', () => {
    const [ng] = differential(NG[0]!.bytes, [SYNTH_OPTIONS[0]!], [0]);
    const [classic] = differential(pcap({}, MIX), [SYNTH_OPTIONS[0]!], [0]);
    expect(allRows(ng!).length).toBeGreaterThan(0);
    expect(allRows(ng!)).toEqual(allRows(classic!));
  });
});

describe.skipIf(!addon)('native and pure-TS agree on hostile pcapng, with and without skipBad', () => {
  it('has the cases', () => expect(NG_BAD.length).toBeGreaterThanOrEqual(15));
  for (const c of NG_BAD) {
    it(c.name, () => {
      const bytes = cat(...c.parts, c.bad, ...after(LATER.map((r) => ({ ...r, ts: r.ts + ms(900) }))));
      const truncatedEnd = c.error.startsWith('truncated');
      const input = truncatedEnd ? cat(...c.parts, c.bad) : bytes;
      const [refused, skipping] = differential(input, [SYNTH_OPTIONS[0]!, { ...SYNTH_OPTIONS[0]!, skipBad: true }]);
      const before = c.before ?? 12;
      expect(finalStatus(refused!)).toMatchObject({ ok: false, error: c.error, errorOffset: c.at ?? lenOf(c.parts), packets: before });
      // skipBad: the bad block is skipped and counted, and the packets after it are read.
      const s = finalStatus(skipping!);
      expect(s).toMatchObject({ ok: true, error: null });
      expect(s.skippedRecords).toBeGreaterThan(0);
      expect(s.skippedBytes).toBeGreaterThan(0);
      expect(s.packets).toBe(before + (truncatedEnd || c.error.startsWith('unsupported pcapng') || c.error.startsWith('simple') ? 0 : LATER.length));
    });
  }

  it('random bytes after a pcapng section, and random blocks inside one', () => {
    let x = 0x1d872b41;
    const rand = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0), x >>> 24);
    const runs = Array.from({ length: 30 }, (_, i) => i);
    expect(runs.length).toBeGreaterThan(0);
    for (const i of runs) {
      const junk = Array.from({ length: 1 + ((i * 53) % 300) }, rand);
      const be = i % 2 === 1;
      differential(cat(...goodNg(be), junk, ...mixEpbs(be, 0, LATER)), [{}, { skipBad: true }], [1, 9, 0]);
      // a known block type with random contents and a matching trailer
      const body = Array.from({ length: 4 * (i % 20) + 20 }, rand);
      differential(cat(...goodNg(be), block([1, 2, 3, 5, 6][i % 5]!, body, be), ...mixEpbs(be, 0, LATER)), [{}, { skipBad: true }], [1, 0]);
    }
  });
});

describe.skipIf(!addon)('native and pure-TS agree on hostile classic pcap with skipBad', () => {
  it('has the cases', () => expect(CLASSIC_BAD.length).toBeGreaterThan(0));
  for (const c of CLASSIC_BAD) {
    it(c.name, () => {
      const [refused, skipping] = differential(c.bytes, [SYNTH_OPTIONS[0]!, { ...SYNTH_OPTIONS[0]!, skipBad: true }, { ...SYNTH_OPTIONS[2]!, skipBad: true }]);
      expect(finalStatus(refused!)).toMatchObject({ ok: false, packets: GOOD.length });
      const s = finalStatus(skipping!);
      expect(s).toMatchObject({ ok: true, error: null });
      expect(s.skippedRecords).toBeGreaterThan(0);
      expect(s.packets).toBeGreaterThanOrEqual(GOOD.length);
    });
  }
});

describe('the pure-TS path alone', () => {
  it('reads pcapng without the addon (regression: "pcapng captures need the native addon")', () => {
    const ng = cat(...goodNg(), ...after(LATER));
    const t = trace(makeTs({}), ng, 4096);
    expect(finalStatus(t)).toMatchObject({ ok: true, error: null, packets: 12 + LATER.length });
  });

  it('skips bad records without the addon (regression: "--skip-bad needs the native addon")', () => {
    const bad = cat(...goodNg(), [6, 0, 0, 0, 8, 0, 0, 0], ...after(LATER.map((r) => ({ ...r, ts: r.ts + ms(900) }))));
    const s = finalStatus(trace(makeTs({ skipBad: true }), bad, 7));
    expect(s).toMatchObject({ ok: true, packets: 12 + LATER.length, skippedRecords: 1, skippedBytes: 8 }); // the 4 bytes bad() skips, then 4 the resynchronization scan skips
  });
});
