// native == TS under mutation: every recorded capture fixture, every fuzz
// seed and pcapng built here (both byte orders, several sections, every
// if_tsresol kind) are mutated by a seeded PRNG (a fixed number of cases,
// the same ones on every run) at the fields the readers trust: lengths set
// to 0, odd, the bounds and one past them, 4 GiB; block types swapped;
// byte-order magics flipped; interface ids out of range; if_tsresol at its
// edges (0x80|63, 0x80|64, 10^-19, 10^-28, 10^-29); if_tsoffset negative;
// timestamps near 2^64 and 2^32 s; snaplen 0, caplen == snaplen + 1, 262144
// and 262145; bit flips, truncations, inserted and deleted bytes. Each goes
// through the native CaptureBucketizer and the pure-TS one, with and without
// skipBad, whole and in chunks: the rows of every call and the status after
// it (ok, error, errorOffset, offset, packets, skippedBytes, skippedRecords,
// recordsOverSnaplen, holes) must be identical, and each path must give the
// same rows and final status whatever the chunking.
// Guards against: the TS port (src/collectors/netflow/ts/capture-reader.ts)
// drifting from native/core/pcap_reader.cc on input no fixture holds.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ipBytes } from '../../../src/collectors/netflow/address.js';
import type { CaptureBucketizer, CaptureStatus } from '../../../src/collectors/netflow/bucketizer.js';
import { addon, BASE, fill, GUEST4, makeNative, makeTs, mixRecords, type Opts, PEER4, sameRows, SYN, tcp4, udp4, u16, u32, type B } from './harness.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

// ---------------------------------------------------------------- a seeded PRNG

/** mulberry32: the same cases on every run. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof prng>;

// ---------------------------------------------------------------- pcapng built here

const e16 = (v: number, be: boolean): B => (be ? u16(v) : u16(v).reverse());
const e32 = (v: number, be: boolean): B => (be ? u32(v >>> 0) : u32(v >>> 0).reverse());
const e64 = (v: bigint, be: boolean): B => {
  const x = BigInt.asUintN(64, v);
  const hi = e32(Number(x >> 32n), be);
  const lo = e32(Number(x & 0xffffffffn), be);
  return be ? [...hi, ...lo] : [...lo, ...hi];
};
const pad4 = (b: B): B => [...b, ...fill((4 - (b.length % 4)) % 4, 0)];
const block = (type: number, body: B, be: boolean): B => [...e32(type, be), ...e32(12 + body.length, be), ...body, ...e32(12 + body.length, be)];
const option = (code: number, value: B, be: boolean): B => [...e16(code, be), ...e16(value.length, be), ...pad4(value)];
const eoo = (be: boolean): B => [...e16(0, be), ...e16(0, be)];
const shb = (be: boolean): B => block(0x0a0d0d0a, [...e32(0x1a2b3c4d, be), ...e16(1, be), ...e16(0, be), ...e64(-1n, be), ...eoo(be)], be);
const idb = (be: boolean, o: { linktype?: number; snaplen?: number; tsresol?: number; tsoffset?: bigint } = {}): B =>
  block(
    1,
    [
      ...e16(o.linktype ?? 1, be),
      0,
      0,
      ...e32(o.snaplen ?? 262144, be),
      ...(o.tsresol === undefined ? [] : option(9, [o.tsresol], be)),
      ...(o.tsoffset === undefined ? [] : option(14, e64(o.tsoffset, be), be)),
      ...eoo(be),
    ],
    be,
  );
const epb = (be: boolean, iface: number, ts: bigint, data: B, wire = data.length): B =>
  block(6, [...e32(iface, be), ...e32(Number(BigInt.asUintN(64, ts) >> 32n), be), ...e32(Number(BigInt.asUintN(64, ts) & 0xffffffffn), be), ...e32(data.length, be), ...e32(wire, be), ...pad4(data), ...eoo(be)], be);
const spb = (be: boolean, data: B, wire = data.length): B => block(3, [...e32(wire, be), ...pad4(data)], be);
const pb = (be: boolean, iface: number, ts: bigint, data: B): B =>
  block(2, [...e16(iface, be), ...e16(0, be), ...e32(Number(ts >> 32n), be), ...e32(Number(ts & 0xffffffffn), be), ...e32(data.length, be), ...e32(data.length, be), ...pad4(data)], be);
const isb = (be: boolean): B => block(5, [...e32(0, be), ...e32(0, be), ...e32(0, be), ...eoo(be)], be);
const cat = (...parts: B[]): Uint8Array => Uint8Array.from(parts.flat());

const MIX = mixRecords(false);
const raw4 = tcp4(PEER4, GUEST4, 1, 2, SYN).slice(14);

/** pcapng seeds: a section in each byte order, every timestamp kind, every packet block. */
function ngSeeds(): Array<{ name: string; bytes: Uint8Array }> {
  const section = (be: boolean, from: number, to: number): B[] => [
    shb(be),
    idb(be),
    idb(be, { tsresol: 9, linktype: 101, snaplen: 96 }),
    idb(be, { tsresol: 0x80 | 20, tsoffset: 1n }),
    ...MIX.slice(from, to).map((r, i) => epb(be, 0, r.ts / 1000n, r.data.slice(0, 96 + i), r.data.length)),
    epb(be, 1, BASE + 5n, raw4),
    epb(be, 2, ((BASE + 7_000_000n) << 20n) / 1_000_000_000n - (1n << 20n), udp4(PEER4, GUEST4, 5, 53)),
    spb(be, udp4(GUEST4, PEER4, 53, 5)),
    pb(be, 0, (BASE + 9_000_000n) / 1000n, tcp4(GUEST4, PEER4, 2, 1, SYN)),
    isb(be),
  ];
  return [
    { name: 'ng: a little-endian then a big-endian section', bytes: cat(...section(false, 0, 12), ...section(true, 12, 24)) },
    { name: 'ng: a big-endian then a little-endian section', bytes: cat(...section(true, 20, 33), ...section(false, 0, 6)) },
    {
      // the interface bound (4096 per section): memory stays bounded whatever a file declares
      name: 'ng: 4097 interfaces, packets on the last ones',
      bytes: cat(shb(false), ...Array.from({ length: 4097 }, (_, i) => idb(false, { tsresol: i % 2 ? 9 : 6 })), epb(false, 4095, BASE, raw4), epb(false, 4096, BASE, raw4), shb(true), idb(true), epb(true, 0, BASE / 1000n, tcp4(PEER4, GUEST4, 1, 2, SYN))),
    },
  ];
}

