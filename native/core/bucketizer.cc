#include "bucketizer.h"

#include <algorithm>
#include <cstring>
#include <random>

// The bucket stage's per-packet functions, inlined into consume()'s loop
// (GCC's -O2 heuristics left them as calls).
#define LABTEL_HOT inline __attribute__((always_inline))

namespace labtel {

namespace {

constexpr int64_t kMaxT = int64_t(1) << 60;     // |t_mono_ns| is clamped here (36 years)
constexpr int64_t kMaxSpan = int64_t(1) << 60;  // bucket_ns, lateness_ns, flow_idle_ns
constexpr int64_t kMaxOpen = 65536;             // buckets open at once
constexpr size_t kReadyBatch = 65536;           // zero rows materialized per ready()
constexpr size_t kMaxSketches = 64;             // HLL sketches (4 KiB each) in use at once
// Gap counts saturate here: 2^53 - 1, so that the JSON the addon writes and
// the doubles the TS side writes from say the same number.
constexpr uint64_t kMaxCount = (uint64_t(1) << 53) - 1;

inline uint64_t sat_add(uint64_t a, uint64_t b) { return a >= kMaxCount || b >= kMaxCount - a ? kMaxCount : a + b; }

inline int64_t clamp_t(int64_t t) { return t > kMaxT ? kMaxT : t < -kMaxT ? -kMaxT : t; }

// Floor division for b > 0, so negative times fall in the bucket below.
inline int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return a % b < 0 ? q - 1 : q;
}

// Row class of an IP protocol: 0 tcp, 1 udp, 2 icmp/icmpv6, 3 other.
struct ProtoClass {
  uint8_t c[256];
  constexpr ProtoClass() : c() {
    for (int i = 0; i < 256; i++) c[i] = 3;
    c[6] = 0;
    c[17] = 1;
    c[1] = c[58] = 2;
  }
};
constexpr ProtoClass kProtoClass;

}  // namespace

namespace {

// The 6-word hash key: from the configured seed, or random per instance.
std::array<uint64_t, 6> hash_key(uint64_t s) {
  if (s == 0) {
    std::random_device rd;
    s = uint64_t(rd()) << 32 ^ rd();
  }
  std::array<uint64_t, 6> k;
  for (uint64_t& x : k) x = mix64(s += 0x9e3779b97f4a7c15ull) | 1;
  return k;
}

}  // namespace

PacketSummarizer::PacketSummarizer(const BucketConfig& c, const uint64_t seeds[6]) {
  std::memcpy(seed_, seeds, sizeof seed_);
  for (const auto& a : c.guest_ips) {
    Addr x;
    std::memcpy(&x, a.data(), 16);
    guest_ips_.push_back(x);
  }
  for (const auto& a : c.bridge_ips) {
    Addr x;
    std::memcpy(&x, a.data(), 16);
    bridge_ips_.push_back(x);
  }
  for (const auto& m : c.guest_macs) {
    uint64_t x = 0;
    std::memcpy(&x, m.data(), 6);
    guest_macs_.push_back(x);
  }
}

Bucketizer::Bucketizer(BucketConfig c)
    : cfg_(std::move(c)),
      sum_(cfg_, hash_key(cfg_.hash_seed).data()),
      sets_{BucketSet(cfg_.distinct_exact_max), BucketSet(cfg_.distinct_exact_max),
            BucketSet(cfg_.distinct_exact_max)},
      flow_table_(cfg_.flow_table_max) {
  b_ = std::min(std::max<int64_t>(cfg_.bucket_ns, 1), kMaxSpan);
  l_ = std::min(std::max<int64_t>(cfg_.lateness_ns, 0), kMaxSpan);
  if (l_ / b_ + 2 > kMaxOpen) l_ = (kMaxOpen - 2) * b_;
  single_ = l_ == 0;
  idle_ = std::min(std::max<int64_t>(cfg_.flow_idle_ns, 0), kMaxSpan);
  cfg_.max_empty_buckets = std::min(cfg_.max_empty_buckets, kMaxCount);
  cfg_.fill_credit_per_packet = std::min<uint64_t>(cfg_.fill_credit_per_packet, 1u << 20);
  fill_left_ = cfg_.max_empty_buckets;
  trust(cfg_.trusted_until_ns);
  size_t ring = 1;
  while (ring < size_t(l_ / b_ + 2)) ring <<= 1;
  ring_.resize(ring);
  ring_mask_ = ring - 1;
  if (single_) {
    port_bits_.assign(65536 / 64, 0);
    port_list_.assign(65536 + 1, 0);
  }
  if (cfg_.have_origin) origin_ = cfg_.origin_wall_ns;
}

