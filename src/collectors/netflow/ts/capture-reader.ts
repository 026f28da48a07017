// Classic pcap and pcapng for the pure-TypeScript path: a line-by-line port
// of the native push reader (native/core/pcap_reader.cc), so that both paths
// read the same packets, refuse the same input with the same message at the
// same byte offset, resynchronize the same way under skipBad, and report the
// same counts after every call, whatever the chunking. Keep the two in step:
// each method below names the native one it ports.
//
// Fed chunks of any size, it hands each packet to a sink, in place when the
// record lies within one chunk; only a record split across chunks is copied,
// into a carry buffer of at most about twice maxBlockLen bytes. Lengths read
// from the input are checked against the options before anything is
// buffered, so memory stays bounded whatever the input says.

export interface TsPacket {
  /** Wall clock, ns since the Unix epoch (int64, as the native's ts_ns). */
  tsNs: bigint;
  caplen: number;
  wirelen: number;
  /** LINKTYPE_* of the packet's interface (FCS bits masked off). */
  linktype: number;
  /** pcapng interface index within its section; 0 for classic pcap. */
  interfaceId: number;
  /** Exactly caplen bytes; valid only during the callback. */
  data: Uint8Array;
}

/** The native ReaderOptions. */
export interface ReaderOptions {
  skipBad: boolean;
  maxCaplen: number;
  maxBlockLen: number;
  maxInterfaces: number;
}

const MAX_CAPLEN = 262144;
// The pcapng block bound is libpcap's (16 MiB): see native ReaderOptions::max_block_len.
const READER_DEFAULTS: ReaderOptions = { skipBad: false, maxCaplen: MAX_CAPLEN, maxBlockLen: 16 << 20, maxInterfaces: 4096 };

const SHB = 0x0a0d0d0a; // the same in both byte orders
const IDB = 1,
  PB = 2,
  SPB = 3,
  NRB = 4,
  ISB = 5,
  EPB = 6,
  JOURNAL = 9,
  DSB = 10,
  CUSTOM = 0x00000bad,
  CUSTOM_NO_COPY = 0x40000bad;
const BOM = 0x1a2b3c4d;
const BOM_SWAPPED = 0x4d3c2b1a;
const MAGIC_US = 0xa1b2c3d4,
  MAGIC_NS = 0xa1b23c4d;
const MAGIC_US_SWAPPED = 0xd4c3b2a1,
  MAGIC_NS_SWAPPED = 0x4d3cb2a1;
const DAY_NS = 86_400_000_000_000n;
const PLAUSIBLE_WIRE = 1 << 20; // resync: the largest believable wire length
const U64 = (1n << 64n) - 1n;

const enum Mode {
  Detect,
  Classic,
  Ng,
  ResyncClassic,
  ResyncNg,
  Failed,
}
const enum TsKind {
  Mul,
  Div,
  Shift,
}

interface Iface {
  linktype: number;
  snaplen: number; // 0: no limit
  tsKind: TsKind;
  tsShift: bigint;
  tsFactor: bigint;
  tsOffsetNs: bigint; // if_tsoffset in ns, mod 2^64
}

// Little-endian is the host order of the native (x86-64): swap means big-endian.
const rd16 = (p: Uint8Array, o: number, swap: boolean) => (swap ? (p[o]! << 8) | p[o + 1]! : p[o]! | (p[o + 1]! << 8));
const rd32 = (p: Uint8Array, o: number, swap: boolean) =>
  (swap ? (p[o]! << 24) | (p[o + 1]! << 16) | (p[o + 2]! << 8) | p[o + 3]! : p[o]! | (p[o + 1]! << 8) | (p[o + 2]! << 16) | (p[o + 3]! << 24)) >>> 0;
const rd64 = (p: Uint8Array, o: number, swap: boolean) =>
  swap ? (BigInt(rd32(p, o, true)) << 32n) | BigInt(rd32(p, o + 4, true)) : (BigInt(rd32(p, o + 4, false)) << 32n) | BigInt(rd32(p, o, false));

const hex2 = (b: number) => b.toString(16).padStart(2, '0');

// native min_block_len(): 12 bytes of framing plus the block's fixed fields.
function minBlockLen(type: number): number {
  switch (type) {
    case SHB:
      return 28;
    case IDB:
      return 20;
    case PB:
    case EPB:
      return 32;
    case SPB:
      return 16;
    case ISB:
      return 24;
    default:
      return 12;
  }
}