// ---------------------------------------------------------------- where the fields are

interface Field {
  at: number;
  size: 2 | 4 | 8;
  be: boolean;
  kind: string;
  /** The record or block this field is in: [start, end). */
  rec: [number, number];
  /** For caplen fields: the header's/interface's snaplen and the wire length. */
  snaplen?: number;
  wire?: number;
}

/** Fields of a well-formed capture (as far as it is well formed). */
function fieldsOf(b: Uint8Array): Field[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const r32 = (o: number, be: boolean) => dv.getUint32(o, !be);
  const r16 = (o: number, be: boolean) => dv.getUint16(o, !be);
  const out: Field[] = [];
  if (b.length < 24) return out;
  const m = r32(0, true);
  if (m === 0xa1b2c3d4 || m === 0xa1b23c4d || m === 0xd4c3b2a1 || m === 0x4d3cb2a1) {
    const be = m === 0xa1b2c3d4 || m === 0xa1b23c4d;
    const snap = r32(16, be);
    const hdr: [number, number] = [0, 24];
    out.push({ at: 0, size: 4, be: true, kind: 'magic', rec: hdr }, { at: 4, size: 2, be, kind: 'version', rec: hdr }, { at: 16, size: 4, be, kind: 'snaplen', rec: hdr }, { at: 20, size: 4, be, kind: 'linktype', rec: hdr });
    for (let o = 24; o + 16 <= b.length; ) {
      const cap = r32(o + 8, be);
      const rec: [number, number] = [o, o + 16 + cap];
      out.push({ at: o, size: 4, be, kind: 'sec', rec }, { at: o + 4, size: 4, be, kind: 'frac', rec }, { at: o + 8, size: 4, be, kind: 'caplen', rec, snaplen: snap, wire: r32(o + 12, be) }, { at: o + 12, size: 4, be, kind: 'wirelen', rec });
      o += 16 + cap;
    }
    return out;
  }
  if (m !== 0x0a0d0d0a) return out;
  let be = false;
  let snaps: number[] = [];
  for (let o = 0; o + 12 <= b.length; ) {
    const type0 = r32(o, be);
    if (type0 === 0x0a0d0d0a) {
      be = r32(o + 8, true) === 0x1a2b3c4d;
      snaps = [];
    }
    const type = r32(o, be);
    const len = r32(o + 4, be);
    if (len < 12 || len % 4 || o + len > b.length) break;
    const rec: [number, number] = [o, o + len];
    out.push({ at: o, size: 4, be, kind: 'type', rec }, { at: o + 4, size: 4, be, kind: 'len', rec }, { at: o + len - 4, size: 4, be, kind: 'trailer', rec });
    if (type === 0x0a0d0d0a) out.push({ at: o + 8, size: 4, be: true, kind: 'bom', rec }, { at: o + 12, size: 2, be, kind: 'ngversion', rec });
    if (type === 1 && len >= 20) {
      snaps.push(r32(o + 12, be));
      out.push({ at: o + 8, size: 2, be, kind: 'ng-linktype', rec }, { at: o + 12, size: 4, be, kind: 'ng-snaplen', rec });
      for (let p = o + 16; p + 4 <= o + len - 4; ) {
        const code = r16(p, be);
        const olen = r16(p + 2, be);
        if (code === 0) break;
        if (code === 9) out.push({ at: p + 4, size: 2, be, kind: 'tsresol', rec }); // its byte, and the padding after it
        if (code === 14) out.push({ at: p + 4, size: 8, be, kind: 'tsoffset', rec });
        p += 4 + ((olen + 3) & ~3);
      }
    }
    if ((type === 6 || type === 2) && len >= 32) {
      const id = type === 6 ? r32(o + 8, be) : r16(o + 8, be);
      out.push(
        { at: o + 8, size: type === 6 ? 4 : 2, be, kind: 'iface', rec, snaplen: snaps.length },
        { at: o + 12, size: 4, be, kind: 'ts-hi', rec },
        { at: o + 16, size: 4, be, kind: 'ts-lo', rec },
        { at: o + 20, size: 4, be, kind: 'ng-caplen', rec, snaplen: snaps[id] ?? 0, wire: len - 32 },
        { at: o + 24, size: 4, be, kind: 'ng-wire', rec },
      );
    }
    if (type === 3) out.push({ at: o + 8, size: 4, be, kind: 'spb-wire', rec });
    o += len;
  }
  return out;
}