Bucketizer::~Bucketizer() = default;

void Bucketizer::packet(const Packet& p) {
  PacketSummary& x = pending_[npending_++];
  summarize(p, &x);
  prefetch(x);
  if (npending_ == kPending) drain_pending();
}

void Bucketizer::drain_pending() {
  size_t n = npending_;
  npending_ = 0;
  for (size_t i = 0; i < n; i++) consume_one(pending_[i]);
}

void Bucketizer::consume(const PacketSummary* s, size_t n) {
  drain_pending();
  for (size_t i = 0; i < n; i++) {
    if (i + kAhead < n) prefetch(s[i + kAhead]);
    consume_one(s[i]);
  }
}

// Starts the memory loads consume_one() will need for x.
LABTEL_HOT void Bucketizer::prefetch(const PacketSummary& x) const {
  if (!(x.bits & kSumIp)) return;
  if (single_) {
    flow_table_.prefetch(x.flow);
  } else {
    sets_[kFlows].prefetch(x.flow);
    sets_[kPorts].prefetch(sum_.port_hash(x.dst_port));
  }
  sets_[kPeers].prefetch(x.peer);
}

// The first packet opens the series (and is t = 0 without an origin).
void Bucketizer::start(int64_t ts_ns) {
  if (!cfg_.have_origin) origin_ = ts_ns;
  int64_t t0 = clamp_t(static_cast<int64_t>(uint64_t(ts_ns) - uint64_t(origin_)));
  next_open_ = floor_div(t0 - l_, b_);
  hi_ = floor_div(t0, b_);
  now_ = t0;
  started_ = true;
}

// The slow path of consume_one(): closes buckets the clock has passed,
// redirects a late packet to the oldest open bucket, and re-arms the fast
// window.
Bucketizer::Acc* Bucketizer::locate(int64_t t, int64_t* kp) {
  int64_t k = floor_div(t, b_);
  if (t > now_) {
    now_ = t;
    int64_t kend = floor_div(now_ - l_, b_);
    if (kend > next_open_) close_until(kend);
  }
  bool late = k < next_open_;
  if (late) k = next_open_;
  if (k > hi_) hi_ = k;
  Acc& a = slot(k);
  a.late += late;
  if (k == hi_ && !late) {
    fast_k_ = k;
    fast_acc_ = &a;
    fast_lo_ = k * b_;
    fast_hi_ = std::min((k + 1) * b_, (next_open_ + 1) * b_ + l_);
  }
  *kp = k;
  return &a;
}

uint64_t PacketSummarizer::hash_flow(uint8_t proto, const Addr& s, const Addr& t, uint16_t sp, uint16_t dp) const {
  uint64_t w = uint64_t(proto) << 32 | uint64_t(sp) << 16 | dp;
  return fold_mul(fold_mul(s.lo ^ seed_[0], s.hi ^ seed_[1]) ^ w, fold_mul(t.lo ^ seed_[2], t.hi ^ seed_[3]) ^ seed_[4]);
}

