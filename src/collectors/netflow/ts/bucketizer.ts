// The pure-TypeScript twin of the native capture bucketizer
// (native/core/bucketizer.cc + pcap_reader.cc + binding_bucketize.cc), for
// classic pcap and pcapng when the addon is not loaded. Same options (skipBad
// included), same rows, same status; the native's semantics, ported exactly,
// except:
//  - distinct counts (flows, peers, dst_ports) are exact here always; the
//    native switches a bucket to a HyperLogLog estimate once its distinct
//    sets hold more than distinct_exact_max (65536) live items across the
//    open buckets, and its single-bucket path counts a flow the flow table
//    evicted and saw again twice: beyond those bounds the two may differ;
//  - the flow table (new_flows) has the native's bound and eviction rule
//    (idle flows and the longest-idle eighth go when it holds 262144), but
//    the native breaks ties between flows last seen at the same time in its
//    (randomly keyed) hash order and this in insertion order; below the
//    bound the two agree.
// Times are BigInt ns (wall-clock timestamps pass 2^53); rows are packed as
// the native packs them (ROW_WIDTH doubles each, t_mono_ns first: ../fields.ts).
import type { CaptureBucketizer, CaptureStatus, NativeCaptureBucketizerOptions } from '../../../native/types.js';
import { NETFLOW_AT as AT, NETFLOW_ROW_WIDTH as ROW_WIDTH } from '../fields.js';
import { CaptureReader, type TsPacket } from './capture-reader.js';
import { Decoded, decode, L3_ARP, L3_IPV4, L3_IPV6 } from './decode.js';

// The native Bucketizer's refusals (kNoOrigin, kStarted, kEnded).
const NO_ORIGIN = 'begin() needs originWallNs (a series on the episode clock)';
const STARTED = 'begin(): the series has already started';
const ENDED = 'the series has ended';

const MAX_T = 1n << 60n; // |t_mono_ns| is clamped here (36 years)
const MAX_SPAN = 1n << 60n; // bucket_ns, lateness_ns
const MAX_OPEN = 65536n; // buckets open at once
const INT64_MIN = -(1n << 63n);
// BucketConfig defaults the options do not set.
const FLOW_TABLE_MAX = 262144;
const FLOW_IDLE_NS = 60_000_000_000n;
const MAX_EMPTY_BUCKETS = 3600n;
const FILL_CREDIT_PER_PACKET = 16n;
/** Gap counts saturate here (2^53 - 1: the native's kMaxCount), so the native's JSON and these doubles agree. */
const MAX_COUNT = (1n << 53n) - 1n;
const satAdd = (a: bigint, b: bigint) => (a + b > MAX_COUNT ? MAX_COUNT : a + b);

const UNMATCHED = 0;
const OUT = 1;
const IN = 2;

const clampT = (t: bigint) => (t > MAX_T ? MAX_T : t < -MAX_T ? -MAX_T : t);
const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);

/** Floor division for b > 0, so negative times fall in the bucket below. */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b < 0n ? q - 1n : q;
}

/** static_cast<int64_t>(double) as x86-64 does it (out of range and NaN: INT64_MIN). */
function toInt64(x: number): bigint {
  if (!Number.isFinite(x) || x >= 2 ** 63 || x < -(2 ** 63)) return INT64_MIN;
  return BigInt(Math.trunc(x));
}

const w = (a: Uint8Array, i: number) => (a[i]! << 8) | a[i + 1]!;

/** A 16-byte address as a key: its bytes as 8 UTF-16 code units. */
const ipKey = (a: Uint8Array) => String.fromCharCode(w(a, 0), w(a, 2), w(a, 4), w(a, 6), w(a, 8), w(a, 10), w(a, 12), w(a, 14));

/** A 5-tuple as a key: protocol, both addresses, both ports, as 19 code units. */
const flowKey = (proto: number, s: Uint8Array, d: Uint8Array, sp: number, dp: number) =>
  String.fromCharCode(
    proto,
    w(s, 0),
    w(s, 2),
    w(s, 4),
    w(s, 6),
    w(s, 8),
    w(s, 10),
    w(s, 12),
    w(s, 14),
    w(d, 0),
    w(d, 2),
    w(d, 4),
    w(d, 6),
    w(d, 8),
    w(d, 10),
    w(d, 12),
    w(d, 14),
    sp,
    dp,
  );

