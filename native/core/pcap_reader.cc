#include "pcap_reader.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace labtel {

namespace {

constexpr uint32_t kShb = 0x0A0D0D0A;  // the same in both byte orders
constexpr uint32_t kIdb = 1, kPb = 2, kSpb = 3, kNrb = 4, kIsb = 5, kEpb = 6;
constexpr uint32_t kJournal = 9, kDsb = 10, kCustom = 0x00000BAD, kCustomNoCopy = 0x40000BAD;
constexpr uint32_t kBom = 0x1A2B3C4D;
constexpr uint32_t kMagicUs = 0xA1B2C3D4, kMagicNs = 0xA1B23C4D;
constexpr int64_t kDayNs = 86400LL * 1000000000LL;
constexpr uint32_t kPlausibleWire = 1u << 20;  // resync: the largest believable wire length

inline uint16_t rd16(const uint8_t* p, bool swap) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return swap ? __builtin_bswap16(v) : v;
}
inline uint32_t rd32(const uint8_t* p, bool swap) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return swap ? __builtin_bswap32(v) : v;
}
inline uint64_t rd64(const uint8_t* p, bool swap) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return swap ? __builtin_bswap64(v) : v;
}

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char b[256];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(b, sizeof b, f, ap);
  va_end(ap);
  return b;
}

// The smallest total length of a block of this type: 12 bytes of framing
// plus its fixed fields.
uint32_t min_block_len(uint32_t type) {
  switch (type) {
    case kShb: return 28;
    case kIdb: return 20;
    case kPb:
    case kEpb: return 32;
    case kSpb: return 16;
    case kIsb: return 24;
    default: return 12;
  }
}

// Block types a resynchronization scan may land on.
bool known_block(uint32_t t) {
  switch (t) {
    case kShb: case kIdb: case kPb: case kSpb: case kNrb: case kIsb: case kEpb:
    case kJournal: case kDsb: case kCustom: case kCustomNoCopy: return true;
    default: return false;
  }
}

const char* block_name(uint32_t type) {
  switch (type) {
    case kShb: return "section header block";
    case kIdb: return "interface description block";
    case kEpb: return "enhanced packet block";
    case kSpb: return "simple packet block";
    case kPb: return "packet block";
    default: return "pcapng block";
  }
}

// What the first bytes of a file that is not a capture look like.
std::string not_a_capture(const uint8_t* p, size_t n) {
  std::string hex;
  for (size_t i = 0; i < n && i < 4; i++) hex += fmt(i ? " %02x" : "%02x", p[i]);
  const char* hint = "";
  if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) hint = "; gzip-compressed? decompress it first";
  else if (n >= 4 && std::memcmp(p, "\xa1\xb2\xcd\x34", 4) == 0) hint = "; modified (Kuznetzov) pcap is not supported";
  return "not a pcap or pcapng capture (starts with " + hex + hint + ")";
}

struct NullSink final : PacketSink {
  void packet(const Packet&) override {}
};

// For finish() before any feed(): nothing is delivered then anyway.
PacketSink& null_sink() {
  static NullSink s;  // stateless
  return s;
}

}  // namespace

CaptureReader::CaptureReader(ReaderOptions o) : opt_(o) {
  // The longest byte run one step may need to see at once: a pcapng block, or
  // a classic record header + data + the next header (resync lookahead).
  max_need_ = std::max<size_t>({24, size_t(opt_.max_block_len), size_t(opt_.max_caplen) + 32});
}

const char* CaptureReader::format() const { return kind_ == 1 ? "pcap" : kind_ == 2 ? "pcapng" : ""; }

FeedResult CaptureReader::result() const {
  FeedResult r;
  r.ok = mode_ != kFailed;
  if (!r.ok) {
    r.error_offset = error_offset_;
    r.error = error_;
  }
  r.skipped_bytes = skipped_bytes_;
  r.skipped_records = skipped_records_;
  r.records_over_snaplen = over_snaplen_;
  return r;
}

// Records the first fatal error; everything after it is refused.
void CaptureReader::fail(uint64_t at, std::string msg) {
  if (mode_ == kFailed) return;
  mode_ = kFailed;
  error_offset_ = at;
  error_ = std::move(msg);
}