inline unsigned PacketSummarizer::direction(const Addr& src, const Addr& dst, unsigned has_ips, unsigned has_src_mac,
                                            const uint8_t* src_mac, unsigned has_dst_mac, const uint8_t* dst_mac) const {
  unsigned src_guest = 0, dst_guest = 0, src_bridge = 0, dst_bridge = 0, smac_guest = 0, dmac_guest = 0;
  for (const Addr& g : guest_ips_) {
    src_guest |= ((g.lo ^ src.lo) | (g.hi ^ src.hi)) == 0;
    dst_guest |= ((g.lo ^ dst.lo) | (g.hi ^ dst.hi)) == 0;
  }
  for (const Addr& g : bridge_ips_) {
    src_bridge |= ((g.lo ^ src.lo) | (g.hi ^ src.hi)) == 0;
    dst_bridge |= ((g.lo ^ dst.lo) | (g.hi ^ dst.hi)) == 0;
  }
  if (!guest_macs_.empty()) {
    uint8_t sm[8] = {0}, dm[8] = {0};
    std::memcpy(sm, src_mac, 6);
    std::memcpy(dm, dst_mac, 6);
    uint64_t smac, dmac;
    std::memcpy(&smac, sm, 8);
    std::memcpy(&dmac, dm, 8);
    for (uint64_t m : guest_macs_) {
      smac_guest |= m == smac;
      dmac_guest |= m == dmac;
    }
  }
  unsigned out = (has_ips & (src_guest | dst_bridge)) | (has_src_mac & smac_guest);
  unsigned in = (has_ips & (dst_guest | src_bridge)) | (has_dst_mac & dmac_guest);
  return out | ((in & ~out) << 1);  // out (1) wins over in (2)
}

inline void PacketSummarizer::put_hashes(const Addr& src, const Addr& dst, uint8_t proto, uint16_t sp, uint16_t dp,
                                         unsigned dir, PacketSummary* x) const {
  x->flow = hash_flow(proto, src, dst, sp, dp);
  // Both hashes, then a select: a branch on the direction would mispredict.
  uint64_t hs = hash_ip(src), hd = hash_ip(dst);
  uint64_t in_mask = uint64_t(0) - uint64_t(dir == 2);
  x->peer = (hs & in_mask) | (hd & ~in_mask);
  x->peer2 = hs;
}

// Decode, direction, class and hashes: everything that depends on the
// packet alone, written to avoid branches on packet contents.
void PacketSummarizer::summarize_generic(const Packet& p, PacketSummary* x) const {
  Decoded d;
  decode(p, &d);
  Addr src, dst;
  std::memcpy(&src, d.src_ip, 16);
  std::memcpy(&dst, d.dst_ip, 16);
  unsigned ips = d.has_ips;
  unsigned dir = direction(src, dst, ips, d.has_src_mac, d.src_mac, d.has_dst_mac, d.dst_mac);
  bool ip = (d.l3 == L3Kind::ipv4) | (d.l3 == L3Kind::ipv6);
  unsigned c = d.proto_known ? kProtoClass.c[d.ip_proto] : 3u;
  c = ip ? c : d.l3 == L3Kind::arp ? 4u : 5u;
  unsigned ported = (d.ip_proto == 6) | (d.ip_proto == 17);
  unsigned flow = d.proto_known & (!ported | d.has_ports);  // TCP/UDP without ports names no flow
  unsigned counted = ip & d.has_ips;
  x->ts_ns = p.ts_ns;
  x->wirelen = p.wirelen;
  x->dst_port = d.dst_port;
  x->dir = uint8_t(dir);
  x->cls = uint8_t(c);
  x->tcp_flags = d.tcp_flags;  // 0 unless a TCP header was read
  x->bits = uint8_t(unsigned(d.truncated) * kSumTruncated | unsigned(d.malformed) * kSumMalformed |
                    counted * kSumIp | (counted & flow) * kSumFlow | (counted & flow & ported) * kSumPorted);
  put_hashes(src, dst, d.ip_proto, d.src_port, d.dst_port, dir, x);
}

namespace {
inline uint16_t rd_be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
// IPv4 address as decode() maps it (::ffff:a.b.c.d), as the two words Addr holds.
inline void v4_words(const uint8_t* src, uint64_t* lo, uint64_t* hi) {
  uint8_t m[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, src[0], src[1], src[2], src[3]};
  std::memcpy(lo, m, 8);
  std::memcpy(hi, m + 8, 8);
}
}  // namespace