const macKey = (m: Uint8Array) => m[0]! * 2 ** 40 + m[1]! * 2 ** 32 + (((m[2]! << 24) | (m[3]! << 16) | (m[4]! << 8) | m[5]!) >>> 0);

/** Row class of an IP protocol: 0 tcp, 1 udp, 2 icmp/icmpv6, 3 other. */
const protoClass = (p: number) => (p === 6 ? 0 : p === 17 ? 1 : p === 1 || p === 58 ? 2 : 3);

export interface TsBucketConfig {
  bucketNs: bigint;
  haveOrigin: boolean;
  originWallNs: bigint;
  fillEmpty: boolean;
  latenessNs: bigint;
  guestIps: Uint8Array[];
  guestMacs: Uint8Array[];
  bridgeIps: Uint8Array[];
  flowTableMax?: number;
  flowIdleNs?: bigint;
  /** Zero rows a gap between packets may make (the native BucketConfig::max_empty_buckets); default 3600. */
  maxEmptyBuckets?: bigint;
  /** A replayed live run's end: buckets starting before it were observed (native trusted_until_ns). */
  trustedUntilNs?: bigint;
}

let accIds = 0;

/** One open bucket's counters. */
class Acc {
  /** Tells this bucket from the earlier ones the ring slot held. */
  readonly id = ++accIds;
  pkts = [0, 0, 0]; // by direction: unmatched, out, in
  bytes = [0, 0, 0];
  cls = [0, 0, 0, 0, 0, 0]; // tcp, udp, icmp, other_ip, arp, non_ip
  truncated = 0;
  malformed = 0;
  late = 0;
  syn = 0;
  synack = 0;
  fin = 0;
  rst = 0;
  newFlows = 0;
  readonly flows = new Set<string>();
  readonly peers = new Set<string>();
  readonly ports = new Set<number>();
  any = false;
}

class Flow {
  /** Packet time last seen. */
  last: bigint;
  /** The Acc id of the bucket that counted this flow last, and the direction its peers were counted with there (-1: none). */
  acc = 0;
  dir = -1;
  constructor(t: bigint) {
    this.last = t;
  }
}

/**
 * Flows seen recently (new_flows): packet time last seen per flow, an idle
 * timeout and a hard cap (native FlowTable, keyed by the flow itself).
 */
class FlowTable {
  private readonly flows = new Map<string, Flow>();
  /** Set by touch(): whether the flow was new, or idle for more than idleNs. */
  fresh = false;
  constructor(
    private readonly maxEntries: number,
    private readonly idleNs: bigint,
  ) {}

  /** Looks flow f up at time t, adding it when absent (a full table first evicts). */
  touch(f: string, t: bigint): Flow {
    let e = this.flows.get(f);
    if (e !== undefined) {
      this.fresh = t - e.last > this.idleNs;
      if (t > e.last) e.last = t;
      return e;
    }
    if (this.flows.size >= this.maxEntries) this.evict(t);
    e = new Flow(t);
    this.flows.set(f, e);
    this.fresh = true;
    return e;
  }

  /** Drops the flows idle longer than idleNs and the longest-idle eighth of the table (at least one). */
  private evict(t: bigint): void {
    const lasts = Array.from(this.flows.values(), (e) => e.last).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const target = Math.min(Math.max(1, Math.floor(this.maxEntries / 8)), lasts.length);
    const thr = lasts[target - 1]!;
    let below = 0;
    for (const x of lasts) if (x < thr) below++;
    let ties = target - below;
    for (const [f, e] of this.flows) {
      const l = e.last;
      const idle = t - l > this.idleNs;
      const go = idle || l < thr || (l === thr && ties > 0);
      if (!go) continue;
      if (l === thr && ties > 0 && !idle) ties--;
      this.flows.delete(f);
    }
  }
}

/** Closed rows, packed ROW_WIDTH doubles each (as the native hands them over). */
class PackedRows {
  a = new Float64Array(64 * ROW_WIDTH);
  private n = 0; // doubles used