// A record whose framing cannot be trusted at p+off. Returns the bytes used.
size_t CaptureReader::bad(size_t off, std::string msg, size_t skip) {
  if (!opt_.skip_bad) {
    fail(offset_ + off, std::move(msg));
    return off;
  }
  skipped_records_++;
  skipped_bytes_ += skip;
  mode_ = mode_ == kClassic ? kResyncClassic : kResyncNg;
  return off + skip;
}

// A well-framed pcapng block whose contents are wrong: skip exactly it.
bool CaptureReader::content_error(uint64_t at, uint32_t len, std::string msg) {
  if (!opt_.skip_bad) {
    fail(at, std::move(msg));
    return false;
  }
  skipped_records_++;
  skipped_bytes_ += len;
  return true;
}

// The input ended inside a record. Returns the bytes used.
size_t CaptureReader::truncated(size_t off, size_t have, size_t need, const char* what) {
  if (!opt_.skip_bad) {
    fail(offset_ + off, fmt("truncated %s: input ends after %zu of its %zu bytes", what, have, need));
    return off;
  }
  skipped_records_++;
  skipped_bytes_ += have;
  return off + have;
}

// Appends to the carry buffer, first dropping its consumed front when that
// is at least half of it (so each byte is moved O(1) times and the buffer
// stays under 2 * max_need_).
void CaptureReader::append(const uint8_t* p, size_t n) {
  if (bpos_ > 0 && bpos_ * 2 >= buf_.size()) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<ptrdiff_t>(bpos_));
    bpos_ = 0;
  }
  // The buffer grows as records need it (doubling: a handful of steps once
  // per reader). Reserving room for the largest record up front cost every
  // reader that ever carried a byte 0.5 MiB, and the fuzzer most of its time.
  if (buf_.capacity() == 0) buf_.reserve(4096);
  buf_.insert(buf_.end(), p, p + n);
}

void CaptureReader::deliver(const Packet& p) {
  sink_->packet(p);
  packets_++;
  have_ts_ = true;
  last_ts_ = p.ts_ns;
}

FeedResult CaptureReader::feed(const uint8_t* data, size_t len, PacketSink& sink) {
  sink_ = &sink;
  if (finished_ || mode_ == kFailed) return result();
  size_t pos = 0;
  // Bytes carried from earlier chunks: top them up to what the next step
  // needs, and run steps on the buffer until it is used up.
  while (bpos_ < buf_.size() && mode_ != kFailed) {
    size_t have = buf_.size() - bpos_;
    if (have < need_) {
      size_t take = std::min(need_ - have, len - pos);
      if (take) append(data + pos, take);
      pos += take;
      have += take;
      if (have < need_) return result();  // the whole chunk went to the buffer
    }
    size_t need;
    size_t used = step(buf_.data() + bpos_, have, false, &need);
    bpos_ += used;
    if (bpos_ == buf_.size()) {
      buf_.clear();
      bpos_ = 0;
      need_ = 0;
    } else {
      need_ = need;
    }
  }
  // The rest of the chunk in place; a record cut by its end is carried.
  while (pos < len && mode_ != kFailed) {
    size_t need;
    size_t used = step(data + pos, len - pos, false, &need);
    pos += used;
    if (need) {
      append(data + pos, len - pos);
      need_ = need;
      break;
    }
  }
  return result();
}

FeedResult CaptureReader::finish(PacketSink& sink) {
  sink_ = &sink;
  return finish();
}

FeedResult CaptureReader::finish() {
  if (finished_) return result();
  finished_ = true;
  if (!sink_) sink_ = &null_sink();
  while (mode_ != kFailed) {
    size_t have = buf_.size() - bpos_;
    if (have == 0) {
      if (mode_ == kDetect) fail(offset_, "empty input: not a pcap or pcapng capture");
      break;
    }
    size_t need;
    bpos_ += step(buf_.data() + bpos_, have, true, &need);
  }
  std::vector<uint8_t>().swap(buf_);
  bpos_ = 0;
  need_ = 0;
  return result();
}

// One run() with the progress guarantee checked: it consumed bytes, changed
// mode, failed, or asks for more bytes than it was given (never at EOF).
size_t CaptureReader::step(const uint8_t* p, size_t n, bool eof, size_t* need) {
  *need = 0;
  Mode before = mode_;
  size_t used = run(p, n, eof, need);
  offset_ += used;
  if (mode_ == kFailed) {
    *need = 0;
  } else if (*need ? (eof || *need <= n - used) : (used == 0 && mode_ == before)) {
    fail(offset_, "internal error: the capture reader made no progress");
    *need = 0;
  }
  return used;
}