// native known_block(): block types a resynchronization scan may land on.
function knownBlock(t: number): boolean {
  switch (t) {
    case SHB:
    case IDB:
    case PB:
    case SPB:
    case NRB:
    case ISB:
    case EPB:
    case JOURNAL:
    case DSB:
    case CUSTOM:
    case CUSTOM_NO_COPY:
      return true;
    default:
      return false;
  }
}

// native block_name()
function blockName(type: number): string {
  switch (type) {
    case SHB:
      return 'section header block';
    case IDB:
      return 'interface description block';
    case EPB:
      return 'enhanced packet block';
    case SPB:
      return 'simple packet block';
    case PB:
      return 'packet block';
    default:
      return 'pcapng block';
  }
}

// native not_a_capture(): what the first bytes of a file that is not a capture look like.
function notACapture(p: Uint8Array, o: number, n: number): string {
  const hex = Array.from(p.subarray(o, o + Math.min(n, 4)), hex2).join(' ');
  let hint = '';
  if (n >= 2 && p[o] === 0x1f && p[o + 1] === 0x8b) hint = '; gzip-compressed? decompress it first';
  else if (n >= 4 && p[o] === 0xa1 && p[o + 1] === 0xb2 && p[o + 2] === 0xcd && p[o + 3] === 0x34) hint = '; modified (Kuznetzov) pcap is not supported';
  return `not a pcap or pcapng capture (starts with ${hex}${hint})`;
}

/** native CaptureReader: push-based, for classic pcap and pcapng. */
export class CaptureReader {
  private readonly opt: ReaderOptions;
  private mode = Mode.Detect;
  private finished = false;
  // Classic pcap header.
  private swap = false; // the file's byte order is big-endian (pcapng: this section's)
  private ns = false;
  private linktype = 0;
  private cut = 0; // libpcap's snapshot: the snaplen, or no cut (2^32 - 1) when it is 0 or > INT_MAX
  // pcapng section state.
  private ifaces: Iface[] = [];
  private sectionOk = true; // false: a section of an unsupported version, skipped
  // The last delivered packet (SPB timestamps, resync plausibility).
  private haveTs = false;
  private lastTs = 0n;
  // Stream position and the carry buffer for records split across chunks.
  private offset_ = 0;
  private buf = new Uint8Array(0);
  private blen = 0;
  private bpos = 0;
  private need_ = 0;
  /** run()'s second result: the bytes it must see at once to go on (0: none). */
  private needOut = 0;
  // Results.
  private overSnaplen_ = 0;
  private skippedBytes_ = 0;
  private skippedRecords_ = 0;
  private errorOffset_ = 0;
  private error_ = '';
  /** One packet object, refilled for each packet (valid only during the callback). */
  private readonly pkt: TsPacket = { tsNs: 0n, caplen: 0, wirelen: 0, linktype: 0, interfaceId: 0, data: new Uint8Array(0) };
  // The classic timestamp's seconds, and them in ns (BigInt work once a second, not per packet).
  private sec = -1;
  private secNs = 0n;

  constructor(
    private readonly onPacket: (p: TsPacket) => void,
    options: Partial<ReaderOptions> = {},
  ) {
    this.opt = { ...READER_DEFAULTS, ...options };
  }

  get ok(): boolean {
    return this.mode !== Mode.Failed;
  }
  get error(): string | null {
    return this.mode === Mode.Failed ? this.error_ : null;
  }
  /** Stream offset of the bad record (its first byte). */
  get errorOffset(): number | null {
    return this.mode === Mode.Failed ? this.errorOffset_ : null;
  }
  /** Bytes of input fully consumed (delivered or skipped); after an error, the offset of the bad record. */
  get offset(): number {
    return this.offset_;
  }
  /**
   * Classic pcap records whose caplen exceeds the file header's snaplen (but
   * not maxCaplen), read as libpcap reads them: delivered cut to the snaplen,
   * the rest of the record skipped.
   */
  get recordsOverSnaplen(): number {
    return this.overSnaplen_;
  }
  /** With skipBad: bytes skipped since the start of the stream. */
  get skippedBytes(): number {
    return this.skippedBytes_;
  }
  /** With skipBad: bad records/blocks skipped (a garbage run counts once). */
  get skippedRecords(): number {
    return this.skippedRecords_;
  }