  /** Appends a zero row at t; returns its index in a. */
  row(t: number): number {
    if (this.n + ROW_WIDTH > this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a.subarray(0, this.n));
      this.a = b;
    }
    const r = this.n;
    this.a[r] = t;
    this.n += ROW_WIDTH;
    return r;
  }

  take(): Float64Array {
    const out = this.a.slice(0, this.n);
    this.a.fill(0, 0, this.n);
    this.n = 0;
    if (this.a.length > 1024 * ROW_WIDTH) this.a = new Float64Array(64 * ROW_WIDTH);
    return out;
  }
}

/** Packets to rows (native Bucketizer). */
export class TsBucketizer {
  private readonly b: bigint;
  private readonly l: bigint;
  private readonly haveOrigin: boolean;
  private readonly fillEmpty: boolean;
  private readonly maxEmpty: bigint;
  private readonly guestIps: Set<string>;
  private readonly bridgeIps: Set<string>;
  private readonly guestMacs: Set<number>;
  private readonly ring: Array<Acc | undefined>;
  private readonly ringMask: bigint;
  private readonly flowTable: FlowTable;
  private readonly d = new Decoded();
  private started = false;
  private origin = 0n;
  private nextOpen = 0n; // buckets below are closed
  private hi = 0n; // the newest bucket with packets
  private now = 0n; // the latest packet time or advance() time
  // Packets with t in [fastLo, fastHi) go to fastAcc with no bookkeeping.
  private fastLo = 1n;
  private fastHi = 0n;
  private fastAcc: Acc | null = null;
  private emittedAny = false;
  private ended_ = false;
  // Buckets below observedK were seen by a clock: their empty ones are always written.
  private observedK: bigint | null = null;
  private gap = 0n; // unobserved empty buckets since the last row with packets
  private cut = false; // this gap has buckets not written
  private skipped = 0n; // buckets not written since the last row written
  private skippedTotal = 0n;
  private fillLeft: bigint; // the fill budget left (unobserved zero rows)
  private holes_ = 0;
  private packets_ = 0;
  private readonly rows = new PackedRows();

  constructor(c: TsBucketConfig) {
    this.b = min(max(c.bucketNs, 1n), MAX_SPAN);
    let l = min(max(c.latenessNs, 0n), MAX_SPAN);
    if (l / this.b + 2n > MAX_OPEN) l = (MAX_OPEN - 2n) * this.b;
    this.l = l;
    this.haveOrigin = c.haveOrigin;
    if (c.haveOrigin) this.origin = c.originWallNs;
    this.fillEmpty = c.fillEmpty;
    this.maxEmpty = min(c.maxEmptyBuckets ?? MAX_EMPTY_BUCKETS, MAX_COUNT);
    this.fillLeft = this.maxEmpty;
    if (c.trustedUntilNs !== undefined) this.trust(c.trustedUntilNs);
    this.guestIps = new Set(c.guestIps.map(ipKey));
    this.bridgeIps = new Set(c.bridgeIps.map(ipKey));
    this.guestMacs = new Set(c.guestMacs.map(macKey));
    let ring = 1n;
    while (ring < l / this.b + 2n) ring <<= 1n;
    this.ring = new Array<Acc | undefined>(Number(ring));
    this.ringMask = ring - 1n;
    this.flowTable = new FlowTable(Math.max(c.flowTableMax ?? FLOW_TABLE_MAX, 1), c.flowIdleNs ?? FLOW_IDLE_NS);
  }

  get packets(): number {
    return this.packets_;
  }
  get holes(): number {
    return this.holes_;
  }
  get emptyBucketsSkipped(): number {
    return Number(this.skippedTotal);
  }
  get ended(): boolean {
    return this.ended_;
  }

  /** The rows closed so far, in time order, packed; the caller takes them. */
  take(): Float64Array {
    return this.rows.take();
  }

  private slot(k: bigint): Acc {
    const i = Number(k & this.ringMask);
    return (this.ring[i] ??= new Acc());
  }

  // The first packet opens the series (and is t = 0 without an origin).
  private start(ts: bigint): void {
    if (!this.haveOrigin) this.origin = ts;
    const t0 = clampT(BigInt.asIntN(64, ts - this.origin));
    this.nextOpen = floorDiv(t0 - this.l, this.b);
    this.hi = floorDiv(t0, this.b);
    this.now = t0;
    this.started = true;
  }