size_t CaptureReader::run(const uint8_t* p, size_t n, bool eof, size_t* need) {
  switch (mode_) {
    case kDetect: return run_detect(p, n, eof, need);
    case kClassic:
      if (swap_) return ns_ ? run_classic<true, true>(p, n, eof, need) : run_classic<true, false>(p, n, eof, need);
      return ns_ ? run_classic<false, true>(p, n, eof, need) : run_classic<false, false>(p, n, eof, need);
    case kNg: return run_ng(p, n, eof, need);
    case kResyncClassic: return resync_classic(p, n, eof, need);
    case kResyncNg: return resync_ng(p, n, eof, need);
    case kFailed: break;
  }
  return 0;
}

// The file header: a classic pcap header is consumed here; a pcapng section
// header is left to run_ng.
size_t CaptureReader::run_detect(const uint8_t* p, size_t n, bool eof, size_t* need) {
  if (n < 4) {
    if (!eof) {
      *need = 4;
      return 0;
    }
    fail(0, fmt("input is only %zu bytes: not a pcap or pcapng capture", n));
    return 0;
  }
  uint32_t m = rd32(p, false);
  if (m == kShb) {
    kind_ = 2;
    mode_ = kNg;
    return 0;
  }
  bool swap;
  if (m == kMagicUs || m == kMagicNs) swap = false;
  else if (m == __builtin_bswap32(kMagicUs) || m == __builtin_bswap32(kMagicNs)) swap = true;
  else {
    fail(0, not_a_capture(p, n));
    return 0;
  }
  kind_ = 1;
  if (n < 24) {
    if (!eof) {
      *need = 24;
      return 0;
    }
    fail(0, fmt("truncated pcap file header: input ends after %zu of its 24 bytes", n));
    return 0;
  }
  uint16_t major = rd16(p + 4, swap), minor = rd16(p + 6, swap);
  if (major != 2) {
    fail(0, fmt("unsupported pcap version %u.%u", major, minor));
    return 0;
  }
  swap_ = swap;
  ns_ = rd32(p, swap) == kMagicNs;
  uint32_t snaplen = rd32(p + 16, swap);
  linktype_ = rd32(p + 20, swap) & 0x03FFFFFF;  // the upper bits describe the FCS
  // libpcap's snapshot (pcap_adjust_snapshot): a snaplen of 0 or above
  // INT_MAX stands for the link type's maximum, which max_caplen bounds.
  cut_ = snaplen == 0 || snaplen > 0x7FFFFFFFu ? UINT32_MAX : snaplen;
  mode_ = kClassic;
  return 24;
}

// The hot loop for classic pcap: records in place, one sink call each.
// Lengths as libpcap's sf-pcap.c reads them: a caplen over the bound
// (max_caplen; libpcap's is the link type's maximum snaplen, 262144 for
// all but a few link types) is refused whatever the header's snaplen says;
// a caplen over the header's snaplen alone is read, delivered cut to the
// snaplen with the rest of the record skipped, and counted.
template <bool kSwap, bool kNs>
size_t CaptureReader::run_classic(const uint8_t* p, size_t n, bool eof, size_t* need) {
  PacketSink& sink = *sink_;
  const uint32_t limit = opt_.max_caplen, cut = cut_;
  Packet pkt;
  pkt.linktype = linktype_;
  pkt.interface_id = 0;
  pkt.ts_ns = last_ts_;
  size_t off = 0;
  uint64_t count = 0, over = 0;
  size_t ret;
  // Packets go to the sink kBatch at a time, in order, and always before
  // anything else happens (an error, the end of this step).
  constexpr size_t kBatch = 16;
  Packet batch[kBatch];
  size_t nb = 0;
  auto hand = [&] {
    if (nb) sink.packets(batch, nb);
    nb = 0;
  };
  for (;;) {
    size_t avail = n - off;
    if (avail < 16) {
      hand();
      ret = off;
      if (avail == 0) break;
      if (eof) ret = truncated(off, avail, 16, "pcap record header");
      else *need = 16;
      break;
    }
    uint32_t h[4];
    std::memcpy(h, p + off, 16);
    if (kSwap) {
      for (uint32_t& x : h) x = __builtin_bswap32(x);
    }
    if (h[2] > limit) {
      hand();
      std::string why = fmt("record caplen %u exceeds the %u-byte limit", h[2], limit);
      // Packets so far count before the mode changes.
      packets_ += count;
      over_snaplen_ += over;
      if (count) {
        have_ts_ = true;
        last_ts_ = pkt.ts_ns;
      }
      return bad(off, std::move(why), 1);
    }
    size_t rec = 16 + size_t(h[2]);
    if (avail < rec) {
      hand();
      ret = off;
      if (eof) ret = truncated(off, avail, rec, "pcap record");
      else *need = rec;
      break;
    }
    pkt.ts_ns = int64_t(h[0]) * 1000000000 + int64_t(h[1]) * (kNs ? 1 : 1000);
    pkt.caplen = h[2];
    if (h[2] > cut) {  // libpcap hands on the first snaplen bytes
      pkt.caplen = cut;
      over++;
    }
    pkt.wirelen = h[3];
    pkt.data = p + off + 16;
    batch[nb++] = pkt;
    if (nb == kBatch) hand();
    count++;
    off += rec;
  }
  packets_ += count;
  over_snaplen_ += over;
  if (count) {
    have_ts_ = true;
    last_ts_ = pkt.ts_ns;
  }
  return ret;
}