// The common packets summarized straight from their bytes: Ethernet, at
// most one 802.1Q tag, IPv4 without options or fragmentation or IPv6 without
// extension headers, carrying TCP, UDP, or (IPv4) ICMP or (IPv6) ICMPv6, all
// captured and every length consistent. The same checks decode_generic()
// makes (no truncated or malformed flag can arise), and the same summary
// summarize_generic() writes for such a packet (held to it by pcap_tests and
// fuzz_pcap): no Decoded struct filled and read back. False for any other
// packet.
bool PacketSummarizer::summarize_fast(const Packet& pk, PacketSummary* x) const {
  const uint8_t* p = pk.data;
  if (pk.linktype != 1 || pk.caplen < 42) return false;
  uint32_t l3 = 14;
  unsigned et = rd_be16(p + 12);
  if (et == 0x8100) {  // one VLAN tag
    l3 = 18;
    et = rd_be16(p + 16);
  }
  const uint32_t cap = pk.caplen, wire = std::max(pk.wirelen, pk.caplen);
  const uint8_t* ip = p + l3;
  Addr src, dst;
  uint8_t proto;
  uint32_t l4, end;
  if (et == 0x0800) {
    if (cap < l3 + 28 || ip[0] != 0x45) return false;
    if ((ip[6] & 0x3f) != 0 || ip[7] != 0) return false;  // MF or an offset: a fragment
    end = l3 + rd_be16(ip + 2);
    l4 = l3 + 20;
    if (end > wire || end < l4) return false;
    proto = ip[9];
    if (proto == 58) return false;  // ICMPv6 in IPv4: not read as ICMP
    v4_words(ip + 12, &src.lo, &src.hi);
    v4_words(ip + 16, &dst.lo, &dst.hi);
  } else if (et == 0x86DD) {
    if (cap < l3 + 48 || (ip[0] >> 4) != 6) return false;
    uint32_t plen = rd_be16(ip + 4);
    if (plen == 0) return false;  // a jumbogram, or nothing after the header
    l4 = l3 + 40;
    end = l4 + plen;
    if (end > wire) return false;
    proto = ip[6];
    if (proto == 1) return false;  // ICMP in IPv6: not read as ICMPv6
    std::memcpy(&src, ip + 8, 16);
    std::memcpy(&dst, ip + 24, 16);
  } else {
    return false;
  }
  uint8_t flags = 0;
  uint16_t sp = 0, dp = 0;
  uint8_t bits = kSumIp | kSumFlow | kSumPorted;
  if (proto == 6) {
    if (cap < l4 + 20 || l4 + 20 > end) return false;
    uint32_t doff = uint32_t(p[l4 + 12] >> 4) * 4;
    if (doff < 20 || l4 + doff > end) return false;
    flags = p[l4 + 13];
  } else if (proto == 17) {
    if (cap < l4 + 8 || l4 + 8 > end) return false;
    uint32_t ulen = rd_be16(p + l4 + 4);
    if (ulen != 0 && (ulen < 8 || l4 + ulen > end)) return false;
  } else if (proto == 1 || proto == 58) {
    if (cap < l4 + 4 || l4 + 4 > end) return false;
    bits = kSumIp | kSumFlow;  // a flow without ports
  } else {
    return false;
  }
  if (bits & kSumPorted) {
    sp = rd_be16(p + l4);
    dp = rd_be16(p + l4 + 2);
  }
  unsigned dir = direction(src, dst, 1, 1, p + 6, 1, p);
  x->ts_ns = pk.ts_ns;
  x->wirelen = pk.wirelen;
  x->dst_port = dp;
  x->dir = uint8_t(dir);
  x->cls = uint8_t(kProtoClass.c[proto]);
  x->tcp_flags = flags;
  x->bits = bits;
  put_hashes(src, dst, proto, sp, dp, dir, x);
  return true;
}