// ---------------------------------------------------------------- mutations

const U32_EDGES = [0, 1, 3, 11, 12, 13, 16, 0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff, 65535, 65536, 262144, 262145, 266240, 266244, 1 << 20, 16 << 20, (16 << 20) + 4];
const TYPES = [0x0a0d0d0a, 1, 2, 3, 4, 5, 6, 9, 10, 0xbad, 0x40000bad, 0x12345, 0x06000000, 0x0d0a];
const TSRESOL = [0x80 | 63, 0x80 | 64, 0xff, 0x80, 0, 1, 9, 10, 19, 20, 28, 29, 0x7f];
const TSOFFSET = [-1n, -5n, -(1n << 63n), (1n << 63n) - 1n, 1n << 34n, 18_446_744_073n, -1_700_000_000n];

function put(b: Uint8Array, f: { at: number; size: number; be: boolean }, v: bigint): void {
  const x = BigInt.asUintN(f.size * 8, v);
  for (let i = 0; i < f.size; i++) {
    const byte = Number((x >> BigInt(8 * i)) & 0xffn);
    b[f.be ? f.at + f.size - 1 - i : f.at + i] = byte;
  }
}

/** One mutation of a field, chosen for what the readers trust it for; returns its description. */
function mutateField(r: Rng, b: Uint8Array, f: Field): string {
  let v: bigint;
  switch (f.kind) {
    case 'magic': {
      // the other byte order's magic (the records stay as they are), or the ns one
      const m = r.pick([0xd4c3b2a1, 0x4d3cb2a1, 0xa1b23c4d, 0xa1b2c3d4, 0xa1b2cd34, 0x1f8b0800]);
      put(b, f, BigInt(m));
      return `magic ${m.toString(16)}`;
    }
    case 'version':
      v = BigInt(r.pick([0, 1, 3, 543, 0xffff]));
      break;
    case 'snaplen':
    case 'ng-snaplen': {
      const caps = fieldsOf(b).filter((x) => x.kind === 'caplen' || x.kind === 'ng-caplen');
      const c = caps.length ? Number(readField(b, r.pick(caps))) : 100;
      v = BigInt(r.pick([0, 1, 14, 96, c - 1, c, 65535, 262144, 262145, 0x7fffffff, 0x80000000, 0xffffffff]) >>> 0);
      break;
    }
    case 'caplen':
    case 'ng-caplen': {
      const s = f.snaplen ?? 0;
      const w = f.wire ?? 0;
      v = BigInt(r.pick([0, 1, 3, s, s + 1, s - 1, w, w + 1, w - 1, 262144, 262145, 0xffffffff, ...U32_EDGES]) >>> 0);
      break;
    }
    case 'wirelen':
    case 'ng-wire':
    case 'spb-wire':
      v = BigInt(r.pick([0, 1, 13, 65535, 1 << 20, (1 << 20) + 1, 0xffffffff]));
      break;
    case 'sec':
      v = BigInt(r.pick([0, 1, 0x7fffffff, 0xffffffff, 1_700_000_000 + 86_400, 1_700_000_000 - 86_401]));
      break;
    case 'frac':
      v = BigInt(r.pick([999_999, 1_000_000, 999_999_999, 1_000_000_000, 0xffffffff]));
      break;
    case 'type':
      v = BigInt(r.pick(TYPES));
      break;
    case 'len':
    case 'trailer': {
      const len = f.rec[1] - f.rec[0];
      v = BigInt(r.pick([0, 4, 8, 12, 13, 16, 20, 28, 32, len - 4, len + 4, len + 1, 0xfffffffc, 0xffffffff, 266240, 266244, ...U32_EDGES]) >>> 0);
      break;
    }
    case 'bom':
      v = BigInt(r.pick([0x4d3c2b1a, 0x1a2b3c4d, 0x01020304]));
      break;
    case 'ngversion':
      v = BigInt(r.pick([0, 2, 0xffff]));
      break;
    case 'linktype':
    case 'ng-linktype':
      v = BigInt(r.pick([0, 1, 101, 108, 113, 228, 229, 276, 147, 0xffff, 0x10000001, 0xfc000001]));
      break;
    case 'tsresol':
      b[f.at] = r.pick(TSRESOL);
      return `tsresol 0x${b[f.at]!.toString(16)}`;
    case 'tsoffset':
      v = r.pick(TSOFFSET);
      break;
    case 'iface': {
      const n = f.snaplen ?? 0; // the interfaces declared so far
      v = BigInt(r.pick([n, n + 1, 0xffff, 0xffffffff, 4095, 4096]));
      break;
    }
    case 'ts-hi':
    case 'ts-lo':
      v = BigInt(r.pick([0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]));
      break;
    default:
      v = BigInt(r.pick(U32_EDGES));
  }
  put(b, f, v);
  return `${f.kind} @${f.at} = ${v}`;
}