// Blocks in place: framing checked (length bounds, alignment, trailer)
// before the block is looked at, then ng_block() handles its contents.
size_t CaptureReader::run_ng(const uint8_t* p, size_t n, bool eof, size_t* need) {
  size_t off = 0;
  while (mode_ == kNg) {
    size_t avail = n - off;
    if (avail == 0) break;
    const uint8_t* b = p + off;
    if (avail < 8) {
      if (eof) return truncated(off, avail, 8, "pcapng block header");
      *need = 8;
      break;
    }
    uint32_t type = rd32(b, swap_);
    bool sw = swap_;
    if (type == kShb) {
      if (avail < 12) {
        if (eof) return truncated(off, avail, 12, "section header block");
        *need = 12;
        break;
      }
      uint32_t bom = rd32(b + 8, false);
      if (bom == kBom) sw = false;
      else if (bom == __builtin_bswap32(kBom)) sw = true;
      else
        return bad(off, fmt("pcapng section header has an unknown byte-order magic %02x %02x %02x %02x",
                            b[8], b[9], b[10], b[11]), 4);
    }
    uint32_t len = rd32(b + 4, sw);
    const char* name = block_name(type);
    if (len < 12) return bad(off, fmt("%s length %u is below the 12-byte minimum", name, len), 4);
    if (len % 4) return bad(off, fmt("%s length %u is not a multiple of 4", name, len), 4);
    if (len < min_block_len(type))
      return bad(off, fmt("%s length %u is below its %u-byte minimum", name, len, min_block_len(type)), 4);
    if (len > opt_.max_block_len)
      return bad(off, fmt("%s length %u exceeds the %u-byte limit", name, len, opt_.max_block_len), 4);
    if (avail < len) {
      if (eof) return truncated(off, avail, len, name);
      *need = len;
      break;
    }
    uint32_t trailer = rd32(b + len - 4, sw);
    if (trailer != len)
      return bad(off, fmt("%s trailer length %u disagrees with its header length %u", name, trailer, len), 4);
    if (!ng_block(b, type, len, sw, offset_ + off)) return off;
    off += len;
  }
  return off;
}