// The order-dependent half: bucket, counters and distinct sets.
LABTEL_HOT void Bucketizer::consume_one(const PacketSummary& x) {
  packets_++;
  if (!started_) start(x.ts_ns);
  int64_t t = clamp_t(static_cast<int64_t>(uint64_t(x.ts_ns) - uint64_t(origin_)));
  int64_t k;
  Acc* ap;
  if (t >= fast_lo_ && t < fast_hi_) {
    k = fast_k_;
    ap = fast_acc_;
    if (t > now_) now_ = t;
  } else {
    ap = locate(t, &k);
  }
  Acc& a = *ap;
  a.any = true;
  a.pkts[x.dir]++;
  a.bytes[x.dir] += x.wirelen;
  a.cls[x.cls]++;
  a.truncated += x.bits & kSumTruncated;
  a.malformed += (x.bits & kSumMalformed) >> 1;
  unsigned f = x.tcp_flags;
  a.syn += (f & 0x12) == 0x02;
  a.synack += (f & 0x12) == 0x12;
  a.fin += f & 1u;
  a.rst += (f >> 2) & 1u;
  if (!(x.bits & kSumIp)) return;
  if (single_) count_single(a, k, t, x);
  else count_multi(a, k, t, x);
}

// One open bucket: the flow table's mark says whether (and with which
// direction) a flow was counted in this bucket, so a flow's later packets
// skip the flow, port and peer sets.
LABTEL_HOT void Bucketizer::count_single(Acc& a, int64_t k, int64_t t, const PacketSummary& x) {
  if (x.bits & kSumFlow) {
    FlowTable::Touch tc = flow_table_.touch(x.flow, t, idle_, k);
    if (__builtin_expect(tc.evicted, 0) && !flow_table_.watched_evictions().empty() && a.sketch[kFlows] < 0) {
      // More flows in this bucket than the table keeps: from here on the
      // bucket's flow count is estimated, from all the flows it counted.
      int32_t sk = new_sketch();
      if (sk >= 0) {
        a.sketch[kFlows] = sk;
        Hll& s = *sketches_[size_t(sk)];
        flow_table_.for_each([&s, k](uint64_t fh, int64_t m) {
          if ((m >> 2) == k) s.add(fh);
        });
        for (uint64_t fh : flow_table_.watched_evictions()) s.add(fh);
      }
    }
    int64_t& m = flow_table_.mark(tc.slot);
    int64_t want = k * 4 + x.dir;
    unsigned fresh_here = (m >> 2) != k;  // this flow's first packet in this bucket
    a.distinct[kFlows] += fresh_here;
    a.new_flows += fresh_here & unsigned(tc.fresh);
    if (__builtin_expect(a.sketch[kFlows] >= 0, 0) && fresh_here) sketches_[size_t(a.sketch[kFlows])]->add(x.flow);
    add_port(a, x.dst_port, fresh_here & ((x.bits & kSumPorted) != 0));
    bool same = m == want;
    m = want;
    if (same) return;  // its peers were counted with this direction already
  }
  distinct(kPeers, a, k, x.peer);
  if (x.dir == kUnmatched) distinct(kPeers, a, k, x.peer2);
}

// Several open buckets: flows, ports and peers in BucketSets keyed by
// bucket; the flow table only decides new_flows.
void Bucketizer::count_multi(Acc& a, int64_t k, int64_t t, const PacketSummary& x) {
  if (x.bits & kSumFlow) {
    bool fresh_here = distinct(kFlows, a, k, x.flow);
    FlowTable::Touch tc = flow_table_.touch(x.flow, t, idle_, INT64_MAX);
    a.new_flows += fresh_here & tc.fresh;
    if (x.bits & kSumPorted) distinct(kPorts, a, k, sum_.port_hash(x.dst_port));
  }
  distinct(kPeers, a, k, x.peer);
  if (x.dir == kUnmatched) distinct(kPeers, a, k, x.peer2);
}

// Single mode's dst port bitmap; `on` = 0 makes it a no-op (branch-free).
LABTEL_HOT void Bucketizer::add_port(Acc& a, uint16_t port, unsigned on) {
  uint64_t& w = port_bits_[port >> 6];
  unsigned added = on & unsigned(~(w >> (port & 63)) & 1u);
  w |= uint64_t(on) << (port & 63);
  port_list_[port_count_] = port;
  port_count_ += added;
  a.distinct[kPorts] += added;
}