  packet(p: TsPacket): void {
    const d = this.d;
    decode(p.data, p.wirelen, p.linktype, d);
    // Direction.
    const ips = d.hasIps;
    let srcKey = '';
    let dstKey = '';
    let out = false;
    let into = false;
    if (ips) {
      srcKey = ipKey(d.srcIp);
      dstKey = ipKey(d.dstIp);
      out = this.guestIps.has(srcKey) || this.bridgeIps.has(dstKey);
      into = this.guestIps.has(dstKey) || this.bridgeIps.has(srcKey);
    }
    if (this.guestMacs.size) {
      if (d.hasSrcMac && this.guestMacs.has(macKey(d.srcMac))) out = true;
      if (d.hasDstMac && this.guestMacs.has(macKey(d.dstMac))) into = true;
    }
    const dir = out ? OUT : into ? IN : UNMATCHED; // out wins over in
    const ip = d.l3 === L3_IPV4 || d.l3 === L3_IPV6;
    const cls = ip ? (d.protoKnown ? protoClass(d.ipProto) : 3) : d.l3 === L3_ARP ? 4 : 5;
    const ported = d.ipProto === 6 || d.ipProto === 17;
    const flow = d.protoKnown && (!ported || d.hasPorts); // TCP/UDP without ports names no flow
    const counted = ip && ips;

    // Bucket and counters.
    this.packets_++;
    if (!this.started) this.start(p.tsNs);
    const t = clampT(BigInt.asIntN(64, p.tsNs - this.origin));
    let a: Acc;
    if (t >= this.fastLo && t < this.fastHi) {
      a = this.fastAcc!;
      if (t > this.now) this.now = t;
    } else {
      a = this.locate(t);
    }
    a.any = true;
    a.pkts[dir]!++;
    a.bytes[dir]! += p.wirelen;
    a.cls[cls]!++;
    if (d.truncated) a.truncated++;
    if (d.malformed) a.malformed++;
    const f = d.tcpFlags; // 0 unless a TCP header was read
    if ((f & 0x12) === 0x02) a.syn++;
    if ((f & 0x12) === 0x12) a.synack++;
    if (f & 1) a.fin++;
    if (f & 4) a.rst++;
    if (!counted) return;
    if (flow) {
      const key = flowKey(d.ipProto, d.srcIp, d.dstIp, d.srcPort, d.dstPort);
      const e = this.flowTable.touch(key, t);
      if (e.acc !== a.id) {
        // Maybe this flow's first packet in the bucket (the set knows; the table may have evicted the flow meanwhile).
        if (!a.flows.has(key)) {
          a.flows.add(key);
          if (this.flowTable.fresh) a.newFlows++;
          if (ported) a.ports.add(d.dstPort);
        }
        e.acc = a.id;
        e.dir = -1;
      }
      if (e.dir === dir) return; // its peers were counted in this bucket with this direction already
      e.dir = dir;
    }
    a.peers.add(dir === IN ? srcKey : dstKey);
    if (dir === UNMATCHED) a.peers.add(srcKey);
  }

  // The slow path of packet(): closes buckets the clock has passed,
  // redirects a late packet to the oldest open bucket, and re-arms the fast
  // window (whose packets need none of this).
  private locate(t: bigint): Acc {
    let k = floorDiv(t, this.b);
    if (t > this.now) {
      this.now = t;
      const kend = floorDiv(t - this.l, this.b);
      if (kend > this.nextOpen) this.closeUntil(kend);
    }
    const late = k < this.nextOpen;
    if (late) k = this.nextOpen;
    if (k > this.hi) this.hi = k;
    const a = this.slot(k);
    if (late) a.late++;
    if (k === this.hi && !late) {
      this.fastAcc = a;
      this.fastLo = k * this.b;
      this.fastHi = min((k + 1n) * this.b, (this.nextOpen + 1n) * this.b + this.l);
    }
    return a;
  }