// The contents of one well-framed pcapng block at stream offset `at`.
// Returns false after a fatal error.
bool CaptureReader::ng_block(const uint8_t* b, uint32_t type, uint32_t len, bool sw, uint64_t at) {
  if (type == kShb) {
    uint16_t major = rd16(b + 12, sw), minor = rd16(b + 14, sw);
    swap_ = sw;
    ifaces_.clear();
    section_ok_ = major == 1;
    if (!section_ok_) return content_error(at, len, fmt("unsupported pcapng version %u.%u", major, minor));
    return true;
  }
  if (!section_ok_) {  // only with skip_bad: the section's blocks go unread
    skipped_records_++;
    skipped_bytes_ += len;
    return true;
  }
  switch (type) {
    case kIdb: {
      if (ifaces_.size() >= opt_.max_interfaces)
        return content_error(at, len, fmt("section declares more than %u interfaces", opt_.max_interfaces));
      Iface f{};
      f.linktype = rd16(b + 8, sw);
      f.snaplen = rd32(b + 12, sw);
      uint8_t resol = 6;
      uint64_t tsoff = 0;
      bool saw_resol = false, saw_off = false;
      const size_t idx = ifaces_.size();
      // Options as libpcap's sf-pcapng.c reads them: it refuses an interface
      // whose options it cannot read, or whose timestamp options are not
      // exactly one of each size (the timestamps would be a guess). Both
      // ends are multiples of 4 here, so an option header always fits.
      size_t o = 16, end = len - 4;
      while (o < end) {
        uint16_t code = rd16(b + o, sw), olen = rd16(b + o + 2, sw);
        if (code == 0) {
          if (olen != 0) return content_error(at, len, fmt("interface %zu has an end-of-options option of length %u", idx, olen));
          break;
        }
        if (olen > end - o - 4) return content_error(at, len, fmt("interface %zu has an option running past its block", idx));
        if (code == 9) {
          if (olen != 1) return content_error(at, len, fmt("interface %zu has an if_tsresol option of length %u, not 1", idx, olen));
          if (saw_resol) return content_error(at, len, fmt("interface %zu has more than one if_tsresol option", idx));
          saw_resol = true;
          resol = b[o + 4];
        } else if (code == 14) {
          if (olen != 8) return content_error(at, len, fmt("interface %zu has an if_tsoffset option of length %u, not 8", idx, olen));
          if (saw_off) return content_error(at, len, fmt("interface %zu has more than one if_tsoffset option", idx));
          saw_off = true;
          tsoff = rd64(b + o + 4, sw);
        }
        o += 4 + ((size_t(olen) + 3) & ~size_t(3));
      }
      unsigned v = resol & 0x7f;
      if (resol & 0x80) {  // 2^-v seconds
        if (v > 63) return content_error(at, len, fmt("interface %zu has an unsupported if_tsresol 0x%02x", idx, resol));
        f.ts_kind = kTsShift;
        f.ts_shift = uint8_t(v);
      } else {  // 10^-v seconds; libpcap refuses past 10^-19 (the last power of 10 a uint64 holds)
        if (v > 19) return content_error(at, len, fmt("interface %zu has an unsupported if_tsresol 0x%02x", idx, resol));
        uint64_t x = 1;
        for (unsigned i = 0; i < (v <= 9 ? 9 - v : v - 9); i++) x *= 10;
        f.ts_kind = v <= 9 ? kTsMul : kTsDiv;
        f.ts_factor = x;
      }
      f.ts_offset_ns = tsoff * 1000000000ull;
      ifaces_.push_back(f);
      return true;
    }
    case kEpb:
    case kPb: {
      const char* name = block_name(type);
      uint32_t id = type == kEpb ? rd32(b + 8, sw) : rd16(b + 8, sw);
      uint32_t hi = rd32(b + 12, sw), lo = rd32(b + 16, sw), cap = rd32(b + 20, sw), wire = rd32(b + 24, sw);
      if (id >= ifaces_.size())
        return content_error(at, len, fmt("%s names interface %u but the section declared %zu", name, id, ifaces_.size()));
      if (cap > len - 32)
        return content_error(at, len, fmt("%s caplen %u exceeds the %u bytes its block holds", name, cap, len - 32));
      if (cap > opt_.max_caplen)
        return content_error(at, len, fmt("record caplen %u exceeds the %u-byte limit", cap, opt_.max_caplen));
      const Iface& f = ifaces_[id];
      // Unlike a classic record, libpcap's sf-pcapng.c refuses a packet
      // block's caplen over the snaplen ("invalid packet capture length").
      if (f.snaplen != 0 && cap > f.snaplen)
        return content_error(at, len, fmt("record caplen %u exceeds interface %u's snaplen %u", cap, id, f.snaplen));
      Packet pkt{iface_ts(f, uint64_t(hi) << 32 | lo), cap, wire, f.linktype, id, b + 28};
      deliver(pkt);
      return true;
    }
    case kSpb: {
      if (ifaces_.empty()) return content_error(at, len, "simple packet block but the section declared no interface");
      const Iface& f = ifaces_[0];
      uint32_t wire = rd32(b + 8, sw);
      uint32_t cap = std::min(wire, len - 16);
      if (f.snaplen != 0) cap = std::min(cap, f.snaplen);
      if (cap > opt_.max_caplen)
        return content_error(at, len, fmt("record caplen %u exceeds the %u-byte limit", cap, opt_.max_caplen));
      Packet pkt{have_ts_ ? last_ts_ : 0, cap, wire, f.linktype, 0, b + 12};
      untimed_packets_++;
      deliver(pkt);
      return true;
    }
    default:  // name resolution, statistics, secrets, custom and unknown blocks
      return true;
  }
}