int32_t Bucketizer::new_sketch() {
  if (!free_sketches_.empty()) {
    int32_t sk = free_sketches_.back();
    free_sketches_.pop_back();
    sketches_[size_t(sk)]->clear();
    return sk;
  }
  if (sketches_.size() >= kMaxSketches) return -1;
  sketches_.push_back(std::make_unique<Hll>());
  return static_cast<int32_t>(sketches_.size() - 1);
}

// Counts item h in one of the bucket's distinct sets. Returns whether it
// was not there yet.
LABTEL_HOT bool Bucketizer::distinct(int which, Acc& a, int64_t k, uint64_t h) {
  BucketSet::Result res = sets_[which].insert(h, k);
  if (__builtin_expect(res != BucketSet::kFull, 1)) {
    unsigned added = res == BucketSet::kAdded;
    a.distinct[which] += added;
    a.in_set[which] += added;
    if (__builtin_expect(a.sketch[which] >= 0, 0)) sketches_[size_t(a.sketch[which])]->add(h);
    return added;
  }
  overflow(which, a, k, h);
  return true;
}

// Past the exact limit the bucket's count comes from a sketch seeded with
// its items so far; with no sketch left, each overflowing item counts
// (repeats of those overcount).
void Bucketizer::overflow(int which, Acc& a, int64_t k, uint64_t h) {
  if (a.sketch[which] < 0) {
    int32_t sk = new_sketch();
    if (sk < 0) {
      a.distinct[which]++;
      return;
    }
    a.sketch[which] = sk;
    Hll& s = *sketches_[size_t(sk)];
    sets_[which].for_bucket(k, [&s](uint64_t x) { s.add(x); });
  }
  sketches_[size_t(a.sketch[which])]->add(h);
}

std::vector<BucketRow>& Bucketizer::ready() {
  drain_pending();
  while (!backlog_.empty() && ready_.size() < kReadyBatch) {
    Pending& f = backlog_.front();
    if (!f.zeros) {
      ready_.push_back(f.row);
      backlog_.pop_front();
      continue;
    }
    uint64_t take = std::min<uint64_t>(f.zeros, kReadyBatch - ready_.size());
    for (uint64_t i = 0; i < take; i++) {
      BucketRow z;
      z.t_mono_ns = (f.k + int64_t(i)) * b_;
      ready_.push_back(z);
    }
    f.k += int64_t(take);
    f.zeros -= take;
    if (!f.zeros) backlog_.pop_front();
  }
  return ready_;
}

void Bucketizer::advance(int64_t now_mono_ns) {
  drain_pending();
  if (!started_ || ended_) return;
  int64_t now = clamp_t(now_mono_ns);
  trust(now);
  if (now <= now_) return;
  now_ = now;
  int64_t kend = floor_div(now_ - l_, b_);
  if (kend > next_open_) close_until(kend);
}

bool Bucketizer::flush() {
  drain_pending();
  if (!started_ || ended_ || next_open_ > hi_) return false;
  int64_t end = hi_ + 1;
  close_until(end);
  return end * b_ > now_;
}

const char* Bucketizer::begin(int64_t now_mono_ns) {
  drain_pending();  // a pending packet may have started the series already
  if (ended_) return kEnded;
  if (!cfg_.have_origin) return kNoOrigin;  // without one, t = 0 is the first packet: no clock to begin on
  if (started_) return kStarted;
  int64_t t0 = clamp_t(now_mono_ns);
  // Only k0 is open (no lateness window before it): the capture began in
  // it, so packets stamped earlier are late into it.
  next_open_ = hi_ = floor_div(t0, b_);
  now_ = t0;
  started_ = true;
  emitted_any_ = true;  // the capture covers k0 on: its empty buckets are zero rows
  fast_lo_ = 1;
  fast_hi_ = 0;
  return nullptr;
}