  // Records the first fatal error; everything after it is refused.
  private fail(at: number, msg: string): void {
    if (this.mode === Mode.Failed) return;
    this.mode = Mode.Failed;
    this.errorOffset_ = at;
    this.error_ = msg;
  }

  // A record whose framing cannot be trusted at o + off. Returns the bytes used.
  private bad(off: number, msg: string, skip: number): number {
    if (!this.opt.skipBad) {
      this.fail(this.offset_ + off, msg);
      return off;
    }
    this.skippedRecords_++;
    this.skippedBytes_ += skip;
    this.mode = this.mode === Mode.Classic ? Mode.ResyncClassic : Mode.ResyncNg;
    return off + skip;
  }

  // A well-framed pcapng block whose contents are wrong: skip exactly it.
  private contentError(at: number, len: number, msg: string): boolean {
    if (!this.opt.skipBad) {
      this.fail(at, msg);
      return false;
    }
    this.skippedRecords_++;
    this.skippedBytes_ += len;
    return true;
  }

  // The input ended inside a record. Returns the bytes used.
  private truncated(off: number, have: number, need: number, what: string): number {
    if (!this.opt.skipBad) {
      this.fail(this.offset_ + off, `truncated ${what}: input ends after ${have} of its ${need} bytes`);
      return off;
    }
    this.skippedRecords_++;
    this.skippedBytes_ += have;
    return off + have;
  }

  // Appends to the carry buffer, first dropping its consumed front when that
  // is at least half of it (so each byte is moved O(1) times).
  private append(p: Uint8Array): void {
    if (this.bpos > 0 && this.bpos * 2 >= this.blen) {
      this.buf.copyWithin(0, this.bpos, this.blen);
      this.blen -= this.bpos;
      this.bpos = 0;
    }
    if (this.blen + p.length > this.buf.length) {
      const grown = new Uint8Array(Math.max(this.blen + p.length, this.buf.length * 2, 4096));
      grown.set(this.buf.subarray(0, this.blen));
      this.buf = grown;
    }
    this.buf.set(p, this.blen);
    this.blen += p.length;
  }

  private deliver(tsNs: bigint, caplen: number, wirelen: number, linktype: number, id: number, data: Uint8Array): void {
    const k = this.pkt;
    k.tsNs = tsNs;
    k.caplen = caplen;
    k.wirelen = wirelen;
    k.linktype = linktype;
    k.interfaceId = id;
    k.data = data;
    this.onPacket(k);
    this.haveTs = true;
    this.lastTs = tsNs;
  }

  /**
   * native feed(): consumes a chunk of any size; complete records go to the
   * sink before it returns. The chunk is not kept: the caller may reuse it.
   * After an error (without skipBad) later calls deliver nothing.
   */
  feed(data: Uint8Array): void {
    if (this.finished || !this.ok) return;
    const len = data.length;
    let pos = 0;
    // Bytes carried from earlier chunks: top them up to what the next step
    // needs, and run steps on the buffer until it is used up.
    while (this.bpos < this.blen && this.ok) {
      let have = this.blen - this.bpos;
      if (have < this.need_) {
        const take = Math.min(this.need_ - have, len - pos);
        if (take) this.append(data.subarray(pos, pos + take));
        pos += take;
        have += take;
        if (have < this.need_) return; // the whole chunk went to the buffer
      }
      const used = this.step(this.buf, this.bpos, have, false);
      this.bpos += used;
      if (this.bpos === this.blen) {
        this.blen = 0;
        this.bpos = 0;
        this.need_ = 0;
      } else {
        this.need_ = this.needOut;
      }
    }
    // The rest of the chunk in place; a record cut by its end is carried.
    while (pos < len && this.ok) {
      const used = this.step(data, pos, len - pos, false);
      pos += used;
      if (this.needOut) {
        this.append(data.subarray(pos));
        this.need_ = this.needOut;
        break;
      }
    }
  }