// An interface's timestamp units to ns since the epoch (wrapping on absurd
// values rather than overflowing).
int64_t CaptureReader::iface_ts(const Iface& f, uint64_t ts) const {
  uint64_t ns;
  switch (f.ts_kind) {
    case kTsMul: ns = ts * f.ts_factor; break;
    case kTsDiv: ns = ts / f.ts_factor; break;
    default: ns = uint64_t((static_cast<unsigned __int128>(ts) * 1000000000u) >> f.ts_shift); break;
  }
  return static_cast<int64_t>(ns + f.ts_offset_ns);
}

// Whether the classic record header at h could be a real one: a caplen the
// reader accepts (up to max_caplen: one over the file's snaplen is read too,
// so it may be a landing point), caplen <= wirelen <= 1 MiB, a valid
// fraction of a second and, when a reference time is known, a timestamp
// within a day of it.
bool CaptureReader::plausible_classic(const uint8_t* h, bool have_ref, int64_t ref, int64_t* ts) const {
  uint32_t sec = rd32(h, swap_), frac = rd32(h + 4, swap_), cap = rd32(h + 8, swap_), wire = rd32(h + 12, swap_);
  if (cap > opt_.max_caplen || cap > wire || wire > std::max(kPlausibleWire, opt_.max_caplen)) return false;
  if (frac >= (ns_ ? 1000000000u : 1000000u)) return false;
  int64_t t = int64_t(sec) * 1000000000 + int64_t(frac) * (ns_ ? 1 : 1000);
  if (have_ref && (t > ref + kDayNs || t < ref - kDayNs)) return false;
  *ts = t;
  return true;
}

// Classic pcap after a bad record: byte by byte to a plausible header whose
// successor is plausible too (or that ends exactly at EOF).
size_t CaptureReader::resync_classic(const uint8_t* p, size_t n, bool eof, size_t* need) {
  for (size_t i = 0;; i++) {
    size_t avail = n - i;
    if (avail < 16) {
      size_t used = eof ? n : i;  // at EOF no header can start here
      if (!eof && avail) *need = 16;
      skipped_bytes_ += used;
      return used;
    }
    int64_t t, t2;
    // have_ts_/last_ts_ are from delivered packets: within ±2^62, no overflow.
    if (!plausible_classic(p + i, have_ts_, last_ts_, &t)) continue;
    size_t rec = 16 + size_t(rd32(p + i + 8, swap_));
    if (avail >= rec + 16) {
      if (!plausible_classic(p + i + rec, true, t, &t2)) continue;
    } else if (eof) {
      if (avail != rec) continue;
    } else {
      *need = rec + 16;
      skipped_bytes_ += i;
      return i;
    }
    skipped_bytes_ += i;
    mode_ = kClassic;
    return i;
  }
}

// pcapng after a bad block: on 4-byte file alignment to a known block type
// with a sane length whose trailer matches.
size_t CaptureReader::resync_ng(const uint8_t* p, size_t n, bool eof, size_t* need) {
  size_t i = (4 - (offset_ & 3)) & 3;
  for (;; i += 4) {
    if (i >= n) {
      skipped_bytes_ += n;
      return n;
    }
    size_t avail = n - i;
    if (avail < 12) {
      size_t used = eof ? n : i;
      if (!eof) *need = 12;
      skipped_bytes_ += used;
      return used;
    }
    const uint8_t* b = p + i;
    uint32_t type = rd32(b, swap_);
    bool sw = swap_;
    if (type == kShb) {
      uint32_t bom = rd32(b + 8, false);
      if (bom == kBom) sw = false;
      else if (bom == __builtin_bswap32(kBom)) sw = true;
      else continue;
    } else if (!known_block(type)) {
      continue;
    }
    uint32_t len = rd32(b + 4, sw);
    if (len < min_block_len(type) || len % 4 || len > opt_.max_block_len) continue;
    if (avail < len) {
      if (eof) continue;
      *need = len;
      skipped_bytes_ += i;
      return i;
    }
    if (rd32(b + len - 4, sw) != len) continue;
    skipped_bytes_ += i;
    mode_ = kNg;
    return i;
  }
}

}  // namespace labtel