  /** The episode clock reached nowMonoNs: close buckets whose end + lateness <= now (live use). */
  advance(nowMonoNs: bigint): void {
    if (!this.started || this.ended_) return;
    const now = clampT(nowMonoNs);
    this.trust(now);
    if (now <= this.now) return;
    this.now = now;
    const kend = floorDiv(now - this.l, this.b);
    if (kend > this.nextOpen) this.closeUntil(kend);
  }

  /** Closes everything; returns whether the last row it closed ends past the last packet / advance() time. */
  flush(): boolean {
    if (!this.started || this.ended_ || this.nextOpen > this.hi) return false;
    const end = this.hi + 1n;
    this.closeUntil(end);
    return end * this.b > this.now;
  }

  /**
   * Live use: the capture began at nowMonoNs: the series starts there
   * without a packet, only its bucket open (packets stamped earlier are late
   * into it), and its empty buckets give zero rows. Returns null, or why it
   * refused.
   */
  begin(nowMonoNs: bigint): string | null {
    if (this.ended_) return ENDED;
    if (!this.haveOrigin) return NO_ORIGIN; // without one, t = 0 is the first packet: no clock to begin on
    if (this.started) return STARTED;
    const t0 = clampT(nowMonoNs);
    this.nextOpen = this.hi = floorDiv(t0, this.b);
    this.now = t0;
    this.started = true;
    this.emittedAny = true; // the capture covers k0 on: its empty buckets are zero rows
    this.fastLo = 1n;
    this.fastHi = 0n;
    this.fastAcc = null;
    return null;
  }

  /**
   * Live use: the capture ended at endMonoNs: closes every bucket starting
   * before it, lateness or not, and drops the later ones, counting their
   * packets. The series is over then. Null when it refused (already ended).
   */
  end(endMonoNs: bigint): { lastPartial: boolean; packetsAfterEnd: number } | null {
    if (this.ended_) return null;
    this.ended_ = true;
    if (!this.started) return { lastPartial: false, packetsAfterEnd: 0 };
    const e = clampT(endMonoNs);
    this.trust(e);
    const kLast = floorDiv(e - 1n, this.b); // the last bucket starting before e
    let lastPartial = false;
    if (kLast >= this.nextOpen) {
      // lateness is moot: nothing more will come
      this.closeUntil(kLast + 1n);
      lastPartial = (kLast + 1n) * this.b > e;
    }
    return { lastPartial, packetsAfterEnd: this.discardOpen() };
  }

  // end(): drops the open buckets [nextOpen, hi] without rows; returns how
  // many packets they held.
  private discardOpen(): number {
    let n = 0;
    for (let k = this.nextOpen; k <= this.hi; k++) {
      const i = Number(k & this.ringMask);
      const a = this.ring[i];
      this.ring[i] = undefined;
      if (a) n += a.pkts[UNMATCHED]! + a.pkts[OUT]! + a.pkts[IN]!;
    }
    this.nextOpen = max(this.nextOpen, this.hi + 1n);
    this.fastLo = 1n;
    this.fastHi = 0n;
    this.fastAcc = null;
    return n;
  }

  // Closes buckets [nextOpen, kend): those that may hold packets one by one,
  // the rest past hi as one run of empty buckets.
  private closeUntil(kend: bigint): void {
    const last = min(this.hi, kend - 1n);
    for (let k = this.nextOpen; k <= last; k++) this.closeOne(k);
    const from = max(this.nextOpen, this.hi + 1n);
    if (kend > from) this.pushZeros(from, kend - from);
    this.nextOpen = kend;
    this.fastLo = 1n; // empty window: the next packet takes the slow path
    this.fastHi = 0n;
    this.fastAcc = null;
  }