const char* Bucketizer::end(int64_t end_mono_ns, EndResult* out) {
  drain_pending();
  *out = EndResult();
  if (ended_) return kEnded;
  ended_ = true;
  if (!started_) return nullptr;
  int64_t e = clamp_t(end_mono_ns);
  trust(e);
  int64_t k_last = floor_div(e - 1, b_);  // the last bucket starting before e
  if (k_last >= next_open_) {  // lateness is moot: nothing more will come
    close_until(k_last + 1);
    out->last_partial = (k_last + 1) * b_ > e;
  }
  out->packets_after_end = discard_open();
  return nullptr;
}

// end(): drops the open buckets [next_open_, hi_] without rows, releasing
// their set entries and sketches; returns how many packets they held.
uint64_t Bucketizer::discard_open() {
  uint64_t n = 0;
  size_t removed[3] = {0, 0, 0};
  for (int64_t k = next_open_; k <= hi_; k++) {
    Acc& a = slot(k);
    n += a.pkts[kUnmatched] + a.pkts[kOut] + a.pkts[kIn];
    for (int i = 0; i < 3; i++) {
      removed[i] += a.in_set[i];
      if (a.sketch[i] >= 0) free_sketches_.push_back(a.sketch[i]);
    }
    a = Acc();
  }
  int64_t kend = std::max(next_open_, hi_ + 1);
  for (int i = 0; i < 3; i++) sets_[i].close_below(kend, removed[i]);
  if (single_) clear_ports();
  next_open_ = kend;
  fast_lo_ = 1;
  fast_hi_ = 0;
  return n;
}

// Single mode: the port bitmap belonged to the bucket just closed.
void Bucketizer::clear_ports() {
  if (port_count_ > 1024) {
    std::fill(port_bits_.begin(), port_bits_.end(), 0);
  } else {
    for (size_t i = 0; i < port_count_; i++) port_bits_[port_list_[i] >> 6] = 0;
  }
  port_count_ = 0;
}

// Closes buckets [next_open_, kend): those that may hold packets one by one
// (at most the ring's size), the rest past hi_ as one run of empty buckets.
void Bucketizer::close_until(int64_t kend) {
  size_t removed[3] = {0, 0, 0};
  int64_t last = std::min(hi_, kend - 1);
  for (int64_t k = next_open_; k <= last; k++) close_one(k, slot(k), removed);
  int64_t from = std::max(next_open_, hi_ + 1);
  if (kend > from) push_zeros(from, uint64_t(kend - from));
  for (int i = 0; i < 3; i++) sets_[i].close_below(kend, removed[i]);
  if (single_) clear_ports();
  next_open_ = kend;
  fast_lo_ = 1;  // empty window: the next packet takes the slow path
  fast_hi_ = 0;
}

void Bucketizer::close_one(int64_t k, Acc& a, size_t removed[3]) {
  for (int i = 0; i < 3; i++) removed[i] += a.in_set[i];
  bool estimated = false;
  if (a.any) {
    for (int i = 0; i < 3; i++) {
      if (a.sketch[i] < 0) continue;
      estimated = true;
      uint64_t est = sketches_[size_t(a.sketch[i])]->estimate();
      // Single mode's exact flow count may hold evicted flows twice: the
      // sketch is the better figure. Elsewhere the exact count is a floor.
      a.distinct[i] = single_ && i == kFlows ? est : std::max(a.distinct[i], est);
      free_sketches_.push_back(a.sketch[i]);
    }
    BucketRow r;
    r.distinct_estimated = estimated;
    r.t_mono_ns = k * b_;
    r.pkts_in = a.pkts[kIn];
    r.pkts_out = a.pkts[kOut];
    r.bytes_in = a.bytes[kIn];
    r.bytes_out = a.bytes[kOut];
    r.pkts_unmatched = a.pkts[kUnmatched];
    r.bytes_unmatched = a.bytes[kUnmatched];
    r.flows = a.distinct[kFlows];
    r.new_flows = a.new_flows;
    r.peers = a.distinct[kPeers];
    r.dst_ports = a.distinct[kPorts];
    r.tcp_syn = a.syn;
    r.tcp_synack = a.synack;
    r.tcp_fin = a.fin;
    r.tcp_rst = a.rst;
    r.pkts_tcp = a.cls[0];
    r.pkts_udp = a.cls[1];
    r.pkts_icmp = a.cls[2];
    r.pkts_other_ip = a.cls[3];
    r.pkts_arp = a.cls[4];
    r.pkts_non_ip = a.cls[5];
    r.pkts_truncated = a.truncated;
    r.pkts_malformed = a.malformed;
    r.pkts_late = a.late;
    push_row(r);
  } else {
    push_zeros(k, 1);
  }
  a = Acc();
}