function readField(b: Uint8Array, f: Field): bigint {
  let x = 0n;
  for (let i = 0; i < f.size; i++) x |= BigInt(b[f.be ? f.at + f.size - 1 - i : f.at + i]!) << BigInt(8 * i);
  return x;
}

/** Mutates a copy of base (1 to 3 mutations); returns it and what was done. */
function mutate(r: Rng, base: Uint8Array): { bytes: Uint8Array; what: string[] } {
  let b = Uint8Array.from(base);
  const what: string[] = [];
  const n = 1 + r.int(3);
  for (let k = 0; k < n; k++) {
    const fields = fieldsOf(b);
    const roll = r.int(10);
    if (roll < 6 && fields.length) {
      // a kind of field first, so the rare ones (one if_tsoffset per file) are reached as often as caplens
      const kind = r.pick([...new Set(fields.map((f) => f.kind))]);
      what.push(mutateField(r, b, r.pick(fields.filter((f) => f.kind === kind))));
    } else if (roll === 6 && b.length) {
      const at = r.int(b.length);
      const bit = r.int(8);
      b[at] = b[at]! ^ (1 << bit);
      what.push(`flip bit ${bit} @${at}`);
    } else if (roll === 7 && b.length) {
      const at = r.int(b.length + 1);
      b = b.slice(0, at);
      what.push(`truncate to ${at}`);
    } else if (roll === 8 && b.length) {
      const at = r.int(b.length);
      const len = 1 + r.int(r.pick([3, 16, 300]));
      b = Uint8Array.from([...b.subarray(0, at), ...Array.from({ length: len }, () => r.int(256)), ...b.subarray(at)]);
      what.push(`insert ${len} bytes @${at}`);
    } else if (b.length) {
      const at = r.int(b.length);
      const len = 1 + r.int(r.pick([4, 16, 100]));
      b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(Math.min(b.length, at + len))]);
      what.push(`delete ${len} bytes @${at}`);
    }
  }
  return { bytes: b, what };
}