  private closeOne(k: bigint): void {
    const i = Number(k & this.ringMask);
    const a = this.ring[i];
    this.ring[i] = undefined;
    if (!a || !a.any) {
      this.pushZeros(k, 1n);
      return;
    }
    // A row with packets: it carries the gap before it, and earns fill budget.
    this.emittedAny = true;
    const skipped = this.skipped;
    this.skipped = 0n;
    this.gap = 0n;
    this.cut = false;
    this.fillLeft = satAdd(this.fillLeft, BigInt(a.pkts[UNMATCHED]! + a.pkts[OUT]! + a.pkts[IN]!) * FILL_CREDIT_PER_PACKET);
    // Each field at its place in the packed row (../fields.ts, as native/core/netflow_fields.h lays it out).
    const r = this.rows.row(Number(k * this.b));
    const v = this.rows.a;
    v[r + AT.pkts_in] = a.pkts[IN]!;
    v[r + AT.pkts_out] = a.pkts[OUT]!;
    v[r + AT.bytes_in] = a.bytes[IN]!;
    v[r + AT.bytes_out] = a.bytes[OUT]!;
    v[r + AT.pkts_unmatched] = a.pkts[UNMATCHED]!;
    v[r + AT.bytes_unmatched] = a.bytes[UNMATCHED]!;
    v[r + AT.flows] = a.flows.size;
    v[r + AT.new_flows] = a.newFlows;
    v[r + AT.peers] = a.peers.size;
    v[r + AT.dst_ports] = a.ports.size;
    v[r + AT.tcp_syn] = a.syn;
    v[r + AT.tcp_synack] = a.synack;
    v[r + AT.tcp_fin] = a.fin;
    v[r + AT.tcp_rst] = a.rst;
    v[r + AT.pkts_tcp] = a.cls[0]!;
    v[r + AT.pkts_udp] = a.cls[1]!;
    v[r + AT.pkts_icmp] = a.cls[2]!;
    v[r + AT.pkts_other_ip] = a.cls[3]!;
    v[r + AT.pkts_arp] = a.cls[4]!;
    v[r + AT.pkts_non_ip] = a.cls[5]!;
    v[r + AT.pkts_truncated] = a.truncated;
    v[r + AT.pkts_malformed] = a.malformed;
    v[r + AT.pkts_late] = a.late;
    v[r + AT.distinct_estimated] = 0; // never: counts are exact here
    v[r + AT.empty_buckets_skipped] = Number(skipped);
  }

  /** A clock vouches for time up to t (mono ns): buckets starting before it were seen. */
  private trust(t: bigint): void {
    if (t === INT64_MIN) return;
    const k = floorDiv(clampT(t) - 1n, this.b) + 1n; // the first bucket starting at or after t
    if (this.observedK === null || k > this.observedK) this.observedK = k;
  }

  private skip(n: bigint): void {
    this.skipped = satAdd(this.skipped, n);
    this.skippedTotal = satAdd(this.skippedTotal, n);
  }

  // n empty buckets from k (after the first row): those a clock saw are zero
  // rows; the others are zero rows while the gap is at most maxEmpty long and
  // the fill budget lasts, and skipped (counted) from there to the next row
  // with packets. Without fillEmpty every one is skipped.
  private pushZeros(k: bigint, n: bigint): void {
    if (!this.emittedAny || n === 0n) return;
    if (!this.fillEmpty) return this.skip(n);
    if (this.observedK !== null && k < this.observedK) {
      const seen = min(n, this.observedK - k);
      this.emitZeros(k, seen);
      k += seen;
      n -= seen;
      if (n === 0n) return;
    }
    if (!this.cut) {
      const room = this.gap < this.maxEmpty ? this.maxEmpty - this.gap : 0n;
      const take = min(n, min(room, this.fillLeft));
      if (take > 0n) {
        this.emitZeros(k, take);
        this.gap += take;
        this.fillLeft -= take;
        k += take;
        n -= take;
      }
      if (n === 0n) return;
      this.cut = true;
      this.holes_++;
    }
    this.gap = satAdd(this.gap, n);
    this.skip(n);
  }

  /** n zero rows from k; the first carries the buckets skipped before it. */
  private emitZeros(k: bigint, n: bigint): void {
    for (let i = 0n; i < n; i++) {
      const r = this.rows.row(Number((k + i) * this.b));
      if (i === 0n && this.skipped > 0n) {
        this.rows.a[r + AT.empty_buckets_skipped] = Number(this.skipped);
        this.skipped = 0n;
      }
    }
  }
}