// A clock vouches for time up to t: buckets starting before it were seen.
void Bucketizer::trust(int64_t t) {
  if (t == INT64_MIN) return;
  t = clamp_t(t);
  int64_t k = floor_div(t - 1, b_) + 1;  // the first bucket starting at or after t
  if (k > observed_k_) observed_k_ = k;
}

// A row with packets: it carries the gap before it, and earns fill budget.
void Bucketizer::push_row(BucketRow r) {
  emitted_any_ = true;
  r.empty_buckets_skipped = skipped_;
  skipped_ = 0;
  gap_ = 0;
  cut_ = false;
  uint64_t pkts = r.pkts_in + r.pkts_out + r.pkts_unmatched;
  fill_left_ = sat_add(fill_left_, pkts > kMaxCount / (cfg_.fill_credit_per_packet + 1) ? kMaxCount : pkts * cfg_.fill_credit_per_packet);
  append(r);
}

void Bucketizer::append(const BucketRow& r) {
  if (backlog_.empty()) ready_.push_back(r);
  else backlog_.push_back(Pending{0, 0, r});
}

void Bucketizer::skip(uint64_t n) {
  skipped_ = sat_add(skipped_, n);
  skipped_total_ = sat_add(skipped_total_, n);
}

// n empty buckets from k (after the first row): those a clock saw are zero
// rows; the others are zero rows while the gap is at most max_empty_buckets
// long and the fill budget lasts, and skipped (counted) from there to the
// next row with packets. With fill_empty off every one is skipped.
void Bucketizer::push_zeros(int64_t k, uint64_t n) {
  if (!emitted_any_ || n == 0) return;
  if (!cfg_.fill_empty) return skip(n);
  if (k < observed_k_) {
    uint64_t seen = std::min(n, uint64_t(observed_k_ - k));
    emit_zeros(k, seen);
    k += int64_t(seen);
    n -= seen;
    if (!n) return;
  }
  if (!cut_) {
    uint64_t room = gap_ < cfg_.max_empty_buckets ? cfg_.max_empty_buckets - gap_ : 0;
    uint64_t take = std::min(n, std::min(room, fill_left_));
    if (take) {
      emit_zeros(k, take);
      gap_ += take;
      fill_left_ -= take;
      k += int64_t(take);
      n -= take;
    }
    if (!n) return;
    cut_ = true;
    holes_++;
  }
  gap_ = sat_add(gap_, n);
  skip(n);
}

// n zero rows from k; kept as a run when ready() is full. The first carries
// the buckets skipped before it.
void Bucketizer::emit_zeros(int64_t k, uint64_t n) {
  if (skipped_) {
    BucketRow z;
    z.t_mono_ns = k * b_;
    z.empty_buckets_skipped = skipped_;
    skipped_ = 0;
    append(z);
    k++;
    n--;
  }
  uint64_t take = n;
  if (!take) return;
  if (backlog_.empty() && ready_.size() + take <= kReadyBatch) {
    for (uint64_t i = 0; i < take; i++) {
      BucketRow z;
      z.t_mono_ns = (k + int64_t(i)) * b_;
      ready_.push_back(z);
    }
  } else if (!backlog_.empty() && backlog_.back().zeros && backlog_.back().k + int64_t(backlog_.back().zeros) == k) {
    backlog_.back().zeros += take;
  } else {
    backlog_.push_back(Pending{k, take, BucketRow()});
  }
}

}  // namespace labtel