// ---------------------------------------------------------------- running both

interface Run {
  rows: Float64Array[];
  status: CaptureStatus[];
  lastPartial: boolean;
}

function run(b: CaptureBucketizer, input: Uint8Array, chunk: number): Run {
  const r: Run = { rows: [], status: [], lastPartial: false };
  const scratch = new Uint8Array(Math.max(chunk, 1));
  for (let i = 0; i < input.length; i += chunk) {
    const part = input.subarray(i, i + chunk);
    scratch.set(part);
    r.rows.push(b.feed(scratch.subarray(0, part.length)));
    scratch.fill(0xa5); // a reader must not keep the caller's memory
    r.status.push(b.status());
  }
  const f = b.finish();
  r.rows.push(f.rows);
  r.lastPartial = f.lastPartial;
  r.status.push(b.status());
  return r;
}

const flat = (r: Run) => Float64Array.from(r.rows.flatMap((x) => Array.from(x)));
const last = (r: Run) => r.status[r.status.length - 1]!;

/** The first call after which native and TS differ, described; null when they agree. */
function firstDifference(n: Run, t: Run): string | null {
  if (n.rows.length !== t.rows.length) return `calls: native ${n.rows.length}, TS ${t.rows.length}`;
  for (let i = 0; i < n.rows.length; i++) {
    if (!sameRows(n.rows[i]!, t.rows[i]!)) return `rows of call ${i}: native ${n.rows[i]!.length / 25} rows [${Array.from(n.rows[i]!.subarray(0, 25))}], TS ${t.rows[i]!.length / 25} rows [${Array.from(t.rows[i]!.subarray(0, 25))}]`;
    const a = JSON.stringify(n.status[i]);
    const b = JSON.stringify(t.status[i]);
    if (a !== b) return `status after call ${i}: native ${a}, TS ${b}`;
  }
  if (n.lastPartial !== t.lastPartial) return `lastPartial: native ${n.lastPartial}, TS ${t.lastPartial}`;
  return null;
}

const GUESTS = { guestIps: ['10.201.0.10', '10.202.0.10', '10.203.0.10', 'fd00:202::10', '10.0.0.2', GUEST4].map(ipBytes) };
/** Timestamps may jump by centuries here: filling needs buckets wide enough to keep the zero rows few. */
const OPTION_SETS: Opts[] = [
  { ...GUESTS, fillEmpty: false },
  { ...GUESTS, fillEmpty: false, skipBad: true },
  { bucketNs: 2 ** 50, latenessNs: 2 ** 51, fillEmpty: true, skipBad: true, originWallNs: BASE },
];

// ---------------------------------------------------------------- the cases

const CASES = 300;

function bases(): Array<{ name: string; bytes: Uint8Array }> {
  const dir = (sub: string) => path.join(ROOT, 'test', 'fixtures', sub);
  const files = (sub: string, cut: number) =>
    fs
      .readdirSync(dir(sub))
      .filter((f) => !f.endsWith('.md'))
      .sort()
      .map((f) => ({ name: `${sub}/${f}`, bytes: new Uint8Array(fs.readFileSync(path.join(dir(sub), f))).subarray(cut) }));
  return [...files('pcap', 0), ...files('fuzz-corpus', 2), ...ngSeeds()];
}