function addrs(o: Record<string, unknown>, key: string, n: number): Uint8Array[] {
  const v = o[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new TypeError(`Expected ${key} to be an array of Uint8Array`);
  return v.map((e: unknown) => {
    if (!(e instanceof Uint8Array) || e.length !== n) throw new TypeError(`Expected ${key} entries to be Uint8Array(${n})`);
    return Uint8Array.from(e);
  });
}

/** The CaptureBucketizer of the pure-TS path. */
export class TsCaptureBucketizer implements CaptureBucketizer {
  private readonly core: TsBucketizer;
  private readonly reader: CaptureReader;

  constructor(opts: NativeCaptureBucketizerOptions) {
    // The option checks and defaults of the native binding.
    if (typeof opts !== 'object' || opts === null) throw new TypeError('Expected an options object');
    const o = opts as unknown as Record<string, unknown>;
    const bucketNs = typeof o.bucketNs === 'number' ? o.bucketNs : 0;
    if (!(bucketNs >= 1 && bucketNs <= 9.2e18)) throw new RangeError('Expected bucketNs to be a positive number of nanoseconds');
    const origin = o.originWallNs;
    this.core = new TsBucketizer({
      bucketNs: BigInt(Math.trunc(bucketNs)),
      haveOrigin: typeof origin === 'bigint',
      originWallNs: typeof origin === 'bigint' ? BigInt.asIntN(64, origin) : 0n,
      fillEmpty: typeof o.fillEmpty === 'boolean' ? o.fillEmpty : true,
      latenessNs: typeof o.latenessNs === 'number' ? toInt64(o.latenessNs) : 0n,
      guestIps: addrs(o, 'guestIps', 16),
      guestMacs: addrs(o, 'guestMacs', 6),
      bridgeIps: addrs(o, 'bridgeIps', 16),
      // The native binding's rules: a number in [0, 2^53 - 1], else the default; trustedUntilNs a number.
      maxEmptyBuckets: typeof o.maxEmptyBuckets === 'number' && o.maxEmptyBuckets >= 0 && o.maxEmptyBuckets <= Number.MAX_SAFE_INTEGER ? BigInt(Math.trunc(o.maxEmptyBuckets)) : undefined,
      trustedUntilNs: typeof o.trustedUntilNs === 'number' ? toInt64(o.trustedUntilNs) : undefined,
    });
    this.reader = new CaptureReader((p) => this.core.packet(p), { skipBad: typeof o.skipBad === 'boolean' ? o.skipBad : false });
  }

  feed(chunk: Uint8Array): Float64Array {
    this.notEnded();
    if (!(chunk instanceof Uint8Array)) throw new TypeError('Expected a Uint8Array');
    this.reader.feed(chunk);
    return this.core.take();
  }

  advance(nowMonoNs: number): Float64Array {
    this.notEnded();
    if (typeof nowMonoNs !== 'number') throw new TypeError('Expected nowMonoNs to be a number');
    this.core.advance(toInt64(nowMonoNs));
    return this.core.take();
  }

  finish(): { rows: Float64Array; lastPartial: boolean } {
    this.notEnded();
    this.reader.finish();
    const lastPartial = this.core.flush();
    return { rows: this.core.take(), lastPartial };
  }

  begin(nowMonoNs: number): void {
    this.notEnded();
    if (typeof nowMonoNs !== 'number') throw new TypeError('Expected nowMonoNs to be a number');
    const err = this.core.begin(toInt64(nowMonoNs));
    if (err !== null) throw new Error(err);
  }

  end(endMonoNs: number): { rows: Float64Array; lastPartial: boolean; packetsAfterEnd: number } {
    this.notEnded();
    if (typeof endMonoNs !== 'number') throw new TypeError('Expected endMonoNs to be a number');
    this.reader.finish();
    const r = this.core.end(toInt64(endMonoNs))!; // not ended yet: cannot refuse
    return { rows: this.core.take(), ...r };
  }

  /** After end() only status() is allowed. */
  private notEnded(): void {
    if (this.core.ended) throw new Error(ENDED);
  }

  status(): CaptureStatus {
    const r = this.reader;
    return {
      ok: r.ok,
      error: r.error,
      errorOffset: r.errorOffset,
      offset: r.offset,
      packets: this.core.packets,
      skippedBytes: r.skippedBytes,
      skippedRecords: r.skippedRecords,
      recordsOverSnaplen: r.recordsOverSnaplen,
      holes: this.core.holes,
      emptyBucketsSkipped: this.core.emptyBucketsSkipped,
    };
  }
}