  /** native finish(): at EOF, reports a truncated last record (or, with skipBad, counts it). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    while (this.mode !== Mode.Failed) {
      const have = this.blen - this.bpos;
      if (have === 0) {
        if (this.mode === Mode.Detect) this.fail(this.offset_, 'empty input: not a pcap or pcapng capture');
        break;
      }
      this.bpos += this.step(this.buf, this.bpos, have, true);
    }
    this.buf = new Uint8Array(0);
    this.blen = 0;
    this.bpos = 0;
    this.need_ = 0;
  }

  // native step(): one run() with the progress guarantee checked: it consumed
  // bytes, changed mode, failed, or asks for more bytes than it was given
  // (never at EOF).
  private step(p: Uint8Array, o: number, n: number, eof: boolean): number {
    this.needOut = 0;
    const before = this.mode;
    const used = this.run(p, o, n, eof);
    this.offset_ += used;
    const need = this.needOut;
    if (this.mode === Mode.Failed) {
      this.needOut = 0;
    } else if (need ? eof || need <= n - used : used === 0 && this.mode === before) {
      this.fail(this.offset_, 'internal error: the capture reader made no progress');
      this.needOut = 0;
    }
    return used;
  }

  private run(p: Uint8Array, o: number, n: number, eof: boolean): number {
    switch (this.mode) {
      case Mode.Detect:
        return this.runDetect(p, o, n, eof);
      case Mode.Classic:
        return this.runClassic(p, o, n, eof);
      case Mode.Ng:
        return this.runNg(p, o, n, eof);
      case Mode.ResyncClassic:
        return this.resyncClassic(p, o, n, eof);
      case Mode.ResyncNg:
        return this.resyncNg(p, o, n, eof);
      default:
        return 0;
    }
  }

  // native run_detect(): the file header. A classic pcap header is consumed
  // here; a pcapng section header is left to runNg.
  private runDetect(p: Uint8Array, o: number, n: number, eof: boolean): number {
    if (n < 4) {
      if (!eof) {
        this.needOut = 4;
        return 0;
      }
      this.fail(0, `input is only ${n} bytes: not a pcap or pcapng capture`);
      return 0;
    }
    const m = rd32(p, o, false);
    if (m === SHB) {
      this.mode = Mode.Ng;
      return 0;
    }
    let swap: boolean;
    if (m === MAGIC_US || m === MAGIC_NS) swap = false;
    else if (m === MAGIC_US_SWAPPED || m === MAGIC_NS_SWAPPED) swap = true;
    else {
      this.fail(0, notACapture(p, o, n));
      return 0;
    }
    if (n < 24) {
      if (!eof) {
        this.needOut = 24;
        return 0;
      }
      this.fail(0, `truncated pcap file header: input ends after ${n} of its 24 bytes`);
      return 0;
    }
    const major = rd16(p, o + 4, swap);
    const minor = rd16(p, o + 6, swap);
    if (major !== 2) {
      this.fail(0, `unsupported pcap version ${major}.${minor}`);
      return 0;
    }
    this.swap = swap;
    this.ns = rd32(p, o, swap) === MAGIC_NS;
    const snaplen = rd32(p, o + 16, swap);
    this.linktype = rd32(p, o + 20, swap) & 0x03ffffff; // the upper bits describe the FCS
    // libpcap's snapshot (pcap_adjust_snapshot): a snaplen of 0 or above
    // INT_MAX stands for the link type's maximum, which maxCaplen bounds.
    this.cut = snaplen === 0 || snaplen > 0x7fffffff ? 0xffffffff : snaplen;
    this.mode = Mode.Classic;
    return 24;
  }

  // native run_classic(): the hot loop for classic pcap, records in place.
  // Lengths as libpcap's sf-pcap.c reads them: a caplen over the bound
  // (maxCaplen; libpcap's is the link type's maximum snaplen, 262144 for all
  // but a few link types) is refused whatever the header's snaplen says; a
  // caplen over the header's snaplen alone is read, delivered cut to the
  // snaplen with the rest of the record skipped, and counted.
  private runClassic(p: Uint8Array, o: number, n: number, eof: boolean): number {
    const swap = this.swap;
    const limit = this.opt.maxCaplen;
    const cut = this.cut;
    const mul = this.ns ? 1 : 1000;
    let off = 0;
    for (;;) {
      const avail = n - off;
      if (avail < 16) {
        if (avail === 0) return off;
        if (eof) return this.truncated(off, avail, 16, 'pcap record header');
        this.needOut = 16;
        return off;
      }
      const h = o + off;
      const cap = rd32(p, h + 8, swap);
      if (cap > limit) return this.bad(off, `record caplen ${cap} exceeds the ${limit}-byte limit`, 1);
      const rec = 16 + cap;
      if (avail < rec) {
        if (eof) return this.truncated(off, avail, rec, 'pcap record');
        this.needOut = rec;
        return off;
      }
      // Exact: seconds * 1e9 passes 2^53, so it is a BigInt (made once per
      // second); the fraction * 1000 (< 2^42) is not.
      const sec = rd32(p, h, swap);
      if (sec !== this.sec) {
        this.sec = sec;
        this.secNs = BigInt(sec) * 1_000_000_000n;
      }
      const ts = this.secNs + BigInt(rd32(p, h + 4, swap) * mul);
      let caplen = cap;
      if (cap > cut) {
        // libpcap hands on the first snaplen bytes
        caplen = cut;
        this.overSnaplen_++;
      }
      this.deliver(ts, caplen, rd32(p, h + 12, swap), this.linktype, 0, p.subarray(h + 16, h + 16 + caplen));
      off += rec;
    }
  }

  // native run_ng(): blocks in place: framing checked (length bounds,
  // alignment, trailer) before the block is looked at, then ngBlock()
  // handles its contents.
  private runNg(p: Uint8Array, o: number, n: number, eof: boolean): number {
    let off = 0;
    while (this.mode === Mode.Ng) {
      const avail = n - off;
      if (avail === 0) break;
      const b = o + off;
      if (avail < 8) {
        if (eof) return this.truncated(off, avail, 8, 'pcapng block header');
        this.needOut = 8;
        break;
      }
      const type = rd32(p, b, this.swap);
      let sw = this.swap;
      if (type === SHB) {
        if (avail < 12) {
          if (eof) return this.truncated(off, avail, 12, 'section header block');
          this.needOut = 12;
          break;
        }
        const bom = rd32(p, b + 8, false);
        if (bom === BOM) sw = false;
        else if (bom === BOM_SWAPPED) sw = true;
        else
          return this.bad(
            off,
            `pcapng section header has an unknown byte-order magic ${hex2(p[b + 8]!)} ${hex2(p[b + 9]!)} ${hex2(p[b + 10]!)} ${hex2(p[b + 11]!)}`,
            4,
          );
      }
      const len = rd32(p, b + 4, sw);
      const name = blockName(type);
      if (len < 12) return this.bad(off, `${name} length ${len} is below the 12-byte minimum`, 4);
      if (len % 4) return this.bad(off, `${name} length ${len} is not a multiple of 4`, 4);
      if (len < minBlockLen(type)) return this.bad(off, `${name} length ${len} is below its ${minBlockLen(type)}-byte minimum`, 4);
      if (len > this.opt.maxBlockLen) return this.bad(off, `${name} length ${len} exceeds the ${this.opt.maxBlockLen}-byte limit`, 4);
      if (avail < len) {
        if (eof) return this.truncated(off, avail, len, name);
        this.needOut = len;
        break;
      }
      const trailer = rd32(p, b + len - 4, sw);
      if (trailer !== len) return this.bad(off, `${name} trailer length ${trailer} disagrees with its header length ${len}`, 4);
      if (!this.ngBlock(p, b, type, len, sw, this.offset_ + off)) return off;
      off += len;
    }
    return off;
  }

  // native ng_block(): the contents of one well-framed pcapng block at
  // stream offset `at`. Returns false after a fatal error.
  private ngBlock(p: Uint8Array, b: number, type: number, len: number, sw: boolean, at: number): boolean {
    if (type === SHB) {
      const major = rd16(p, b + 12, sw);
      const minor = rd16(p, b + 14, sw);
      this.swap = sw;
      this.ifaces = [];
      this.sectionOk = major === 1;
      if (!this.sectionOk) return this.contentError(at, len, `unsupported pcapng version ${major}.${minor}`);
      return true;
    }
    if (!this.sectionOk) {
      // only with skipBad: the section's blocks go unread
      this.skippedRecords_++;
      this.skippedBytes_ += len;
      return true;
    }
    switch (type) {
      case IDB: {
        if (this.ifaces.length >= this.opt.maxInterfaces) return this.contentError(at, len, `section declares more than ${this.opt.maxInterfaces} interfaces`);
        let resol = 6;
        let tsoff = 0n;
        let sawResol = false;
        let sawOff = false;
        const idx = this.ifaces.length;
        const refuse = (why: string) => this.contentError(at, len, `interface ${idx} has ${why}`);
        // Options as libpcap's sf-pcapng.c reads them: it refuses an
        // interface whose options it cannot read, or whose timestamp options
        // are not exactly one of each size. Both ends are multiples of 4
        // here, so an option header always fits.
        const end = len - 4;
        for (let o = 16; o < end; ) {
          const code = rd16(p, b + o, sw);
          const olen = rd16(p, b + o + 2, sw);
          if (code === 0) {
            if (olen !== 0) return refuse(`an end-of-options option of length ${olen}`);
            break;
          }
          if (olen > end - o - 4) return refuse('an option running past its block');
          if (code === 9) {
            if (olen !== 1) return refuse(`an if_tsresol option of length ${olen}, not 1`);
            if (sawResol) return refuse('more than one if_tsresol option');
            sawResol = true;
            resol = p[b + o + 4]!;
          } else if (code === 14) {
            if (olen !== 8) return refuse(`an if_tsoffset option of length ${olen}, not 8`);
            if (sawOff) return refuse('more than one if_tsoffset option');
            sawOff = true;
            tsoff = rd64(p, b + o + 4, sw);
          }
          o += 4 + ((olen + 3) & ~3);
        }
        const v = resol & 0x7f;
        const unsupported = () => refuse(`an unsupported if_tsresol 0x${hex2(resol)}`);
        const f: Iface = {
          linktype: rd16(p, b + 8, sw),
          snaplen: rd32(p, b + 12, sw),
          tsKind: TsKind.Mul,
          tsShift: 0n,
          tsFactor: 1n,
          tsOffsetNs: (tsoff * 1_000_000_000n) & U64,
        };
        if (resol & 0x80) {
          // 2^-v seconds
          if (v > 63) return unsupported();
          f.tsKind = TsKind.Shift;
          f.tsShift = BigInt(v);
        } else {
          // 10^-v seconds; libpcap refuses past 10^-19 (the last power of 10 a uint64 holds)
          if (v > 19) return unsupported();
          f.tsKind = v <= 9 ? TsKind.Mul : TsKind.Div;
          f.tsFactor = 10n ** BigInt(v <= 9 ? 9 - v : v - 9);
        }
        this.ifaces.push(f);
        return true;
      }
      case EPB:
      case PB: {
        const name = blockName(type);
        const id = type === EPB ? rd32(p, b + 8, sw) : rd16(p, b + 8, sw);
        const hi = rd32(p, b + 12, sw);
        const lo = rd32(p, b + 16, sw);
        const cap = rd32(p, b + 20, sw);
        const wire = rd32(p, b + 24, sw);
        if (id >= this.ifaces.length) return this.contentError(at, len, `${name} names interface ${id} but the section declared ${this.ifaces.length}`);
        if (cap > len - 32) return this.contentError(at, len, `${name} caplen ${cap} exceeds the ${len - 32} bytes its block holds`);
        if (cap > this.opt.maxCaplen) return this.contentError(at, len, `record caplen ${cap} exceeds the ${this.opt.maxCaplen}-byte limit`);
        const f = this.ifaces[id]!;
        // Unlike a classic record, libpcap's sf-pcapng.c refuses a packet
        // block's caplen over the snaplen ("invalid packet capture length").
        if (f.snaplen !== 0 && cap > f.snaplen) return this.contentError(at, len, `record caplen ${cap} exceeds interface ${id}'s snaplen ${f.snaplen}`);
        this.deliver(ifaceTs(f, (BigInt(hi) << 32n) | BigInt(lo)), cap, wire, f.linktype, id, p.subarray(b + 28, b + 28 + cap));
        return true;
      }
      case SPB: {
        if (this.ifaces.length === 0) return this.contentError(at, len, 'simple packet block but the section declared no interface');
        const f = this.ifaces[0]!;
        const wire = rd32(p, b + 8, sw);
        let cap = Math.min(wire, len - 16);
        if (f.snaplen !== 0) cap = Math.min(cap, f.snaplen);
        if (cap > this.opt.maxCaplen) return this.contentError(at, len, `record caplen ${cap} exceeds the ${this.opt.maxCaplen}-byte limit`);
        // no timestamp of its own: the previous packet's (0 before any)
        this.deliver(this.haveTs ? this.lastTs : 0n, cap, wire, f.linktype, 0, p.subarray(b + 12, b + 12 + cap));
        return true;
      }
      default: // name resolution, statistics, secrets, custom and unknown blocks
        return true;
    }
  }

  // native plausible_classic(): whether the classic record header at h could
  // be a real one: a caplen the reader accepts (up to maxCaplen: one over the
  // file's snaplen is read too, so it may be a landing point), caplen <=
  // wirelen <= 1 MiB, a
  // valid fraction of a second and, when a reference time is known, a
  // timestamp within a day of it. Returns its timestamp, or null.
  private plausibleClassic(p: Uint8Array, h: number, haveRef: boolean, ref: bigint): bigint | null {
    const sw = this.swap;
    const sec = rd32(p, h, sw);
    const frac = rd32(p, h + 4, sw);
    const cap = rd32(p, h + 8, sw);
    const wire = rd32(p, h + 12, sw);
    const max = this.opt.maxCaplen;
    if (cap > max || cap > wire || wire > Math.max(PLAUSIBLE_WIRE, max)) return null;
    if (frac >= (this.ns ? 1_000_000_000 : 1_000_000)) return null;
    const t = BigInt(sec) * 1_000_000_000n + BigInt(frac * (this.ns ? 1 : 1000));
    if (haveRef && (t > ref + DAY_NS || t < ref - DAY_NS)) return null;
    return t;
  }

  // native resync_classic(): classic pcap after a bad record: byte by byte to
  // a plausible header whose successor is plausible too (or that ends exactly
  // at EOF).
  private resyncClassic(p: Uint8Array, o: number, n: number, eof: boolean): number {
    for (let i = 0; ; i++) {
      const avail = n - i;
      if (avail < 16) {
        const used = eof ? n : i; // at EOF no header can start here
        if (!eof && avail) this.needOut = 16;
        this.skippedBytes_ += used;
        return used;
      }
      const t = this.plausibleClassic(p, o + i, this.haveTs, this.lastTs);
      if (t === null) continue;
      const rec = 16 + rd32(p, o + i + 8, this.swap);
      if (avail >= rec + 16) {
        if (this.plausibleClassic(p, o + i + rec, true, t) === null) continue;
      } else if (eof) {
        if (avail !== rec) continue;
      } else {
        this.needOut = rec + 16;
        this.skippedBytes_ += i;
        return i;
      }
      this.skippedBytes_ += i;
      this.mode = Mode.Classic;
      return i;
    }
  }

  // native resync_ng(): pcapng after a bad block: on 4-byte file alignment to
  // a known block type with a sane length whose trailer matches.
  private resyncNg(p: Uint8Array, o: number, n: number, eof: boolean): number {
    for (let i = (4 - (this.offset_ & 3)) & 3; ; i += 4) {
      if (i >= n) {
        this.skippedBytes_ += n;
        return n;
      }
      const avail = n - i;
      if (avail < 12) {
        const used = eof ? n : i;
        if (!eof) this.needOut = 12;
        this.skippedBytes_ += used;
        return used;
      }
      const b = o + i;
      const type = rd32(p, b, this.swap);
      let sw = this.swap;
      if (type === SHB) {
        const bom = rd32(p, b + 8, false);
        if (bom === BOM) sw = false;
        else if (bom === BOM_SWAPPED) sw = true;
        else continue;
      } else if (!knownBlock(type)) {
        continue;
      }
      const len = rd32(p, b + 4, sw);
      if (len < minBlockLen(type) || len % 4 || len > this.opt.maxBlockLen) continue;
      if (avail < len) {
        if (eof) continue;
        this.needOut = len;
        this.skippedBytes_ += i;
        return i;
      }
      if (rd32(p, b + len - 4, sw) !== len) continue;
      this.skippedBytes_ += i;
      this.mode = Mode.Ng;
      return i;
    }
  }
}

// native iface_ts(): an interface's timestamp units to ns since the epoch,
// wrapping as the native's uint64 arithmetic does rather than overflowing.
function ifaceTs(f: Iface, ts: bigint): bigint {
  let ns: bigint;
  if (f.tsKind === TsKind.Mul) ns = (ts * f.tsFactor) & U64;
  else if (f.tsKind === TsKind.Div) ns = ts / f.tsFactor;
  else ns = ((ts * 1_000_000_000n) >> f.tsShift) & U64;
  return BigInt.asIntN(64, ns + f.tsOffsetNs);
}