/** What the cases ended in: the differential alone would accept two readers refusing everything alike. */
const seen = { runs: 0, ok: 0, refused: 0, packets: 0, skipped: 0, overSnaplen: 0, holes: 0, errors: new Set<string>() };
function tally(s: CaptureStatus): void {
  seen.runs++;
  if (s.ok) seen.ok++;
  else {
    seen.refused++;
    seen.errors.add(s.error!.replace(/\d+/g, 'N'));
  }
  if (s.packets) seen.packets++;
  if (s.skippedRecords) seen.skipped++;
  if (s.recordsOverSnaplen) seen.overSnaplen++;
  if (s.holes) seen.holes++;
}

describe.skipIf(!addon)('native and pure-TS agree on mutated captures', () => {
  const all = bases();
  const r = prng(0x15_04_05);
  const cases = Array.from({ length: CASES }, (_, i) => {
    const ng = all.filter((b) => b.name.startsWith('ng:'));
    const base = i % 4 === 3 ? ng[(i >> 2) % ng.length]! : all[i % all.length]!; // a quarter on the pcapng built here
    const m = mutate(r, base.bytes);
    const chunk = r.pick(m.bytes.length <= 8192 ? [1, 7, 13, 4096] : [7, 13, 4096, 65536]);
    return { i, base: base.name, ...m, chunk };
  });

  it('has bases of every kind, and the mutations reach every field kind', () => {
    expect(all.length).toBeGreaterThanOrEqual(30);
    expect(all.filter((b) => b.bytes[0] === 0x0a && b.bytes[1] === 0x0d).length).toBeGreaterThanOrEqual(4);
    expect(cases).toHaveLength(CASES);
    const kinds = new Set(cases.flatMap((c) => c.what.map((w) => w.split(/[ @]/)[0])));
    for (const k of ['magic', 'snaplen', 'caplen', 'type', 'len', 'bom', 'tsresol', 'tsoffset', 'iface', 'ts-hi', 'ng-caplen', 'ng-snaplen', 'flip', 'truncate', 'insert', 'delete'])
      expect(kinds, `no mutation of ${k}`).toContain(k);
  });

  // Several cases per test: a test per case costs vitest more than the case.
  const GROUP = 20;
  const groups = Array.from({ length: CASES / GROUP }, (_, g) => cases.slice(g * GROUP, (g + 1) * GROUP));
  it('has the groups', () => expect(groups.length).toBe(CASES / GROUP));
  for (const [g, group] of groups.entries()) {
    it(`cases ${g * GROUP}..${g * GROUP + GROUP - 1}`, () => {
      expect(group.length).toBe(GROUP);
      for (const c of group) {
        const label = `case ${c.i} (${c.base}: ${c.what.join('; ')}; chunks of ${c.chunk})`;
        for (const [oi, o] of OPTION_SETS.entries()) {
          const whole = Math.max(c.bytes.length, 1);
          const nw = run(makeNative(o), c.bytes, whole);
          const tw = run(makeTs(o), c.bytes, whole);
          expect(firstDifference(nw, tw), `${label}, options #${oi}, whole`).toBeNull();
          const nc = run(makeNative(o), c.bytes, c.chunk);
          const tc = run(makeTs(o), c.bytes, c.chunk);
          expect(firstDifference(nc, tc), `${label}, options #${oi}, chunked`).toBeNull();
          // The chunking changes neither path's rows nor its final status.
          expect(JSON.stringify(last(tc)), `${label}, options #${oi}: TS, whole vs chunked`).toBe(JSON.stringify(last(tw)));
          expect(sameRows(flat(tc), flat(tw)), `${label}, options #${oi}: TS rows, whole vs chunked`).toBe(true);
          expect(JSON.stringify(last(nc)), `${label}, options #${oi}: native, whole vs chunked`).toBe(JSON.stringify(last(nw)));
          tally(last(nw));
        }
      }
    });
  }

  it('the cases read packets, refused many ways, skipped, and cut records over the snaplen', () => {
    expect(seen.runs).toBe(CASES * OPTION_SETS.length);
    expect(seen.ok).toBeGreaterThan(CASES / 2);
    expect(seen.packets).toBeGreaterThan(CASES);
    expect(seen.refused).toBeGreaterThan(CASES / 20);
    expect(seen.errors.size, [...seen.errors].join('\n')).toBeGreaterThanOrEqual(12);
    expect(seen.skipped).toBeGreaterThan(CASES / 10);
    expect(seen.overSnaplen).toBeGreaterThan(5);
  });
});
