// Plain C++ tests of the capture reader, the packet decoder and the
// bucketizer, no framework:
//   pcap_tests                    run everything (exit 1 on a failed CHECK)
//   pcap_tests --write-corpus DIR write the fuzzer's seed corpus (the same
//                                 captures the tests build) and exit
// Captures are synthesized in memory (classic pcap in both byte orders, µs
// and ns; pcapng with several sections, interfaces with different
// if_tsresol, EPB/SPB/PB and unknown blocks), fed whole and in chunks of
// every size 1..97, and broken in every way the reader must refuse.
// Packets are decoded from exact-size heap copies, so ASan (the
// LABTEL_SANITIZE build) catches any read past caplen.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <initializer_list>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../core/bucketizer.h"
#include "../core/flow_set.h"
#include "../core/netflow_fields.h"
#include "../core/netflow_json.h"
#include "../core/packet_decode.h"
#include "../core/pcap_pipeline.h"
#include "../core/pcap_reader.h"
#include "netflow_json_legacy.h"
#include "pipeline_streams.h"

using namespace labtel;

namespace {

int g_failures = 0;
int g_checks = 0;
std::string g_context;  // printed with failures: which case is checked

#define CHECK(cond)                                                                             \
  do {                                                                                          \
    g_checks++;                                                                                 \
    if (!(cond)) {                                                                              \
      g_failures++;                                                                             \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s%s%s%s\n", __FILE__, __LINE__, #cond,        \
                   g_context.empty() ? "" : "  [", g_context.c_str(), g_context.empty() ? "" : "]"); \
    }                                                                                           \
  } while (0)

#define CHECK_EQ(actual, expected)                                                                  \
  do {                                                                                              \
    g_checks++;                                                                                     \
    auto a_ = (actual);                                                                             \
    auto e_ = (expected);                                                                           \
    if (!(a_ == e_)) {                                                                              \
      g_failures++;                                                                                 \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s == %s (got %lld, want %lld)%s%s%s\n", __FILE__, \
                   __LINE__, #actual, #expected, (long long)a_, (long long)e_,                      \
                   g_context.empty() ? "" : "  [", g_context.c_str(), g_context.empty() ? "" : "]"); \
    }                                                                                               \
  } while (0)

using Bytes = std::vector<uint8_t>;

// ---------------------------------------------------------------------------
// Byte writers. Capture framing is in the file's byte order; packet headers
// are in network order.

struct W {
  Bytes b;
  bool be = false;
  explicit W(bool big = false) : be(big) {}
  W& u8(uint8_t v) {
    b.push_back(v);
    return *this;
  }
  W& u16(uint16_t v) {
    if (be) {
      u8(uint8_t(v >> 8));
      u8(uint8_t(v));
    } else {
      u8(uint8_t(v));
      u8(uint8_t(v >> 8));
    }
    return *this;
  }
  W& u32(uint32_t v) {
    if (be) {
      u16(uint16_t(v >> 16));
      u16(uint16_t(v));
    } else {
      u16(uint16_t(v));
      u16(uint16_t(v >> 16));
    }
    return *this;
  }
  W& u64(uint64_t v) {
    if (be) {
      u32(uint32_t(v >> 32));
      u32(uint32_t(v));
    } else {
      u32(uint32_t(v));
      u32(uint32_t(v >> 32));
    }
    return *this;
  }
  W& bytes(const Bytes& x) {
    b.insert(b.end(), x.begin(), x.end());
    return *this;
  }
  W& pad4() {
    while (b.size() % 4) b.push_back(0);
    return *this;
  }
};

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Classic pcap.
Bytes pcap_header(bool be, bool ns, uint32_t snaplen = 65535, uint32_t linktype = 1, uint16_t major = 2) {
  W w(be);
  w.u32(ns ? 0xA1B23C4D : 0xA1B2C3D4).u16(major).u16(4).u32(0).u32(0).u32(snaplen).u32(linktype);
  return w.b;
}
// A record; caplen_field overrides the caplen written in the header (data
// is written as given).
Bytes pcap_record(bool be, uint32_t sec, uint32_t frac, const Bytes& data, int64_t wirelen = -1,
                  int64_t caplen_field = -1) {
  W w(be);
  w.u32(sec).u32(frac).u32(caplen_field >= 0 ? uint32_t(caplen_field) : uint32_t(data.size()));
  w.u32(wirelen >= 0 ? uint32_t(wirelen) : uint32_t(data.size()));
  w.bytes(data);
  return w.b;
}

// pcapng blocks: body padded to 4, total length in header and trailer.
Bytes ng_block(bool be, uint32_t type, const Bytes& body, int64_t len_override = -1, int64_t trailer_override = -1) {
  Bytes padded = body;
  while (padded.size() % 4) padded.push_back(0);
  uint32_t len = uint32_t(12 + padded.size());
  W w(be);
  w.u32(type).u32(len_override >= 0 ? uint32_t(len_override) : len).bytes(padded);
  w.u32(trailer_override >= 0 ? uint32_t(trailer_override) : len);
  return w.b;
}
Bytes ng_shb(bool be, uint16_t major = 1) {
  W w(be);
  w.u32(0x1A2B3C4D).u16(major).u16(0).u64(~uint64_t(0));
  return ng_block(be, 0x0A0D0D0A, w.b);
}
// tsresol < 0: no option; tsoffset_s != 0: an if_tsoffset option.
Bytes ng_idb(bool be, uint16_t linktype, uint32_t snaplen = 0, int tsresol = -1, int64_t tsoffset_s = 0) {
  W w(be);
  w.u16(linktype).u16(0).u32(snaplen);
  w.u16(2).u16(3).u8('e').u8('t').u8('h').pad4();  // if_name, to be skipped
  if (tsresol >= 0) w.u16(9).u16(1).u8(uint8_t(tsresol)).pad4();
  if (tsoffset_s) w.u16(14).u16(8).u64(uint64_t(tsoffset_s));
  w.u16(0).u16(0);
  return ng_block(be, 1, w.b);
}
Bytes ng_epb(bool be, uint32_t iface, uint64_t ts, const Bytes& data, int64_t wirelen = -1, int64_t caplen_field = -1) {
  W w(be);
  w.u32(iface).u32(uint32_t(ts >> 32)).u32(uint32_t(ts));
  w.u32(caplen_field >= 0 ? uint32_t(caplen_field) : uint32_t(data.size()));
  w.u32(wirelen >= 0 ? uint32_t(wirelen) : uint32_t(data.size()));
  w.bytes(data).pad4();
  w.u16(1).u16(2).u8('h').u8('i').pad4().u16(0).u16(0);  // opt_comment, skipped
  return ng_block(be, 6, w.b);
}
Bytes ng_spb(bool be, const Bytes& data, int64_t wirelen = -1) {
  W w(be);
  w.u32(wirelen >= 0 ? uint32_t(wirelen) : uint32_t(data.size())).bytes(data);
  return ng_block(be, 3, w.b);
}
// A little-endian Ethernet IDB (snaplen 0) with these option bytes.
Bytes idb_with(std::initializer_list<uint8_t> opts) {
  Bytes b{1, 0, 0, 0, 0, 0, 0, 0};
  b.insert(b.end(), opts.begin(), opts.end());
  return ng_block(false, 1, b);
}
Bytes ng_pb(bool be, uint16_t iface, uint64_t ts, const Bytes& data) {
  W w(be);
  w.u16(iface).u16(0).u32(uint32_t(ts >> 32)).u32(uint32_t(ts)).u32(uint32_t(data.size())).u32(uint32_t(data.size()));
  w.bytes(data);
  return ng_block(be, 2, w.b);
}

// Packet headers (network order).
using Mac = std::array<uint8_t, 6>;
using IP4 = std::array<uint8_t, 4>;
using IP16 = std::array<uint8_t, 16>;
const Mac kMacGuest = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
const Mac kMacPeer = {0xfe, 0x54, 0x00, 0xab, 0xcd, 0xef};
const IP4 kGuest = {10, 200, 0, 10};
const IP4 kBridge = {10, 200, 0, 1};
const IP4 kPeer = {93, 184, 216, 34};

struct N {  // network-order writer
  Bytes b;
  N& u8(uint8_t v) {
    b.push_back(v);
    return *this;
  }
  N& u16(uint16_t v) { return u8(uint8_t(v >> 8)).u8(uint8_t(v)); }
  N& u32(uint32_t v) { return u16(uint16_t(v >> 16)).u16(uint16_t(v)); }
  template <size_t K>
  N& arr(const std::array<uint8_t, K>& a) {
    b.insert(b.end(), a.begin(), a.end());
    return *this;
  }
  N& bytes(const Bytes& x) {
    b.insert(b.end(), x.begin(), x.end());
    return *this;
  }
};

Bytes eth(const Mac& dst, const Mac& src, uint16_t et, const Bytes& payload, const std::vector<uint16_t>& tpids = {}) {
  N n;
  n.arr(dst).arr(src);
  for (uint16_t t : tpids) n.u16(t).u16(100);
  return n.u16(et).bytes(payload).b;
}
Bytes tcp(uint16_t sp, uint16_t dp, uint8_t flags, int doff = 5, size_t payload = 0) {
  N n;
  n.u16(sp).u16(dp).u32(1).u32(0).u8(uint8_t(doff << 4)).u8(flags).u16(65535).u16(0).u16(0);
  for (int i = 5; i < doff; i++) n.u32(0x01010101);  // NOP options
  n.b.resize(n.b.size() + payload, 0xab);
  return n.b;
}
Bytes udp(uint16_t sp, uint16_t dp, size_t payload = 4, int len_field = -1) {
  N n;
  n.u16(sp).u16(dp).u16(len_field >= 0 ? uint16_t(len_field) : uint16_t(8 + payload)).u16(0);
  n.b.resize(n.b.size() + payload, 0xcd);
  return n.b;
}
Bytes icmp(uint8_t type, uint8_t code) { return N().u8(type).u8(code).u16(0).u32(0x00010001).b; }
// frag: the flags+offset field; ihl in words; total_field overrides.
Bytes ipv4(const IP4& src, const IP4& dst, uint8_t proto, const Bytes& l4, uint16_t frag = 0, int ihl = 5,
           int total_field = -1) {
  N n;
  int hl = std::max(ihl, 5) * 4;
  n.u8(uint8_t(0x40 | (ihl & 15))).u8(0).u16(total_field >= 0 ? uint16_t(total_field) : uint16_t(hl + l4.size()));
  n.u16(0x1234).u16(frag).u8(64).u8(proto).u16(0).arr(src).arr(dst);
  for (int i = 5; i < ihl; i++) n.u32(0x01010101);
  return n.bytes(l4).b;
}
IP16 ip6(uint8_t last) {
  IP16 a{};
  a[0] = 0xfd;
  a[15] = last;
  return a;
}
Bytes ipv6(const IP16& src, const IP16& dst, uint8_t nh, const Bytes& payload, int plen_field = -1) {
  N n;
  n.u32(0x60000000).u16(plen_field >= 0 ? uint16_t(plen_field) : uint16_t(payload.size())).u8(nh).u8(64);
  return n.arr(src).arr(dst).bytes(payload).b;
}
// A generic IPv6 extension header of (len8 + 1) * 8 bytes.
Bytes ext6(uint8_t nh, uint8_t len8) {
  N n;
  n.u8(nh).u8(len8);
  n.b.resize(size_t(len8 + 1) * 8, 0);
  return n.b;
}
Bytes ah6(uint8_t nh, uint8_t len4m2) {  // AH: (len + 2) * 4 bytes
  N n;
  n.u8(nh).u8(len4m2);
  n.b.resize(size_t(len4m2 + 2) * 4, 0);
  return n.b;
}
Bytes frag6(uint8_t nh, uint16_t offset8, bool more) { return N().u8(nh).u8(0).u16(uint16_t(offset8 << 3 | (more ? 1 : 0))).u32(7).b; }
Bytes arp(uint16_t op, const Mac& sha, const IP4& spa, const Mac& tha, const IP4& tpa) {
  return N().u16(1).u16(0x0800).u8(6).u8(4).u16(op).arr(sha).arr(spa).arr(tha).arr(tpa).b;
}
Bytes tcp4(const IP4& s, const IP4& d, uint16_t sp, uint16_t dp, uint8_t flags) {
  return eth(kMacPeer, kMacGuest, 0x0800, ipv4(s, d, 6, tcp(sp, dp, flags)));
}
IP16 mapped(const IP4& a) {
  IP16 m{};
  m[10] = m[11] = 0xff;
  std::memcpy(m.data() + 12, a.data(), 4);
  return m;
}

// ---------------------------------------------------------------------------
// Feeding helpers.

struct Got {
  int64_t ts;
  uint32_t caplen, wirelen, linktype, iface;
  Bytes data;
  bool operator==(const Got& o) const {
    return ts == o.ts && caplen == o.caplen && wirelen == o.wirelen && linktype == o.linktype && iface == o.iface &&
           data == o.data;
  }
};

struct Collect final : PacketSink {
  std::vector<Got> got;
  void packet(const Packet& p) override {
    got.push_back(Got{p.ts_ns, p.caplen, p.wirelen, p.linktype, p.interface_id, Bytes(p.data, p.data + p.caplen)});
  }
};

struct Run {
  std::vector<Got> got;
  FeedResult res;
  uint64_t offset = 0, untimed = 0, over = 0;
  bool same(const Run& o) const {
    return got == o.got && res.ok == o.res.ok && res.error_offset == o.res.error_offset && res.error == o.res.error &&
           res.skipped_bytes == o.res.skipped_bytes && res.skipped_records == o.res.skipped_records &&
           res.records_over_snaplen == o.res.records_over_snaplen && offset == o.offset && untimed == o.untimed &&
           over == o.over;
  }
};

// Feeds `in` in chunks of `chunk` bytes (0: whole), each chunk an exact-size
// heap copy, then finish().
Run feed(const Bytes& in, size_t chunk = 0, ReaderOptions o = ReaderOptions()) {
  CaptureReader r(o);
  Collect c;
  Run run;
  if (chunk == 0) chunk = std::max<size_t>(in.size(), 1);
  for (size_t off = 0; off < in.size(); off += chunk) {
    size_t n = std::min(chunk, in.size() - off);
    std::unique_ptr<uint8_t[]> b(new uint8_t[n]);
    std::memcpy(b.get(), in.data() + off, n);
    run.res = r.feed(b.get(), n, c);
  }
  run.res = r.finish(c);
  run.got = c.got;
  run.offset = r.offset();
  run.untimed = r.untimed_packets();
  run.over = r.records_over_snaplen();
  return run;
}

// Whole, and in every chunk size 1..97 (or a sample of them): the same
// packets and result.
Run feed_all_ways(const Bytes& in, ReaderOptions o = ReaderOptions(), bool sample = false) {
  Run whole = feed(in, 0, o);
  for (size_t c = 1; c <= 97; c++) {
    if (sample && c != 1 && c != 2 && c != 3 && c != 5 && c != 16 && c != 31 && c != 64 && c != 97) continue;
    Run r = feed(in, c, o);
    if (!r.same(whole)) {
      std::fprintf(stderr, "chunk size %zu differs: %zu vs %zu packets, ok %d/%d, off %llu/%llu '%s' / '%s'\n", c,
                   r.got.size(), whole.got.size(), r.res.ok, whole.res.ok, (unsigned long long)r.res.error_offset,
                   (unsigned long long)whole.res.error_offset, r.res.error.c_str(), whole.res.error.c_str());
      CHECK(r.same(whole));
      break;
    }
  }
  return whole;
}

bool has(const std::string& s, const char* sub) { return s.find(sub) != std::string::npos; }

// Expects an error at `at` whose message contains `msg`, after `before`
// packets; and that later calls repeat it and deliver nothing.
void expect_error(const Bytes& in, uint64_t at, const char* msg, size_t before, ReaderOptions o = ReaderOptions()) {
  Run r = feed_all_ways(in, o);
  CHECK(!r.res.ok);
  CHECK_EQ(r.res.error_offset, at);
  if (!has(r.res.error, msg)) std::fprintf(stderr, "  message was: %s\n", r.res.error.c_str());
  CHECK(has(r.res.error, msg));
  CHECK_EQ(r.got.size(), before);
  CHECK_EQ(r.offset, at);
  // Sticky: later calls repeat the error and deliver nothing.
  CaptureReader rd(o);
  Collect c;
  rd.feed(in.data(), in.size(), c);
  FeedResult f = rd.finish(c);
  size_t n = c.got.size();
  Bytes more = pcap_record(false, 1, 2, Bytes(60, 1));
  FeedResult b = rd.feed(more.data(), more.size(), c);
  FeedResult f2 = rd.finish(c);
  CHECK(!f.ok && !b.ok && !f2.ok);
  CHECK(b.error == f.error && f2.error == f.error && b.error_offset == f.error_offset && f2.error_offset == f.error_offset);
  CHECK_EQ(c.got.size(), n);
}

Bytes some_frame(uint8_t tag, size_t len = 60) {
  Bytes f = tcp4(kGuest, kPeer, 40000, 443, 0x10);
  f.resize(len, tag);
  f[len - 1] = tag;
  return f;
}

// ---------------------------------------------------------------------------
// Reader: formats.

void test_classic() {
  for (int be = 0; be < 2; be++) {
    for (int ns = 0; ns < 2; ns++) {
      g_context = std::string("classic be=") + char('0' + be) + " ns=" + char('0' + ns);
      Bytes f = pcap_header(be, ns, 65535, 1);
      uint32_t frac = ns ? 123456789 : 123456;
      f = cat({f, pcap_record(be, 1700000000, frac, some_frame(1)), pcap_record(be, 1700000001, 0, some_frame(2, 100), 1514),
               pcap_record(be, 0, 1, Bytes())});
      Run r = feed_all_ways(f);
      CHECK(r.res.ok);
      CHECK_EQ(r.got.size(), 3u);
      if (r.got.size() != 3) continue;
      CHECK_EQ(r.got[0].ts, 1700000000LL * 1000000000 + (ns ? 123456789 : 123456000));
      CHECK_EQ(r.got[1].ts, 1700000001LL * 1000000000);
      CHECK_EQ(r.got[2].ts, ns ? 1 : 1000);
      CHECK_EQ(r.got[1].caplen, 100u);
      CHECK_EQ(r.got[1].wirelen, 1514u);
      CHECK(r.got[1].data == some_frame(2, 100));
      CHECK_EQ(r.got[0].linktype, 1u);
      CHECK_EQ(r.got[2].caplen, 0u);
      CHECK_EQ(r.offset, f.size());
    }
  }
  g_context = "classic linktype FCS bits, header only";
  Bytes f = pcap_header(false, false, 0, 0x10000000 | 113);
  Run r = feed_all_ways(f);
  CHECK(r.res.ok && r.got.empty());
  CaptureReader rd{ReaderOptions()};
  Collect c;
  f = cat({f, pcap_record(false, 1, 1, Bytes(16, 0))});
  rd.feed(f.data(), f.size(), c);
  CHECK(std::string(rd.format()) == "pcap");
  CHECK(c.got.size() == 1 && c.got[0].linktype == 113);  // snaplen 0: no snaplen limit
}

void test_pcapng() {
  g_context = "pcapng two sections";
  // Section 1, little-endian: if0 µs (default), if1 ns, if2 2^-10 s with a
  // 100 s offset. Section 2, big-endian: interfaces reset; if0 in 10^-4 s.
  Bytes f = cat({ng_shb(false), ng_idb(false, 1, 65535), ng_idb(false, 101, 0, 9), ng_idb(false, 228, 0, 0x80 | 10, 100),
                 ng_epb(false, 0, 1700000000123456ULL, some_frame(1)), ng_epb(false, 1, 1700000000123456789ULL, Bytes{0x45, 0}, 40),
                 ng_block(false, 0x00000BAD, Bytes{1, 2, 3, 4, 5}),  // custom block
                 ng_block(false, 0x12345678, Bytes(20, 9)),          // unknown block
                 ng_block(false, 5, Bytes(12, 0)),                    // interface statistics
                 ng_spb(false, some_frame(3), 1000),                 // takes the previous packet's ts
                 ng_epb(false, 2, (uint64_t(3) << 10) | 512, Bytes{0x45}),
                 ng_pb(false, 0, 1700000005000000ULL, some_frame(4)),
                 ng_shb(true), ng_idb(true, 113, 0, 4), ng_epb(true, 0, 17000000001234ULL, some_frame(5), 70),
                 ng_spb(true, some_frame(6))});
  Run r = feed_all_ways(f);
  CHECK(r.res.ok);
  CHECK_EQ(r.got.size(), 7u);
  if (r.got.size() == 7) {
    CHECK_EQ(r.got[0].ts, 1700000000123456000LL);
    CHECK_EQ(r.got[0].linktype, 1u);
    CHECK(r.got[0].data == some_frame(1));
    CHECK_EQ(r.got[1].ts, 1700000000123456789LL);
    CHECK_EQ(r.got[1].iface, 1u);
    CHECK_EQ(r.got[1].linktype, 101u);
    CHECK_EQ(r.got[1].wirelen, 40u);
    CHECK_EQ(r.got[2].ts, 1700000000123456789LL);  // SPB: previous packet's
    CHECK_EQ(r.got[2].caplen, 60u);                // min(original length 1000, what the block holds)
    CHECK_EQ(r.got[2].wirelen, 1000u);
    CHECK_EQ(r.got[3].ts, 100LL * 1000000000 + 3LL * 1000000000 + 500000000);  // 3.5 s in 2^-10 units + offset
    CHECK_EQ(r.got[3].iface, 2u);
    CHECK_EQ(r.got[4].ts, 1700000005000000000LL);  // obsolete packet block
    CHECK_EQ(r.got[5].ts, 1700000000123400000LL);  // 10^-4 units, big-endian section
    CHECK_EQ(r.got[5].linktype, 113u);
    CHECK_EQ(r.got[5].wirelen, 70u);
    CHECK_EQ(r.got[6].ts, r.got[5].ts);
    CHECK_EQ(r.got[6].linktype, 113u);
  }
  CHECK_EQ(r.untimed, 2u);
  CHECK_EQ(r.offset, f.size());

  g_context = "pcapng section resets interfaces";
  f = cat({ng_shb(false), ng_idb(false, 1), ng_idb(false, 1), ng_shb(false), ng_idb(false, 1),
           ng_epb(false, 1, 5, some_frame(1))});
  size_t at = f.size() - ng_epb(false, 1, 5, some_frame(1)).size();
  expect_error(f, at, "names interface 1 but the section declared 1", 0);

  g_context = "pcapng SPB snaplen";
  f = cat({ng_shb(false), ng_idb(false, 1, 20), ng_spb(false, some_frame(1), 60)});
  r = feed_all_ways(f);
  CHECK(r.res.ok && r.got.size() == 1 && r.got[0].caplen == 20 && r.got[0].ts == 0);
}

// ---------------------------------------------------------------------------
// Reader: hostile input.

void test_hostile_classic() {
  Bytes h = pcap_header(false, false, 1500);
  Bytes r1 = pcap_record(false, 1700000000, 1, some_frame(1));
  Bytes r2 = pcap_record(false, 1700000000, 2, some_frame(2));
  size_t at = h.size() + r1.size() + r2.size();

  g_context = "caplen > max_caplen, over the snaplen";  // libpcap: "bigger than snaplen of 1500", refused all the same
  expect_error(cat({h, r1, r2, pcap_record(false, 1700000000, 3, Bytes(20, 7), -1, 300000)}), at,
               "record caplen 300000 exceeds the 262144-byte limit", 2);
  g_context = "caplen > max_caplen, under the snaplen";
  Bytes h2 = pcap_header(true, false, 0x7fffffff);
  Bytes big = pcap_record(true, 1, 0, Bytes(8, 0), -1, 300000);
  expect_error(cat({h2, pcap_record(true, 1, 1, some_frame(1)), big}), 24 + 16 + 60,
               "record caplen 300000 exceeds the 262144-byte limit", 1);
  g_context = "truncated record";
  Bytes t = cat({h, r1, r2});
  t.resize(t.size() - 1);
  expect_error(t, h.size() + r1.size(), "truncated pcap record: input ends after 75 of its 76 bytes", 1);
  g_context = "truncated record header";
  t = cat({h, r1, Bytes(7, 0)});
  expect_error(t, h.size() + r1.size(), "truncated pcap record header", 1);
  g_context = "truncated file header";
  expect_error(Bytes(h.begin(), h.begin() + 10), 0, "truncated pcap file header", 0);
  g_context = "empty";
  expect_error(Bytes(), 0, "empty input", 0);
  g_context = "three bytes";
  expect_error(Bytes{0xd4, 0xc3, 0xb2}, 0, "only 3 bytes", 0);
  g_context = "not a capture";
  expect_error(Bytes{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0}, 0, "not a pcap or pcapng capture (starts with 7f 45 4c 46)", 0);
  expect_error(Bytes{0x1f, 0x8b, 8, 0, 0, 0, 0, 0}, 0, "gzip", 0);
  expect_error(Bytes{'h', 'e', 'l', 'l', 'o', '\n'}, 0, "not a pcap", 0);
  g_context = "version";
  expect_error(pcap_header(false, false, 65535, 1, 3), 0, "unsupported pcap version 3.4", 0);
  g_context = "random bytes";
  std::mt19937 rng(7);
  for (int i = 0; i < 50; i++) {
    Bytes rnd(size_t(rng() % 3000), 0);
    for (uint8_t& x : rnd) x = uint8_t(rng());
    if (rnd.size() >= 4 && (rnd[0] == 0xd4 || rnd[0] == 0xa1 || rnd[0] == 0x4d || rnd[0] == 0x0a)) rnd[0] = 0x55;
    Run r = feed(rnd, 1 + rng() % 500);
    CHECK(!r.res.ok && r.res.error_offset == 0 && r.got.empty());
    r = feed(rnd, 0, ReaderOptions{true});  // skip_bad does not apply to the file header
    CHECK(!r.res.ok && r.res.error_offset == 0);
  }
}

// Regression for: classic records whose caplen exceeds the file header's
// snaplen (truncating tools, GRO frames over 64 KiB, old writers) were
// refused ("record caplen 200 exceeds the file's snaplen 100") though
// libpcap and tshark read them. libpcap's sf-pcap.c reads such a record,
// hands on its first snaplen bytes and skips the rest; it refuses only a
// caplen over the link type's maximum (262144), whatever the snaplen.
void test_over_snaplen() {
  for (int be = 0; be < 2; be++) {
    for (int ns = 0; ns < 2; ns++) {
      g_context = std::string("over snaplen be=") + char('0' + be) + " ns=" + char('0' + ns);
      Bytes big = some_frame(2, 200);
      Bytes f = cat({pcap_header(be, ns, 100), pcap_record(be, 1700000000, 1, some_frame(1)),
                     pcap_record(be, 1700000000, 2, big, 1514), pcap_record(be, 1700000000, 3, some_frame(3, 100)),
                     pcap_record(be, 1700000000, 4, some_frame(4))});
      Run r = feed_all_ways(f);
      CHECK(r.res.ok);
      CHECK_EQ(r.got.size(), 4u);
      CHECK_EQ(r.offset, f.size());
      CHECK_EQ(r.over, 1u);  // the 200-byte record; 100 bytes is not over a snaplen of 100
      CHECK_EQ(r.res.records_over_snaplen, 1u);
      CHECK_EQ(r.res.skipped_records, 0u);
      if (r.got.size() != 4) continue;
      CHECK_EQ(r.got[1].caplen, 100u);  // cut to the snaplen, as libpcap hands it on
      CHECK_EQ(r.got[1].wirelen, 1514u);
      CHECK(r.got[1].data == Bytes(big.begin(), big.begin() + 100));
      CHECK_EQ(r.got[1].ts, 1700000000LL * 1000000000 + (ns ? 2 : 2000));
      CHECK(r.got[2].data == some_frame(3, 100));
      CHECK(r.got[3].data == some_frame(4));  // the reader went on after the whole 200 bytes
    }
  }
  g_context = "over snaplen: a record of exactly max_caplen";
  {
    Bytes f = cat({pcap_header(false, false, 65535), pcap_record(false, 1, 0, Bytes(262144, 5)), pcap_record(false, 1, 1, some_frame(1))});
    Run r = feed_all_ways(f, ReaderOptions(), true);
    CHECK(r.res.ok && r.got.size() == 2 && r.over == 1);
    if (r.got.size() == 2) CHECK(r.got[0].caplen == 65535 && r.got[0].wirelen == 262144 && r.got[1].data == some_frame(1));
  }
  g_context = "over snaplen: one byte over max_caplen is still refused";
  {
    Bytes h = pcap_header(false, false, 100);
    Bytes r1 = pcap_record(false, 1, 0, some_frame(1, 150));
    expect_error(cat({h, r1, pcap_record(false, 1, 1, Bytes(16, 0), -1, 262145)}), h.size() + r1.size(),
                 "record caplen 262145 exceeds the 262144-byte limit", 1);
  }
  g_context = "over snaplen: snaplen 0 and above INT_MAX mean no cut";
  for (uint32_t snap : {0u, 0x80000000u, 0xFFFFFFFFu}) {
    Bytes f = cat({pcap_header(false, false, snap), pcap_record(false, 1, 0, Bytes(70000, 1)), pcap_record(false, 1, 1, some_frame(1))});
    Run r = feed_all_ways(f, ReaderOptions(), true);
    CHECK(r.res.ok && r.got.size() == 2 && r.over == 0);
    if (r.got.size() == 2) CHECK_EQ(r.got[0].caplen, 70000u);
  }
  g_context = "over snaplen: the header's snaplen is checked whatever the records say";
  {
    // A zero-length record over nothing, and a snaplen of 1 cutting everything.
    Bytes f = cat({pcap_header(true, false, 1), pcap_record(true, 1, 0, Bytes()), pcap_record(true, 1, 1, some_frame(1)),
                   pcap_record(true, 1, 2, Bytes{9})});
    Run r = feed_all_ways(f);
    CHECK(r.res.ok && r.got.size() == 3 && r.over == 1);
    if (r.got.size() == 3) CHECK(r.got[0].caplen == 0 && r.got[1].caplen == 1 && r.got[1].data == Bytes{some_frame(1)[0]} && r.got[2].caplen == 1);
  }
  g_context = "over snaplen with skip_bad: read, not skipped; and a resync point";
  {
    ReaderOptions sb;
    sb.skip_bad = true;
    Bytes h = pcap_header(false, false, 64);
    Bytes a = pcap_record(false, 1700000000, 1, some_frame(1));
    Bytes over = pcap_record(false, 1700000000, 2, some_frame(2, 1000));
    Bytes b = pcap_record(false, 1700000000, 3, some_frame(3));
    Run r = feed_all_ways(cat({h, a, over, b}), sb);
    CHECK(r.res.ok && r.got.size() == 3 && r.over == 1 && r.res.skipped_records == 0 && r.res.skipped_bytes == 0);
    // After a bad record, the scan may land on a record over the snaplen:
    // it is a record the reader accepts, so nothing after the garbage is lost.
    Bytes garbage = pcap_record(false, 1700000000, 9, Bytes(40, 0xee), -1, 300000);
    Bytes f = cat({h, a, garbage, over, b});
    r = feed_all_ways(f, sb);
    CHECK(r.res.ok);
    CHECK_EQ(r.got.size(), 3u);
    CHECK_EQ(r.over, 1u);
    CHECK_EQ(r.res.skipped_records, 1u);
    CHECK_EQ(r.res.skipped_bytes, garbage.size());
    if (r.got.size() == 3) CHECK(r.got[1].caplen == 64 && r.got[1].wirelen == 1000 && r.got[2].data == some_frame(3));
  }
  g_context = "over snaplen: pcapng packet blocks over the interface's snaplen stay refused (as libpcap)";
  {
    Bytes pre = cat({ng_shb(false), ng_idb(false, 1, 100), ng_epb(false, 0, 1, some_frame(1))});
    expect_error(cat({pre, ng_epb(false, 0, 2, some_frame(2, 200))}), pre.size(), "record caplen 200 exceeds interface 0's snaplen 100", 1);
    Run r = feed_all_ways(pre);
    CHECK(r.res.ok && r.got.size() == 1 && r.over == 0 && r.res.records_over_snaplen == 0);
  }
}

void test_hostile_ng() {
  Bytes shb = ng_shb(false), idb = ng_idb(false, 1, 1500);
  Bytes e1 = ng_epb(false, 0, 1, some_frame(1));
  Bytes pre = cat({shb, idb, e1});
  size_t at = pre.size();
  struct Case {
    const char* name;
    Bytes block;
    const char* msg;
  } cases[] = {
      {"length 0", ng_block(false, 6, Bytes(20, 0), 0), "length 0 is below the 12-byte minimum"},
      {"length unaligned", ng_block(false, 6, Bytes(20, 0), 30), "length 30 is not a multiple of 4"},
      {"EPB below minimum", ng_block(false, 6, Bytes(16, 0)), "enhanced packet block length 28 is below its 32-byte minimum"},
      {"IDB below minimum", ng_block(false, 1, Bytes(4, 0)), "interface description block length 16 is below its 20-byte minimum"},
      {"too long", ng_block(false, 6, Bytes(20, 0), 1 << 30), "length 1073741824 exceeds the 16777216-byte limit"},
      {"trailer", ng_block(false, 6, Bytes(40, 0), -1, 48), "trailer length 48 disagrees with its header length 52"},
      {"undeclared interface", ng_epb(false, 3, 1, some_frame(2)), "enhanced packet block names interface 3 but the section declared 1"},
      {"caplen > snaplen", ng_epb(false, 0, 1, Bytes(1600, 0)), "record caplen 1600 exceeds interface 0's snaplen 1500"},
      {"caplen past block", ng_epb(false, 0, 1, some_frame(2), -1, 5000), "enhanced packet block caplen 5000 exceeds the"},
      {"unknown BOM", [] {
         Bytes b = ng_shb(false);
         b[8] = 0x11;
         return b;
       }(), "unknown byte-order magic 11 3c 2b 1a"},
      {"pcapng version", ng_shb(false, 2), "unsupported pcapng version 2.0"},
      {"tsresol", ng_idb(false, 1, 0, 0x80 | 70), "unsupported if_tsresol 0xc6"},
      // Regression for: interfaces libpcap refuses (their timestamps would be
      // a guess) were read: 10^-20 s and finer, timestamp options of the
      // wrong size or given twice, an option running past the block.
      {"tsresol 10^-20", ng_idb(false, 1, 0, 20), "interface 1 has an unsupported if_tsresol 0x14"},
      {"tsresol length 2", idb_with({9, 0, 2, 0, 6, 0, 0, 0}), "interface 1 has an if_tsresol option of length 2, not 1"},
      {"tsresol length 0", idb_with({9, 0, 0, 0}), "interface 1 has an if_tsresol option of length 0, not 1"},
      {"tsresol twice", idb_with({9, 0, 1, 0, 6, 0, 0, 0, 9, 0, 1, 0, 9, 0, 0, 0}), "interface 1 has more than one if_tsresol option"},
      {"tsoffset length 4", idb_with({14, 0, 4, 0, 1, 0, 0, 0}), "interface 1 has an if_tsoffset option of length 4, not 8"},
      {"tsoffset twice", idb_with({14, 0, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 14, 0, 8, 0, 2, 0, 0, 0, 0, 0, 0, 0}),
       "interface 1 has more than one if_tsoffset option"},
      {"option past the block", idb_with({2, 0, 100, 0, 'a', 'b', 'c', 'd'}), "interface 1 has an option running past its block"},
      {"end of options with a length", idb_with({0, 0, 4, 0, 'a', 'b', 'c', 'd'}), "interface 1 has an end-of-options option of length 4"},
  };
  for (const Case& c : cases) {
    g_context = std::string("pcapng ") + c.name;
    expect_error(cat({pre, c.block, ng_epb(false, 0, 2, some_frame(3))}), at, c.msg, 1);
  }
  g_context = "pcapng caplen > max_caplen";
  ReaderOptions small;
  small.max_caplen = 100;
  expect_error(cat({shb, ng_idb(false, 1), ng_epb(false, 0, 1, some_frame(1)), ng_epb(false, 0, 1, Bytes(200, 0))}),
               shb.size() + ng_idb(false, 1).size() + ng_epb(false, 0, 1, some_frame(1)).size(),
               "record caplen 200 exceeds the 100-byte limit", 1, small);
  g_context = "pcapng too many interfaces";
  ReaderOptions few;
  few.max_interfaces = 3;
  Bytes many = shb;
  for (int i = 0; i < 3; i++) many = cat({many, ng_idb(false, 1)});
  expect_error(cat({many, ng_idb(false, 1)}), many.size(), "section declares more than 3 interfaces", 0, few);
  g_context = "pcapng SPB without interface";
  expect_error(cat({shb, ng_spb(false, some_frame(1))}), shb.size(), "simple packet block but the section declared no interface", 0);
  g_context = "pcapng truncated last block";
  Bytes t = cat({pre, ng_epb(false, 0, 2, some_frame(2))});
  t.resize(t.size() - 3);
  expect_error(t, at, "truncated enhanced packet block: input ends after", 1);
  t = cat({pre, Bytes{6, 0, 0}});
  expect_error(t, at, "truncated pcapng block header", 1);
  g_context = "pcapng first SHB with an unknown BOM";
  Bytes s = ng_shb(false);
  s[9] = 0;
  expect_error(s, 0, "unknown byte-order magic", 0);
  g_context = "pcapng huge declared length, short file";
  expect_error(cat({pre, Bytes{6, 0, 0, 0, 4, 0, 0, 1}}), at, "length 16777220 exceeds the 16777216-byte limit", 1);
  // Regression for: every block over 266240 bytes was refused, where
  // libpcap reads blocks of up to 16 MiB (TLS secrets, name resolution,
  // custom blocks, full-size packets with options).
  g_context = "pcapng blocks over 256 KiB, up to libpcap's 16 MiB, are read";
  {
    Bytes f = cat({pre, ng_block(false, 10, Bytes(300000, 0x41)), ng_block(false, 0xbad, Bytes((16u << 20) - 12, 0x42)),
                   ng_epb(false, 0, 2, some_frame(2))});
    Run whole = feed(f);
    CHECK(whole.res.ok);
    CHECK_EQ(whole.got.size(), 2u);
    CHECK(feed(f, 4093).same(whole));
    CHECK(feed(f, 1 << 20).same(whole));
  }
}

// ---------------------------------------------------------------------------
// Reader: skip_bad.

void test_skip_bad() {
  ReaderOptions sb;
  sb.skip_bad = true;
  g_context = "skip_bad classic";
  {
    Bytes h = pcap_header(false, false, 1500);
    Bytes recs;
    for (int i = 0; i < 5; i++) recs = cat({recs, pcap_record(false, 1700000000, uint32_t(i * 1000), some_frame(uint8_t(i)))});
    Bytes garbage = pcap_record(false, 1700000000, 9, Bytes(3000, 0xee), -1, 300000);  // caplen 300000 > max_caplen, then 3000 bytes
    Bytes tail;
    for (int i = 5; i < 9; i++) tail = cat({tail, pcap_record(false, 1700000000, uint32_t(i * 1000), some_frame(uint8_t(i)))});
    Bytes f = cat({h, recs, garbage, tail});
    Run r = feed_all_ways(f, sb);
    CHECK(r.res.ok);
    CHECK_EQ(r.got.size(), 9u);
    CHECK_EQ(r.res.skipped_records, 1u);
    CHECK_EQ(r.res.skipped_bytes, garbage.size());
    for (size_t i = 0; i < r.got.size(); i++) CHECK(r.got[i].data == some_frame(uint8_t(i)));
    // Without skip_bad: the error, 5 packets before it.
    expect_error(f, h.size() + recs.size(), "record caplen 300000 exceeds the 262144-byte limit", 5);
    // A bad record right before EOF, and a truncated last record.
    Bytes g = cat({h, recs, pcap_record(false, 1700000000, 1, Bytes(10, 0), -1, 5000)});
    r = feed_all_ways(g, sb);
    CHECK(r.res.ok && r.got.size() == 5 && r.res.skipped_records == 1 && r.res.skipped_bytes == 26);
    Bytes t = cat({h, recs});
    t.resize(t.size() - 10);
    r = feed_all_ways(t, sb);
    CHECK(r.res.ok && r.got.size() == 4 && r.res.skipped_records == 1 && r.res.skipped_bytes == 66);
    // A record whose ts is a day off is not a resync point: the scan goes on.
    Bytes far = pcap_record(false, 1700000000 + 200000, 0, some_frame(9));
    f = cat({h, recs, garbage, far, tail});
    r = feed_all_ways(f, sb);
    CHECK(r.res.ok && r.got.size() == 9 && r.res.skipped_bytes == garbage.size() + far.size());
  }
  g_context = "skip_bad pcapng framing";
  {
    Bytes pre = cat({ng_shb(false), ng_idb(false, 1)});
    Bytes a = ng_epb(false, 0, 1, some_frame(1));
    Bytes junk = ng_block(false, 6, Bytes(40, 0x66), 0x1000001);  // a huge length
    Bytes b = ng_epb(false, 0, 2, some_frame(2));
    Bytes f = cat({pre, a, junk, b, ng_epb(false, 0, 3, some_frame(3))});
    Run r = feed_all_ways(f, sb);
    CHECK(r.res.ok && r.got.size() == 3 && r.res.skipped_records == 1 && r.res.skipped_bytes == junk.size());
    // Random words between blocks.
    Bytes words(64, 0);
    for (size_t i = 0; i < words.size(); i++) words[i] = uint8_t(i * 37 + 11);
    f = cat({pre, a, words, b});
    r = feed_all_ways(f, sb);
    CHECK(r.res.ok && r.got.size() == 2 && r.res.skipped_bytes == 64 && r.res.skipped_records >= 1);
  }
  g_context = "skip_bad pcapng contents";
  {
    Bytes pre = cat({ng_shb(false), ng_idb(false, 1, 100)});
    Bytes bad1 = ng_epb(false, 7, 1, some_frame(1));      // undeclared interface
    Bytes bad2 = ng_epb(false, 0, 1, Bytes(200, 0));      // caplen > snaplen
    Bytes good = ng_epb(false, 0, 5, some_frame(2));
    Bytes f = cat({pre, bad1, good, bad2, good});
    Run r = feed_all_ways(f, sb);
    CHECK(r.res.ok && r.got.size() == 2 && r.res.skipped_records == 2 && r.res.skipped_bytes == bad1.size() + bad2.size());
    // A section of an unsupported version is skipped whole.
    Bytes v2 = cat({ng_shb(false, 2), ng_idb(false, 1), good});
    f = cat({pre, good, v2, ng_shb(false), ng_idb(false, 1), good});
    r = feed_all_ways(f, sb);
    CHECK(r.res.ok && r.got.size() == 2 && r.res.skipped_records == 3 && r.res.skipped_bytes == v2.size());
    // Truncated last block.
    f = cat({pre, good, good});
    f.resize(f.size() - 8);
    r = feed_all_ways(f, sb);
    CHECK(r.res.ok && r.got.size() == 1 && r.res.skipped_records == 1 && r.res.skipped_bytes == good.size() - 8);
  }
  g_context = "skip_bad random corruption";
  {
    // Valid files with random bytes overwritten: never a crash, every
    // chunking the same, packets delivered are well-formed.
    std::mt19937 rng(11);
    Bytes cl = pcap_header(false, true, 2000);
    for (int i = 0; i < 40; i++) cl = cat({cl, pcap_record(false, 1700000000, uint32_t(i), some_frame(uint8_t(i), 60 + i))});
    Bytes ng = cat({ng_shb(true), ng_idb(true, 1, 0, 9), ng_idb(true, 101)});
    for (int i = 0; i < 40; i++) ng = cat({ng, ng_epb(true, uint32_t(i % 2), 1700000000000000000ULL + uint64_t(i), some_frame(uint8_t(i), 60 + i))});
    for (const Bytes* base : {&cl, &ng}) {
      for (int k = 0; k < 40; k++) {
        Bytes m = *base;
        for (int j = 0; j < 1 + k % 5; j++) m[24 + rng() % (m.size() - 24)] = uint8_t(rng());
        Run r = feed_all_ways(m, sb, true);
        for (const Got& gp : r.got) CHECK(gp.caplen <= 2000 && gp.data.size() == gp.caplen);
        feed_all_ways(m, ReaderOptions(), true);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Decoder.

Decoded dec(const Bytes& frame, uint32_t linktype, int64_t wirelen = -1, size_t caplen = SIZE_MAX) {
  size_t n = std::min(caplen, frame.size());
  std::unique_ptr<uint8_t[]> b(new uint8_t[n ? n : 1]);
  if (n) std::memcpy(b.get(), frame.data(), n);
  Packet p{0, uint32_t(n), wirelen >= 0 ? uint32_t(wirelen) : uint32_t(frame.size()), linktype, 0, b.get()};
  Decoded d;
  bool ok = decode(p, &d);
  CHECK(ok == (d.l3 != L3Kind::non_ip));
  return d;
}

bool ip_is(const uint8_t* ip, const IP16& want) { return std::memcmp(ip, want.data(), 16) == 0; }

void test_decode() {
  g_context = "decode ethernet ipv4 tcp";
  Bytes f = eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 6, tcp(40000, 443, 0x12)));
  Decoded d = dec(f, 1);
  CHECK(d.l3 == L3Kind::ipv4 && d.proto_known && d.ip_proto == 6 && d.has_ports && d.src_port == 40000 &&
        d.dst_port == 443 && d.has_tcp_flags && d.tcp_flags == 0x12 && !d.truncated && !d.malformed);
  CHECK(d.has_src_mac && d.has_dst_mac && std::memcmp(d.src_mac, kMacGuest.data(), 6) == 0 &&
        std::memcmp(d.dst_mac, kMacPeer.data(), 6) == 0);
  CHECK(ip_is(d.src_ip, mapped(kGuest)) && ip_is(d.dst_ip, mapped(kPeer)) && d.ethertype == 0x0800);
  // Every prefix: never past caplen (ASan), truncated once a header is cut.
  for (size_t n = 0; n < f.size(); n++) {
    Decoded t = dec(f, 1, -1, n);
    CHECK(t.truncated && !t.malformed && !t.has_ports);
  }

  g_context = "decode vlan";
  d = dec(eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 17, udp(53, 5353)), {0x8100}), 1);
  CHECK(d.vlan_depth == 1 && d.l3 == L3Kind::ipv4 && d.ip_proto == 17 && d.src_port == 53 && d.dst_port == 5353);
  d = dec(eth(kMacPeer, kMacGuest, 0x86DD, ipv6(ip6(1), ip6(2), 17, udp(1, 2)), {0x88a8, 0x8100}), 1);
  CHECK(d.vlan_depth == 2 && d.l3 == L3Kind::ipv6 && d.dst_port == 2);
  d = dec(eth(kMacPeer, kMacGuest, 0x0806, arp(1, kMacGuest, kGuest, Mac{}, kPeer), {0x9100, 0x9100, 0x8100, 0x8100}), 1);
  CHECK(d.vlan_depth == 4 && d.l3 == L3Kind::arp);
  d = dec(eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 6, tcp(1, 2, 2)), {0x8100, 0x8100, 0x8100, 0x8100, 0x8100}), 1);
  CHECK(d.vlan_depth == 4 && d.l3 == L3Kind::other && d.ethertype == 0x8100);  // deeper than 4: not decoded
  Bytes v = eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 6, tcp(1, 2, 2)), {0x8100});
  d = dec(v, 1, -1, 16);
  CHECK(d.truncated && d.l3 == L3Kind::non_ip);

  g_context = "decode other ethertypes";
  d = dec(eth(kMacPeer, kMacGuest, 0x88cc, Bytes(40, 0)), 1);  // LLDP
  CHECK(d.l3 == L3Kind::other && d.ethertype == 0x88cc && !d.has_ips);
  d = dec(eth(kMacPeer, kMacGuest, 46, Bytes(46, 0)), 1);  // 802.3 length
  CHECK(d.l3 == L3Kind::other);

  g_context = "decode arp";
  d = dec(eth(kMacPeer, kMacGuest, 0x0806, arp(2, kMacGuest, kGuest, kMacPeer, kPeer)), 1);
  CHECK(d.l3 == L3Kind::arp && d.arp_op == 2 && d.has_ips && ip_is(d.src_ip, mapped(kGuest)) && ip_is(d.dst_ip, mapped(kPeer)));
  d = dec(eth(kMacPeer, kMacGuest, 0x0806, arp(1, kMacGuest, kGuest, kMacPeer, kPeer)), 1, -1, 14 + 20);
  CHECK(d.l3 == L3Kind::arp && d.truncated && !d.has_ips);

  g_context = "decode ipv4 fragments";
  Bytes l4 = tcp(1000, 22, 0x02);
  d = dec(eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 6, l4, 0x2000)), 1);  // MF, offset 0
  CHECK(d.fragment && d.has_ports && d.dst_port == 22);
  d = dec(eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 6, Bytes(24, 0x55), 0x0003)), 1);  // last fragment
  CHECK(d.fragment && !d.has_ports && d.proto_known && d.ip_proto == 6 && !d.has_tcp_flags && !d.truncated);
  d = dec(eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 17, Bytes(4, 0), 0x2005)), 1);  // middle, tiny
  CHECK(d.fragment && !d.has_ports && d.ip_proto == 17 && !d.malformed);
  d = dec(eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 6, l4, 0x4000)), 1);  // DF only
  CHECK(!d.fragment && d.has_ports);

  g_context = "decode ipv4 options and malformed";
  d = dec(eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 17, udp(7, 9), 0, 7)), 1);
  CHECK(d.has_ports && d.src_port == 7 && d.dst_port == 9 && !d.malformed);
  d = dec(eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 6, l4, 0, 4)), 1);  // IHL 4
  CHECK(d.malformed && !d.has_ports && d.has_ips);
  d = dec(eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 6, l4, 0, 5, 12)), 1);  // total < header
  CHECK(d.malformed && !d.has_ports);
  d = dec(eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 6, l4, 0, 5, 1400)), 1);  // total > frame
  CHECK(d.malformed && d.has_ports);
  d = dec(eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 6, l4, 0, 5, 30)), 1);  // TCP header past total
  CHECK(d.malformed && !d.has_ports);
  d = dec(eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 6, tcp(1, 2, 0x10, 3))), 1);  // TCP doff 3
  CHECK(d.malformed && d.has_ports);
  d = dec(eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 17, udp(1, 2, 4, 3))), 1);  // UDP length 3
  CHECK(d.malformed && d.has_ports);
  Bytes v6in4 = ipv4(kGuest, kPeer, 6, l4);
  v6in4[0] = 0x65;  // version 6 in an IPv4 ethertype
  d = dec(eth(kMacPeer, kMacGuest, 0x0800, v6in4), 1);
  CHECK(d.malformed && !d.has_ips && !d.proto_known && d.l3 == L3Kind::ipv4);
  // Cut inside the IP options (the wire says they exist): truncated.
  d = dec(eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 6, l4, 0, 8)), 1, -1, 14 + 24);
  CHECK(d.truncated && !d.malformed && d.proto_known && !d.has_ports);
  // Frame shorter than an Ethernet header on the wire too: malformed.
  d = dec(Bytes(10, 0), 1);
  CHECK(d.malformed && !d.truncated && d.l3 == L3Kind::non_ip);

  g_context = "decode ipv6 extension headers";
  Bytes chain = cat({ext6(43, 0), ext6(60, 1), ext6(51, 0), ah6(6, 4), tcp(5000, 80, 0x02)});
  d = dec(eth(kMacPeer, kMacGuest, 0x86DD, ipv6(ip6(1), ip6(2), 0, chain)), 1);
  CHECK(d.l3 == L3Kind::ipv6 && d.proto_known && d.ip_proto == 6 && d.has_ports && d.dst_port == 80 && d.tcp_flags == 2 &&
        !d.malformed && !d.truncated);
  CHECK(ip_is(d.src_ip, ip6(1)) && ip_is(d.dst_ip, ip6(2)));
  d = dec(eth(kMacPeer, kMacGuest, 0x86DD, ipv6(ip6(1), ip6(2), 0, cat({ext6(50, 0), Bytes(30, 1)}))), 1);
  CHECK(d.ip_proto == 50 && !d.has_ports && !d.malformed);  // ESP: stop
  d = dec(eth(kMacPeer, kMacGuest, 0x86DD, ipv6(ip6(1), ip6(2), 59, Bytes())), 1);
  CHECK(d.ip_proto == 59 && d.proto_known && !d.malformed);
  d = dec(eth(kMacPeer, kMacGuest, 0x86DD, ipv6(ip6(1), ip6(2), 44, cat({frag6(17, 0, true), udp(9, 10)}))), 1);
  CHECK(d.fragment && d.has_ports && d.ip_proto == 17 && d.dst_port == 10);
  d = dec(eth(kMacPeer, kMacGuest, 0x86DD, ipv6(ip6(1), ip6(2), 44, cat({frag6(6, 100, false), Bytes(16, 0)}))), 1);
  CHECK(d.fragment && !d.has_ports && d.ip_proto == 6);
  d = dec(eth(kMacPeer, kMacGuest, 0x86DD, ipv6(ip6(1), ip6(2), 44, cat({frag6(6, 0, false), tcp(1, 2, 4)}))), 1);
  CHECK(!d.fragment && d.has_ports && d.tcp_flags == 4);  // atomic fragment
  // A chain running past the payload length: malformed.
  d = dec(eth(kMacPeer, kMacGuest, 0x86DD, ipv6(ip6(1), ip6(2), 0, cat({ext6(60, 3), tcp(1, 2, 2)}), 16)), 1);
  CHECK(d.malformed && !d.proto_known && !d.has_ports);
  // Payload length longer than the frame: malformed, parsed within the frame.
  d = dec(eth(kMacPeer, kMacGuest, 0x86DD, ipv6(ip6(1), ip6(2), 6, tcp(1, 2, 2), 1000)), 1);
  CHECK(d.malformed && d.has_ports);
  // A chain cut by the snaplen: truncated.
  Bytes longchain = eth(kMacPeer, kMacGuest, 0x86DD, ipv6(ip6(1), ip6(2), 0, cat({ext6(6, 4), tcp(1, 2, 2)})));
  d = dec(longchain, 1, -1, 14 + 40 + 20);
  CHECK(d.truncated && !d.malformed && !d.proto_known && d.has_ips);
  for (size_t n = 0; n < longchain.size(); n++) dec(longchain, 1, -1, n);
  // Jumbogram-style payload length 0: the rest of the frame.
  d = dec(eth(kMacPeer, kMacGuest, 0x86DD, ipv6(ip6(1), ip6(2), 17, udp(1, 2, 4, 0), 0)), 1);
  CHECK(d.has_ports && !d.malformed);

  g_context = "decode icmp";
  d = dec(eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 1, icmp(8, 0))), 1);
  CHECK(d.has_icmp && d.icmp_type == 8 && d.ip_proto == 1 && !d.has_ports);
  d = dec(eth(kMacPeer, kMacGuest, 0x86DD, ipv6(ip6(1), ip6(2), 58, icmp(135, 0))), 1);
  CHECK(d.has_icmp && d.icmp_type == 135 && d.ip_proto == 58);

  g_context = "decode link types";
  Bytes ip = ipv4(kGuest, kPeer, 17, udp(1234, 53));
  Bytes ip6p = ipv6(ip6(1), ip6(2), 6, tcp(1, 443, 0x18));
  Bytes sll = cat({N().u16(4).u16(1).u16(6).arr(kMacGuest).u16(0).u16(0x0800).b, ip});
  d = dec(sll, 113);
  CHECK(d.l3 == L3Kind::ipv4 && d.dst_port == 53 && d.has_src_mac && !d.has_dst_mac &&
        std::memcmp(d.src_mac, kMacGuest.data(), 6) == 0);
  d = dec(cat({N().u16(0).u16(772).u16(0).u32(0).u32(0).u16(0x86DD).b, ip6p}), 113);  // loopback ARPHRD
  CHECK(d.l3 == L3Kind::ipv6 && d.dst_port == 443 && !d.has_src_mac);
  d = dec(cat({N().u16(0x0004).u16(1).u16(6).arr(kMacGuest).u16(0).u16(0x0004).b, Bytes(20, 0)}), 113);
  CHECK(d.l3 == L3Kind::other);
  Bytes sll2 = cat({N().u16(0x0800).u16(0).u32(3).u16(1).u8(0).u8(6).arr(kMacGuest).u16(0).b, ip});
  d = dec(sll2, 276);
  CHECK(d.l3 == L3Kind::ipv4 && d.src_port == 1234 && d.has_src_mac);
  d = dec(cat({N().u16(0x8100).u16(0).u32(3).u16(1).u8(0).u8(6).arr(kMacGuest).u16(0).u16(5).u16(0x86DD).b, ip6p}), 276);
  CHECK(d.l3 == L3Kind::ipv6 && d.vlan_depth == 1 && d.dst_port == 443);
  d = dec(sll2, 276, -1, 19);
  CHECK(d.truncated && d.l3 == L3Kind::non_ip);
  d = dec(ip, 101);
  CHECK(d.l3 == L3Kind::ipv4 && d.dst_port == 53 && !d.has_src_mac && d.ethertype == 0x0800);
  d = dec(ip6p, 101);
  CHECK(d.l3 == L3Kind::ipv6 && d.dst_port == 443);
  d = dec(Bytes{0x50, 0, 0, 0}, 101);
  CHECK(d.malformed && d.l3 == L3Kind::other);
  d = dec(Bytes(), 101, 40);
  CHECK(d.truncated && d.l3 == L3Kind::non_ip);
  d = dec(ip, 228);
  CHECK(d.l3 == L3Kind::ipv4 && d.dst_port == 53);
  d = dec(ip6p, 229);
  CHECK(d.l3 == L3Kind::ipv6 && d.dst_port == 443);
  d = dec(ip6p, 228);
  CHECK(d.l3 == L3Kind::ipv4 && d.malformed);
  d = dec(cat({Bytes{2, 0, 0, 0}, ip}), 0);  // AF_INET, little-endian host
  CHECK(d.l3 == L3Kind::ipv4 && d.dst_port == 53);
  d = dec(cat({Bytes{0, 0, 0, 2}, ip}), 0);  // big-endian host
  CHECK(d.l3 == L3Kind::ipv4);
  for (uint8_t af : {24, 28, 30}) {
    d = dec(cat({Bytes{af, 0, 0, 0}, ip6p}), 0);
    CHECK(d.l3 == L3Kind::ipv6 && d.dst_port == 443);
    d = dec(cat({Bytes{0, 0, 0, af}, ip6p}), 0);
    CHECK(d.l3 == L3Kind::ipv6);
  }
  d = dec(cat({Bytes{0, 0, 0, 2}, ip}), 108);
  CHECK(d.l3 == L3Kind::ipv4);
  d = dec(cat({Bytes{7, 0, 0, 0}, ip}), 0);
  CHECK(d.l3 == L3Kind::other);
  d = dec(Bytes{2, 0}, 0);
  CHECK(d.malformed && d.l3 == L3Kind::non_ip);
  d = dec(f, 147);  // a link type not decoded
  CHECK(d.l3 == L3Kind::non_ip && !d.truncated && !d.malformed);

  g_context = "decode fast path == generic";
  {
    std::mt19937 rng(8);
    std::vector<Bytes> bases = {
        eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 6, tcp(40000, 443, 0x12))),
        eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 6, tcp(40000, 443, 0x18, 8, 100))),
        eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 17, udp(53, 5353, 0))),
        eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 17, udp(53, 5353, 30))),
        eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 1, icmp(8, 0)))};
    size_t fast = 0;
    for (int i = 0; i < 60000; i++) {
      Bytes f = bases[size_t(i) % bases.size()];
      if (i % 7 == 1) f.resize(f.size() + rng() % 20, 0);  // Ethernet padding
      int muts = i % 4;
      for (int j = 0; j < muts; j++) {
        size_t at = 12 + rng() % (f.size() - 12);
        f[at] = uint8_t(rng() % 3 == 0 ? rng() : f[at] ^ (1u << (rng() % 8)));
      }
      size_t cap = i % 5 == 0 ? rng() % (f.size() + 1) : f.size();
      int64_t wire = i % 6 == 0 ? int64_t(rng() % (f.size() + 40)) : int64_t(f.size());
      std::unique_ptr<uint8_t[]> b(new uint8_t[cap ? cap : 1]);
      if (cap) std::memcpy(b.get(), f.data(), cap);
      Packet p{0, uint32_t(cap), uint32_t(wire), 1, 0, b.get()};
      Decoded a, g;
      bool ra = decode(p, &a), rg = decode_generic(p, &g);
      CHECK(ra == rg);
      if (std::memcmp(&a, &g, sizeof a) != 0) {
        CHECK(std::memcmp(&a, &g, sizeof a) == 0);
        break;
      }
      fast += !a.truncated && !a.malformed && a.has_ports;
    }
    CHECK(fast > 10000);
  }

  g_context = "decode random frames";
  std::mt19937 rng(3);
  for (int i = 0; i < 20000; i++) {
    Bytes r(size_t(rng() % 120), 0);
    for (uint8_t& x : r) x = uint8_t(rng());
    if (r.size() > 13 && (i & 1)) {
      r[12] = (i & 2) ? 0x08 : 0x86;
      r[13] = (i & 2) ? 0x00 : 0xDD;
      if (r.size() > 14) r[14] = (i & 2) ? 0x45 : 0x60;
    }
    static const uint32_t lts[] = {1, 113, 276, 101, 228, 229, 0, 108};
    dec(r, lts[i % 8], int64_t(rng() % 3 == 0 ? rng() % 200 : r.size()));
  }
}

// ---------------------------------------------------------------------------
// Bucketizer.

constexpr int64_t kT0 = 1700000000LL * 1000000000;
constexpr int64_t kMs = 1000000;

struct Feeder {
  Bytes storage;
  // Feeds a frame at time ts (ns since epoch) with the given link type.
  static void send(Bucketizer& b, const Bytes& frame, int64_t ts, uint32_t linktype = 1, int64_t wirelen = -1) {
    std::unique_ptr<uint8_t[]> buf(new uint8_t[frame.size() ? frame.size() : 1]);
    if (!frame.empty()) std::memcpy(buf.get(), frame.data(), frame.size());
    Packet p{ts, uint32_t(frame.size()), wirelen >= 0 ? uint32_t(wirelen) : uint32_t(frame.size()), linktype, 0, buf.get()};
    b.packet(p);
  }
};

std::vector<BucketRow> all_rows(Bucketizer& b, bool flush = true) {
  if (flush) b.flush();
  std::vector<BucketRow> out;
  for (;;) {
    auto& r = b.ready();
    if (r.empty()) break;
    out.insert(out.end(), r.begin(), r.end());
    r.clear();
  }
  return out;
}

BucketConfig guest_cfg(int64_t bucket_ms = 100) {
  BucketConfig c;
  c.bucket_ns = bucket_ms * kMs;
  c.guest_ips.push_back(mapped(kGuest));
  c.hash_seed = 42;
  return c;
}

uint64_t row_pkts(const BucketRow& r) { return r.pkts_in + r.pkts_out + r.pkts_unmatched; }
uint64_t row_cls(const BucketRow& r) {
  return r.pkts_tcp + r.pkts_udp + r.pkts_icmp + r.pkts_other_ip + r.pkts_arp + r.pkts_non_ip;
}

bool rows_equal(const BucketRow& a, const BucketRow& b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Whether rows are zero rows of consecutive 100 ms buckets from bucket from_k.
bool zeros(const std::vector<BucketRow>& rows, int64_t from_k) {
  bool ok = true;
  for (size_t i = 0; i < rows.size(); i++) ok &= rows[i].t_mono_ns == (from_k + int64_t(i)) * 100 * kMs && row_pkts(rows[i]) == 0;
  return ok;
}

void test_bucket_idiom() {
  g_context = "bucket idiom";
  // The field's own test: 10.200.0.1 -> 10.200.0.10, 50 ms apart, bridge_ip
  // 10.200.0.1, bucket 100 ms, synthesized as a pcap and read by the reader.
  BucketConfig c;
  c.bucket_ns = 100 * kMs;
  c.bridge_ips.push_back(mapped(kBridge));
  c.hash_seed = 1;
  Bucketizer b(c);
  Bytes f = cat({pcap_header(false, false), pcap_record(false, 1700000000, 0, tcp4(kBridge, kGuest, 22, 40000, 0x18)),
                 pcap_record(false, 1700000000, 50000, tcp4(kBridge, kGuest, 22, 40000, 0x18))});
  CaptureReader r{ReaderOptions()};
  CHECK(r.feed(f.data(), f.size(), b).ok);
  CHECK(r.finish().ok);
  auto rows = all_rows(b);
  CHECK(rows.size() >= 1);
  uint64_t n = 0;
  for (auto& x : rows) n += x.pkts_in + x.pkts_out;
  CHECK_EQ(n, 2u);
  CHECK_EQ(rows.size(), 1u);
  CHECK_EQ(rows[0].pkts_in, 2u);  // from the bridge: toward the guest
  CHECK_EQ(rows[0].bytes_in, 2 * tcp4(kBridge, kGuest, 22, 40000, 0x18).size());
  CHECK_EQ(rows[0].flows, 1u);
  CHECK_EQ(rows[0].new_flows, 1u);
  CHECK_EQ(rows[0].peers, 1u);
  CHECK_EQ(rows[0].dst_ports, 1u);
  CHECK_EQ(rows[0].t_mono_ns, 0);
  CHECK_EQ(b.packets(), 2u);
}

void test_bucket_direction_and_classes() {
  g_context = "bucket directions";
  BucketConfig c = guest_cfg();
  c.bridge_ips.push_back(mapped(kBridge));
  c.guest_macs.push_back(kMacGuest);
  Bucketizer b(c);
  Mac other = {2, 0, 0, 0, 0, 9};
  int64_t t = kT0;
  Feeder::send(b, eth(other, other, 0x0800, ipv4(kGuest, kPeer, 6, tcp(1, 2, 0))), t, 1, 1000);  // out: src guest
  Feeder::send(b, eth(other, other, 0x0800, ipv4(kPeer, kGuest, 6, tcp(2, 1, 0))), t, 1, 900);   // in: dst guest
  Feeder::send(b, eth(other, other, 0x0800, ipv4(kPeer, kBridge, 17, udp(5, 53))), t);           // out: to the bridge
  Feeder::send(b, eth(other, other, 0x0800, ipv4(kBridge, kPeer, 17, udp(53, 5))), t);           // in: from the bridge
  Feeder::send(b, eth(other, kMacGuest, 0x0800, ipv4(kPeer, kPeer, 1, icmp(8, 0))), t);          // out: guest MAC
  Feeder::send(b, eth(kMacGuest, other, 0x86DD, ipv6(ip6(1), ip6(2), 58, icmp(128, 0))), t);     // in: guest MAC
  Feeder::send(b, eth(other, other, 0x0806, arp(1, other, kGuest, Mac{}, kPeer)), t);            // out: ARP from the guest IP
  Feeder::send(b, eth(other, other, 0x0800, ipv4(kPeer, {1, 2, 3, 4}, 47, Bytes(8, 0))), t, 1, 77);  // unmatched, GRE
  Feeder::send(b, eth(other, other, 0x88cc, Bytes(50, 0)), t);                                  // unmatched non-IP
  Feeder::send(b, eth(other, other, 0x0800, ipv4(kGuest, kGuest, 6, tcp(1, 2, 0))), t);         // guest to guest: out
  Feeder::send(b, eth(other, other, 0x0800, Bytes(20, 0)), t);                                  // IPv4 version 0: malformed
  auto rows = all_rows(b);
  CHECK_EQ(rows.size(), 1u);
  if (rows.empty()) return;
  const BucketRow& r = rows[0];
  CHECK_EQ(r.pkts_out, 5u);
  CHECK_EQ(r.pkts_in, 3u);
  CHECK_EQ(r.pkts_unmatched, 3u);
  CHECK_EQ(r.bytes_unmatched, 77u + 64 + 34);
  CHECK(r.bytes_out >= 1000 && r.bytes_in >= 900);
  CHECK_EQ(r.pkts_tcp, 3u);
  CHECK_EQ(r.pkts_udp, 2u);
  CHECK_EQ(r.pkts_icmp, 2u);
  CHECK_EQ(r.pkts_other_ip, 2u);
  CHECK_EQ(r.pkts_arp, 1u);
  CHECK_EQ(r.pkts_non_ip, 1u);
  CHECK_EQ(row_pkts(r), 11u);
  CHECK_EQ(row_cls(r), 11u);
  CHECK_EQ(r.pkts_malformed, 1u);
  CHECK_EQ(r.pkts_truncated, 0u);
  // Peers: out -> dst, in -> src, unmatched -> both (IP only).
  // out: kPeer, kBridge, kPeer(icmp dst), kGuest(g2g dst); in: kPeer, kBridge, ip6(1); unmatched: kPeer, 1.2.3.4
  CHECK_EQ(r.peers, 5u);
}

// regression for: summarize()'s fast path (the common Ethernet/IPv4/TCP|UDP
// packet summarized straight from its bytes) giving a summary that differs
// from the one built through decode() (direction, class, flags, bits or
// hashes), which would change rows on the native path only.
bool summaries_equal(const PacketSummary& a, const PacketSummary& b) {
  return a.ts_ns == b.ts_ns && a.flow == b.flow && a.peer == b.peer && a.peer2 == b.peer2 && a.wirelen == b.wirelen &&
         a.dst_port == b.dst_port && a.dir == b.dir && a.cls == b.cls && a.tcp_flags == b.tcp_flags && a.bits == b.bits;
}

void test_summarize_fast() {
  g_context = "summarize fast path == through decode()";
  Mac other = {2, 0, 0, 0, 0, 9};
  std::vector<BucketConfig> cfgs(3, guest_cfg());
  cfgs[1].bridge_ips.push_back(mapped(kBridge));
  cfgs[1].guest_macs.push_back(kMacGuest);
  cfgs[1].guest_ips.push_back(ip6(10));
  cfgs[2].guest_ips.clear();
  cfgs[2].guest_macs.push_back(kMacGuest);
  std::vector<Bytes> bases = {
      eth(other, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 6, tcp(40000, 443, 0x12))),
      eth(kMacGuest, other, 0x0800, ipv4(kPeer, kGuest, 6, tcp(443, 40000, 0x18, 8, 100))),
      eth(other, other, 0x0800, ipv4(kPeer, kBridge, 17, udp(53, 5353, 0))),
      eth(other, other, 0x0800, ipv4(kBridge, kPeer, 17, udp(53, 5353, 30))),
      eth(other, other, 0x0800, ipv4(kPeer, {1, 2, 3, 4}, 6, tcp(1, 2, 0x11))),
      eth(kMacGuest, kMacGuest, 0x0800, ipv4(kGuest, kGuest, 17, udp(1, 2, 0))),
      eth(other, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 1, icmp(8, 0))),
      // One VLAN tag, IPv6 without extension headers, ICMP and ICMPv6: the fast path's other packets (issue 19).
      eth(other, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 6, tcp(40000, 443, 0x02)), {0x8100}),
      eth(kMacGuest, other, 0x0800, ipv4(kPeer, kGuest, 17, udp(53, 5353, 12)), {0x8100}),
      eth(kMacGuest, other, 0x0800, ipv4(kPeer, kGuest, 1, icmp(0, 0)), {0x8100}),
      eth(other, kMacGuest, 0x86DD, ipv6(ip6(10), ip6(34), 6, tcp(40000, 443, 0x12))),
      eth(kMacGuest, other, 0x86DD, ipv6(ip6(34), ip6(10), 17, udp(53, 5353, 3))),
      eth(other, kMacGuest, 0x86DD, ipv6(ip6(10), ip6(34), 58, icmp(128, 0))),
      eth(kMacGuest, other, 0x86DD, ipv6(ip6(34), ip6(10), 6, tcp(443, 40000, 0x11)), {0x8100}),
      // ... and what it must leave to decode(): ICMP in IPv6, ICMPv6 in IPv4, two tags, an 802.1ad tag, an extension header.
      eth(other, kMacGuest, 0x86DD, ipv6(ip6(10), ip6(34), 1, icmp(8, 0))),
      eth(other, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 58, icmp(128, 0))),
      eth(other, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 6, tcp(40000, 443, 0x02)), {0x8100, 0x8100}),
      eth(other, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 17, udp(1, 2, 0)), {0x88a8}),
      eth(other, kMacGuest, 0x86DD, ipv6(ip6(10), ip6(34), 0, cat({ext6(6, 0), tcp(40000, 443, 0x02)})))};
  std::mt19937 rng(11);
  size_t fast = 0, n = 0;
  for (size_t ci = 0; ci < cfgs.size(); ci++) {
    Bucketizer b(cfgs[ci]);
    const PacketSummarizer s = b.summarizer();
    for (int i = 0; i < 80000; i++) {
      Bytes f = bases[size_t(i) % bases.size()];
      if (i % 7 == 1) f.resize(f.size() + rng() % 20, 0);  // Ethernet padding
      int muts = i % 4;
      for (int j = 0; j < muts; j++) {
        size_t at = rng() % f.size();
        f[at] = uint8_t(rng() % 3 == 0 ? rng() : f[at] ^ (1u << (rng() % 8)));
      }
      size_t cap = i % 5 == 0 ? rng() % (f.size() + 1) : f.size();
      uint32_t wire = i % 6 == 0 ? uint32_t(rng() % (f.size() + 40)) : uint32_t(f.size());
      std::unique_ptr<uint8_t[]> buf(new uint8_t[cap ? cap : 1]);
      if (cap) std::memcpy(buf.get(), f.data(), cap);
      Packet p{kT0 + i, uint32_t(cap), wire, i % 50 == 3 ? 113u : 1u, 0, buf.get()};
      PacketSummary a, g;
      s.summarize(p, &a);
      s.summarize_generic(p, &g);
      n++;
      if (!summaries_equal(a, g)) {
        CHECK(summaries_equal(a, g));
        std::fprintf(stderr, "    config %zu, frame %d differs\n", ci, i);
        return;
      }
      Decoded d;
      decode(p, &d);
      fast += p.linktype == 1 && (d.l3 == L3Kind::ipv4 || d.l3 == L3Kind::ipv6) && d.vlan_depth <= 1 && !d.truncated &&
              !d.malformed && (d.has_ports || d.has_icmp) && !d.fragment;
    }
  }
  CHECK(n > 0);
  CHECK(fast > 80000);  // packets the fast path takes were among them, not only generic ones
}

void test_bucket_counts() {
  g_context = "bucket flows, peers, ports, flags";
  BucketConfig c = guest_cfg(100);
  Bucketizer b(c);
  int64_t t = kT0;
  IP4 p2 = {1, 1, 1, 1};
  // Bucket 0: SYN out, SYN/ACK in (a reply: another 5-tuple), ACK out
  // (same flow as the SYN), FIN, RST; UDP to two ports; ICMP.
  Feeder::send(b, tcp4(kGuest, kPeer, 40000, 443, 0x02), t);
  Feeder::send(b, tcp4(kPeer, kGuest, 443, 40000, 0x12), t + 1 * kMs);
  Feeder::send(b, tcp4(kGuest, kPeer, 40000, 443, 0x10), t + 2 * kMs);
  Feeder::send(b, tcp4(kGuest, kPeer, 40000, 443, 0x11), t + 3 * kMs);
  Feeder::send(b, tcp4(kGuest, p2, 40001, 80, 0x04), t + 4 * kMs);
  Feeder::send(b, eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, p2, 17, udp(5000, 53))), t + 5 * kMs);
  Feeder::send(b, eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, p2, 17, udp(5000, 443))), t + 6 * kMs);
  Feeder::send(b, eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, p2, 1, icmp(8, 0))), t + 7 * kMs);
  // A non-first fragment: counted as TCP, names no flow.
  Feeder::send(b, eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 6, Bytes(16, 0), 0x0010)), t + 8 * kMs);
  // Bucket 1: the first flow again (not new), a new one.
  Feeder::send(b, tcp4(kGuest, kPeer, 40000, 443, 0x10), t + 100 * kMs);
  Feeder::send(b, tcp4(kGuest, kPeer, 40002, 443, 0x02), t + 150 * kMs);
  // Bucket 7 after a gap: the first flow again, 700 ms later (idle 60 s: not new).
  Feeder::send(b, tcp4(kGuest, kPeer, 40000, 443, 0x10), t + 700 * kMs);
  auto rows = all_rows(b);
  CHECK_EQ(rows.size(), 8u);
  if (rows.size() != 8) return;
  const BucketRow& r0 = rows[0];
  CHECK_EQ(r0.tcp_syn, 1u);
  CHECK_EQ(r0.tcp_synack, 1u);
  CHECK_EQ(r0.tcp_fin, 1u);
  CHECK_EQ(r0.tcp_rst, 1u);
  CHECK_EQ(r0.pkts_tcp, 6u);
  CHECK_EQ(r0.pkts_udp, 2u);
  CHECK_EQ(r0.pkts_icmp, 1u);
  CHECK_EQ(r0.flows, 6u);  // 40000>443, 443>40000, 40001>80, udp>53, udp>443, icmp
  CHECK_EQ(r0.new_flows, 6u);
  CHECK_EQ(r0.dst_ports, 4u);  // 443, 40000, 80, 53 (UDP 443 is the same number)
  CHECK_EQ(r0.peers, 2u);
  CHECK_EQ(r0.pkts_out, 8u);
  CHECK_EQ(r0.pkts_in, 1u);
  const BucketRow& r1 = rows[1];
  CHECK_EQ(r1.flows, 2u);
  CHECK_EQ(r1.new_flows, 1u);
  CHECK_EQ(r1.t_mono_ns, 100 * kMs);
  for (int i = 2; i < 7; i++) {
    CHECK_EQ(row_pkts(rows[i]), 0u);
    CHECK_EQ(rows[i].t_mono_ns, i * 100 * kMs);
  }
  CHECK_EQ(rows[7].flows, 1u);
  CHECK_EQ(rows[7].new_flows, 0u);
  CHECK_EQ(rows[7].t_mono_ns, 700 * kMs);
}

void test_bucket_time() {
  g_context = "bucket fill_empty off";
  {
    BucketConfig c = guest_cfg(10);
    c.fill_empty = false;
    Bucketizer b(c);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 55 * kMs);
    auto rows = all_rows(b);
    CHECK(rows.size() == 2 && rows[0].t_mono_ns == 0 && rows[1].t_mono_ns == 50 * kMs);
  }
  g_context = "bucket origin and negative times";
  {
    BucketConfig c = guest_cfg(100);
    c.have_origin = true;
    c.origin_wall_ns = kT0 + 1000 * kMs;  // packets before the origin: negative t
    Bucketizer b(c);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 850 * kMs);  // t = -150 ms: bucket -2
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 1050 * kMs);  // t = +50 ms: bucket 0
    auto rows = all_rows(b);
    CHECK_EQ(rows.size(), 3u);
    if (rows.size() == 3) {
      CHECK_EQ(rows[0].t_mono_ns, -200 * kMs);
      CHECK_EQ(rows[1].t_mono_ns, -100 * kMs);
      CHECK_EQ(rows[2].t_mono_ns, 0);
      CHECK_EQ(row_pkts(rows[1]), 0u);
    }
  }
  g_context = "bucket late packets, lateness 0";
  {
    Bucketizer b(guest_cfg(100));
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 250 * kMs);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 20 * kMs);   // bucket 0 is closed: goes to 2
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 - 500 * kMs);  // before the first packet: late too
    auto rows = all_rows(b);
    CHECK_EQ(rows.size(), 3u);
    if (rows.size() == 3) {
      CHECK_EQ(row_pkts(rows[2]), 3u);
      CHECK_EQ(rows[2].pkts_late, 2u);
      CHECK_EQ(rows[0].pkts_late, 0u);
    }
  }
  g_context = "bucket late packets, lateness 150 ms";
  {
    BucketConfig c = guest_cfg(100);
    c.lateness_ns = 150 * kMs;
    c.have_origin = true;
    c.origin_wall_ns = kT0;
    Bucketizer b(c);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 50 * kMs);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 3, 0), kT0 + 220 * kMs);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 4, 0), kT0 + 30 * kMs);  // bucket 0 open until 250 ms: on time
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 5, 0), kT0 + 130 * kMs);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 300 * kMs);  // closes bucket 0
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 6, 0), kT0 + 40 * kMs);   // bucket 0 closed: to bucket 1
    auto& early = b.ready();
    CHECK_EQ(early.size(), 1u);  // bucket 0 was closed by the 300 ms packet
    auto rows = all_rows(b);  // includes the row already in ready()
    CHECK_EQ(rows.size(), 4u);
    if (rows.size() == 4) {
      CHECK_EQ(row_pkts(rows[0]), 2u);
      CHECK_EQ(rows[0].dst_ports, 2u);
      CHECK_EQ(rows[0].flows, 2u);
      CHECK_EQ(rows[0].pkts_late, 0u);
      CHECK_EQ(row_pkts(rows[1]), 2u);
      CHECK_EQ(rows[1].pkts_late, 1u);
      CHECK_EQ(row_pkts(rows[2]), 1u);
      CHECK_EQ(row_pkts(rows[3]), 1u);
      CHECK_EQ(rows[3].flows, 1u);
      CHECK_EQ(rows[3].new_flows, 0u);  // port 2 was seen in bucket 0
    }
  }
  g_context = "bucket advance (live)";
  {
    BucketConfig c = guest_cfg(100);
    c.lateness_ns = 50 * kMs;
    c.have_origin = true;
    c.origin_wall_ns = kT0;
    Bucketizer b(c);
    b.advance(500 * kMs);  // nothing yet: no rows
    CHECK(b.ready().empty());
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 10 * kMs);
    b.advance(140 * kMs);
    CHECK(b.ready().empty());  // bucket 0 stays open until 150 ms
    b.advance(150 * kMs);
    auto& r = b.ready();
    CHECK(r.size() == 1 && r[0].t_mono_ns == 0 && row_pkts(r[0]) == 1);
    r.clear();
    b.advance(455 * kMs);  // buckets 1..3 closed, empty: zero rows
    auto& z = b.ready();
    CHECK(z.size() == 3 && z.back().t_mono_ns == 300 * kMs && row_pkts(z.back()) == 0);
    z.clear();
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 460 * kMs);
    CHECK(b.flush());  // the last bucket ends at 500 ms, the clock is at 460 ms: cut short
    auto rows = all_rows(b, false);
    CHECK(rows.size() == 1 && rows[0].t_mono_ns == 400 * kMs);
    CHECK(!b.flush());
  }
  g_context = "bucket begin/end (live)";
  {
    BucketConfig c = guest_cfg(100);
    c.have_origin = true;
    c.origin_wall_ns = kT0;
    // No traffic: a zero row per bucket from the begin's bucket on.
    Bucketizer b(c);
    CHECK(b.begin(250 * kMs) == nullptr);
    CHECK(b.ready().empty());
    b.advance(1000 * kMs);
    auto rows = all_rows(b, false);
    CHECK_EQ(rows.size(), 8u);  // buckets 2..9
    CHECK(zeros(rows, 2));
    EndResult e;
    CHECK(b.end(1050 * kMs, &e) == nullptr);
    rows = all_rows(b, false);
    CHECK(rows.size() == 1 && zeros(rows, 10));  // bucket 10 starts before 1050 ms
    CHECK(e.last_partial);
    CHECK_EQ(e.packets_after_end, 0u);
    // Over: everything is refused or does nothing.
    CHECK(b.ended());
    CHECK(std::string(b.begin(2000 * kMs)) == "the series has ended");
    EndResult e2;
    e2.last_partial = true;
    CHECK(std::string(b.end(2000 * kMs, &e2)) == "the series has ended");
    CHECK(!e2.last_partial && e2.packets_after_end == 0);
    b.advance(5000 * kMs);
    CHECK(!b.flush());
    CHECK(all_rows(b, false).empty());
  }
  {
    g_context = "bucket begin: earlier packets are late";
    BucketConfig c = guest_cfg(100);
    c.have_origin = true;
    c.origin_wall_ns = kT0;
    Bucketizer b(c);
    CHECK(b.begin(250 * kMs) == nullptr);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 150 * kMs);  // bucket 1, before the first: late into 2
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 - 500 * kMs);  // before the origin: late too
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 210 * kMs);  // before the begin, in its bucket: on time
    CHECK(all_rows(b, false).empty());
    EndResult e;
    CHECK(b.end(300 * kMs, &e) == nullptr);  // on the edge of bucket 3
    auto rows = all_rows(b, false);
    CHECK_EQ(rows.size(), 1u);
    if (rows.size() == 1) {
      CHECK_EQ(rows[0].t_mono_ns, 200 * kMs);
      CHECK_EQ(row_pkts(rows[0]), 3u);
      CHECK_EQ(rows[0].pkts_late, 2u);
    }
    CHECK(!e.last_partial);  // bucket 2 ends at 300 ms: whole
    CHECK_EQ(e.packets_after_end, 0u);
    CHECK_EQ(b.packets(), 3u);
  }
  for (int64_t late : {int64_t(0), 2000 * kMs}) {
    g_context = "bucket end: packets after it, lateness " + std::to_string(late / kMs) + " ms";
    BucketConfig c = guest_cfg(100);
    c.have_origin = true;
    c.origin_wall_ns = kT0;
    c.lateness_ns = late;
    Bucketizer b(c);
    CHECK(b.begin(0) == nullptr);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 50 * kMs);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 310 * kMs);  // after the end, in its bucket: in the row
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 3, 0), kT0 + 420 * kMs);  // buckets after the end's: dropped
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 3, 0), kT0 + 430 * kMs);
    if (late) Feeder::send(b, tcp4(kGuest, kPeer, 1, 4, 0), kT0 + 2010 * kMs);
    EndResult e;
    CHECK(b.end(305 * kMs, &e) == nullptr);
    auto rows = all_rows(b, false);
    CHECK_EQ(rows.size(), 4u);  // 0, 1, 2, 3: whether the packets or end() closed them
    if (rows.size() == 4) {
      CHECK_EQ(row_pkts(rows[0]), 1u);
      CHECK(zeros(std::vector<BucketRow>(rows.begin() + 1, rows.begin() + 3), 1));
      CHECK_EQ(rows[3].t_mono_ns, 300 * kMs);
      CHECK_EQ(row_pkts(rows[3]), 1u);
    }
    // Lateness 0: the 420 ms packet closed bucket 3, end() closed nothing.
    CHECK_EQ(e.last_partial, late != 0);
    CHECK_EQ(e.packets_after_end, late ? 3u : 2u);
    CHECK(b.ended());
  }
  {
    g_context = "bucket begin/end with lateness";
    BucketConfig c = guest_cfg(100);
    c.have_origin = true;
    c.origin_wall_ns = kT0;
    c.lateness_ns = 250 * kMs;
    Bucketizer b(c);
    CHECK(b.begin(250 * kMs) == nullptr);
    b.advance(1000 * kMs);  // buckets ending by 750 ms: 2..6
    auto rows = all_rows(b, false);
    CHECK(rows.size() == 5 && zeros(rows, 2));
    EndResult e;
    CHECK(b.end(1000 * kMs, &e) == nullptr);  // 7..9, lateness or not
    rows = all_rows(b, false);
    CHECK(rows.size() == 3 && zeros(rows, 7));
    CHECK(!e.last_partial);
    // A packet just before the end, in a bucket still open for lateness.
    Bucketizer b2(c);
    CHECK(b2.begin(250 * kMs) == nullptr);
    Feeder::send(b2, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 990 * kMs);
    rows = all_rows(b2, false);
    CHECK(rows.size() == 5 && zeros(rows, 2));  // 990 - 250 ms closed 2..6
    CHECK(b2.end(995 * kMs, &e) == nullptr);
    rows = all_rows(b2, false);
    CHECK_EQ(rows.size(), 3u);
    if (rows.size() == 3) CHECK(zeros({rows[0], rows[1]}, 7) && rows[2].t_mono_ns == 900 * kMs && row_pkts(rows[2]) == 1);
    CHECK(e.last_partial);
    CHECK_EQ(e.packets_after_end, 0u);
  }
  {
    g_context = "bucket begin refused";
    BucketConfig c = guest_cfg(100);
    c.have_origin = true;
    c.origin_wall_ns = kT0;
    Bucketizer twice(c);
    CHECK(twice.begin(0) == nullptr);
    CHECK(std::string(twice.begin(100 * kMs)) == "begin(): the series has already started");
    Bucketizer after_packet(c);
    Feeder::send(after_packet, tcp4(kGuest, kPeer, 1, 2, 0), kT0);  // still pending in the batch
    CHECK(std::string(after_packet.begin(0)) == "begin(): the series has already started");
    Bucketizer no_origin(guest_cfg(100));
    CHECK(std::string(no_origin.begin(0)) == "begin() needs originWallNs (a series on the episode clock)");
    // Without a begin or a packet, end() has nothing to close, and ends.
    EndResult e;
    CHECK(no_origin.end(500 * kMs, &e) == nullptr);
    CHECK(!e.last_partial && e.packets_after_end == 0 && all_rows(no_origin, false).empty());
    CHECK(std::string(no_origin.begin(0)) == "the series has ended");
    // fill_empty off: a silent capture gives no rows.
    c.fill_empty = false;
    Bucketizer quiet(c);
    CHECK(quiet.begin(0) == nullptr);
    quiet.advance(1000 * kMs);
    CHECK(quiet.end(1050 * kMs, &e) == nullptr);
    CHECK(all_rows(quiet, false).empty());
  }
  g_context = "bucket huge gap";
  {
    // A gap within max_empty_buckets is filled whole, across several ready()
    // batches; a jump past it (a century, clamped to 2^60 ns) gets what the
    // fill budget holds (max_empty_buckets + 16 per packet, less what the
    // first gap took), and the rest is counted in the next row.
    BucketConfig c = guest_cfg(1);
    c.max_empty_buckets = 200000;
    Bucketizer b(c);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 150 * 1000 * kMs);  // 149999 empty buckets
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 100LL * 365 * 86400 * 1000 * kMs);  // a century: a gap
    b.flush();
    CHECK(b.rows_pending());
    size_t total = 0, calls = 0;
    int64_t last = INT64_MIN;
    bool increasing = true;
    BucketRow final_row;
    for (;;) {
      auto& r = b.ready();
      if (r.empty()) break;
      CHECK(r.size() <= 65536 + 2);
      calls++;
      for (auto& x : r) {
        increasing &= x.t_mono_ns > last;
        last = x.t_mono_ns;
        final_row = x;
      }
      total += r.size();
      r.clear();
    }
    CHECK(increasing);
    const uint64_t budget_left = 200000 + 16 - 149999 + 16;  // the first gap took 149999
    CHECK_EQ(total, 150001u + budget_left + 1);
    CHECK(calls >= 3);
    CHECK_EQ(b.holes(), 1u);
    const uint64_t k = (uint64_t(1) << 60) / uint64_t(kMs);  // the clamped packet's bucket
    CHECK_EQ(uint64_t(final_row.t_mono_ns), k * uint64_t(kMs));
    CHECK_EQ(final_row.empty_buckets_skipped, k - 150001 - budget_left);
    CHECK_EQ(b.empty_buckets_skipped(), final_row.empty_buckets_skipped);
  }
}

// Every bucket between two rows was written or counted in the later row's
// empty_buckets_skipped. Returns their sum.
uint64_t check_gaps(const std::vector<BucketRow>& rows, int64_t b) {
  uint64_t sum = 0;
  bool ok = rows.size() > 1;
  for (size_t i = 1; i < rows.size(); i++) {
    ok &= uint64_t((rows[i].t_mono_ns - rows[i - 1].t_mono_ns) / b - 1) == rows[i].empty_buckets_skipped;
    sum += rows[i].empty_buckets_skipped;
  }
  CHECK(ok);
  return sum;
}

uint64_t pkts_of(const BucketRow& r) { return r.pkts_in + r.pkts_out + r.pkts_unmatched; }

// Issue 17 point 6: timestamp jumps cannot make millions of zero rows.
void test_bucket_gaps() {
  g_context = "bucket gaps: alternating jumps just under the bound";
  {
    // 100 packets 3599 empty buckets apart: the old fill wrote every one (360,000 rows).
    Bucketizer b(guest_cfg(100));
    for (int i = 0; i < 100; i++) Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + int64_t(i) * 3600 * 100 * kMs);
    auto rows = all_rows(b);
    CHECK(rows.size() <= 100 + 3600 + 16 * 100);
    CHECK_EQ(rows.size(), size_t(100 + 3599 + 17 + 98 * 16));
    uint64_t pk = 0;
    for (auto& r : rows) pk += pkts_of(r);
    CHECK_EQ(pk, 100u);
    uint64_t skipped = check_gaps(rows, 100 * kMs);
    CHECK_EQ(skipped, 99u * 3599 - (3599 + 17 + 98 * 16));
    CHECK_EQ(b.empty_buckets_skipped(), skipped);
    CHECK_EQ(b.holes(), 98u);
  }
  g_context = "bucket gaps: fill_empty off counts every empty bucket, no holes";
  {
    BucketConfig c = guest_cfg(100);
    c.fill_empty = false;
    Bucketizer b(c);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 5 * 100 * kMs);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 6 * 100 * kMs);
    auto rows = all_rows(b);
    CHECK_EQ(rows.size(), 3u);
    CHECK(rows[0].empty_buckets_skipped == 0 && rows[1].empty_buckets_skipped == 4 && rows[2].empty_buckets_skipped == 0);
    CHECK_EQ(b.holes(), 0u);
    CHECK_EQ(b.empty_buckets_skipped(), 4u);
  }
  g_context = "bucket gaps: a replayed run (trusted_until_ns) is written whole";
  {
    BucketConfig c = guest_cfg(100);
    c.have_origin = true;
    c.origin_wall_ns = kT0;
    c.max_empty_buckets = 5;
    c.trusted_until_ns = 2000 * 100 * kMs;
    Bucketizer b(c);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 1000 * 100 * kMs);  // 999 observed empty buckets
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 3000 * 100 * kMs);  // 999 observed, then 1000 not
    auto rows = all_rows(b);
    CHECK_EQ(rows.size(), size_t(1 + 999 + 1 + 999 + 5 + 1));
    CHECK_EQ(rows.back().empty_buckets_skipped, 995u);
    CHECK_EQ(check_gaps(rows, 100 * kMs), 995u);
  }
  g_context = "bucket gaps: live, the clock's empty buckets all written; one ahead of it bounded, the count on the next row";
  {
    BucketConfig c = guest_cfg(100);
    c.have_origin = true;
    c.origin_wall_ns = kT0;
    c.lateness_ns = 2000 * kMs;
    c.max_empty_buckets = 5;
    Bucketizer b(c);
    CHECK(b.begin(0) == nullptr);
    for (int64_t t = 100; t <= 1000; t += 100) b.advance(t * kMs);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + 10000 * kMs);  // 9 s ahead of the clock
    b.advance(12000 * kMs);  // the clock passes the buckets the packet's lateness kept open
    EndResult e;
    CHECK(b.end(12500 * kMs, &e) == nullptr);
    auto rows = all_rows(b, false);
    CHECK_EQ(rows.size(), size_t(1 + 9 + 5 + 20 + 1 + 24));
    CHECK_EQ(rows[15].t_mono_ns, 80 * 100 * kMs);
    CHECK_EQ(rows[15].empty_buckets_skipped, 65u);
    CHECK_EQ(pkts_of(rows[35]), 1u);
    CHECK_EQ(check_gaps(rows, 100 * kMs), 65u);
    CHECK_EQ(b.holes(), 1u);
    // A silence of 10000 buckets the clock passed: every one written, max_empty_buckets or not.
    Bucketizer q(c);
    CHECK(q.begin(0) == nullptr);
    for (int64_t t = 1000; t <= 1000000; t += 1000) q.advance(t * kMs);
    CHECK(q.end(1000000 * kMs, &e) == nullptr);
    auto quiet = all_rows(q, false);
    CHECK_EQ(quiet.size(), 10000u);
    CHECK_EQ(check_gaps(quiet, 100 * kMs), 0u);
  }
  g_context = "bucket gaps: a gap past 2^53 buckets saturates at 2^53 - 1 on its row and in the total";
  {
    // regression for: sat_add(0, n) returned n whole when n > 2^53 - 1 (only a sum that crossed it saturated), so
    // the first skip of a 2^60-bucket gap wrote 1152921504606846972 while the TS path wrote 9007199254740991.
    BucketConfig c = guest_cfg(100);
    c.bucket_ns = 1;
    c.max_empty_buckets = 3;
    Bucketizer b(c);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0);
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + (int64_t(1) << 62));  // clamped to 2^60 ns past the first
    Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), kT0 + (int64_t(1) << 62));
    auto rows = all_rows(b);
    const uint64_t max_count = (uint64_t(1) << 53) - 1;
    CHECK_EQ(rows.size(), 5u);
    CHECK_EQ(rows.back().empty_buckets_skipped, max_count);
    CHECK_EQ(b.empty_buckets_skipped(), max_count);
    CHECK_EQ(b.holes(), 1u);
  }
}

// The same in-order packets through lateness 0 (the fast single-bucket
// path) and lateness > 0 (BucketSets): identical rows.
void test_bucket_modes_agree() {
  g_context = "bucket single vs multi";
  std::mt19937 rng(5);
  std::vector<std::pair<Bytes, int64_t>> pkts;
  int64_t t = kT0;
  for (int i = 0; i < 30000; i++) {
    t += int64_t(rng() % 3000) * 1000;
    IP4 peer = {10, 0, uint8_t(rng() % 4), uint8_t(rng() % 50)};
    bool out = rng() & 1;
    uint16_t sp = uint16_t(1000 + rng() % 40), dp = uint16_t(rng() % 3 ? 443 : 1 + rng() % 2000);
    Bytes f;
    switch (rng() % 6) {
      case 0: f = eth(kMacPeer, kMacGuest, 0x0800, ipv4(peer, kGuest, 17, udp(dp, sp))); break;
      case 1: f = eth(kMacPeer, kMacGuest, 0x0806, arp(1, kMacGuest, kGuest, Mac{}, peer)); break;
      case 2: f = eth(kMacPeer, kMacGuest, 0x86DD, ipv6(ip6(uint8_t(rng() % 9)), mapped(kGuest), 6, tcp(sp, dp, 0x10))); break;
      default: f = out ? tcp4(kGuest, peer, sp, dp, uint8_t(rng())) : tcp4(peer, kGuest, dp, sp, uint8_t(rng())); break;
    }
    pkts.push_back({f, t});
  }
  for (uint32_t table : {262144u, 64u}) {
    BucketConfig a = guest_cfg(50), m = guest_cfg(50);
    a.flow_table_max = m.flow_table_max = table;
    a.flow_idle_ns = m.flow_idle_ns = 2000 * kMs;
    m.lateness_ns = 120 * kMs;
    Bucketizer ba(a), bm(m);
    for (auto& p : pkts) {
      Feeder::send(ba, p.first, p.second);
      Feeder::send(bm, p.first, p.second);
    }
    auto ra = all_rows(ba), rm = all_rows(bm);
    CHECK_EQ(ra.size(), rm.size());
    size_t diff = 0;
    for (size_t i = 0; i < std::min(ra.size(), rm.size()); i++) diff += !rows_equal(ra[i], rm[i]);
    CHECK_EQ(diff, 0u);
    uint64_t n = 0;
    for (auto& r : ra) {
      n += row_pkts(r);
      CHECK(row_cls(r) == row_pkts(r) && r.new_flows <= r.flows);
    }
    CHECK_EQ(n, pkts.size());
  }
  // Through the pipeline (read+parse and bucket threads), from a file: the
  // same as serial, wherever packets are summarized. Reads of 4099 and 97
  // bytes split records, so the reader delivers them from its own buffer
  // (summarized at once); two chunks under eight jobs, with a bucket thread
  // that falls behind now and then, make the parse thread wait for a chunk
  // that raw jobs still point into.
  g_context = "pipeline";
  Bytes file = pcap_header(false, true, 65535);
  for (auto& p : pkts) {
    Bytes rec = pcap_record(false, uint32_t(p.second / 1000000000), uint32_t(p.second % 1000000000), p.first);
    file.insert(file.end(), rec.begin(), rec.end());
  }
  char path[] = "/tmp/pcap_tests_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0) return;
  CHECK(write(fd, file.data(), file.size()) == ssize_t(file.size()));
  Bucketizer serial(guest_cfg(50));
  CaptureReader r1{ReaderOptions()};
  r1.feed(file.data(), file.size(), serial);
  r1.finish();
  const auto rs = all_rows(serial);
  CHECK(rs.size() > 500);
  int runs = 0;
  for (SummarizeOn on : {SummarizeOn::kBalance, SummarizeOn::kParse, SummarizeOn::kBucket}) {
    for (size_t chunk : {size_t(1) << 22, size_t(4099), size_t(97)}) {
      for (std::pair<size_t, size_t> ring : {std::make_pair(size_t(8), size_t(8)), std::make_pair(size_t(2), size_t(8)),
                                             std::make_pair(size_t(2), size_t(2))}) {
        g_context = "pipeline summarize " + std::to_string(int(on)) + " chunk " + std::to_string(chunk) + " chunks " +
                    std::to_string(ring.first) + " jobs " + std::to_string(ring.second);
        lseek(fd, 0, SEEK_SET);
        Bucketizer piped(guest_cfg(50));
        CaptureReader r2{ReaderOptions()};
        std::vector<BucketRow> rp;
        PipelineOptions po;
        po.chunk_bytes = chunk;
        po.block_packets = 777;
        po.chunks = ring.first;
        po.blocks = ring.second;
        po.summarize_on = on;
        int calls = 0;
        PipelineResult pr = run_pipeline(fd, r2, piped, po, [&](uint64_t) {
          auto& r = piped.ready();
          rp.insert(rp.end(), r.begin(), r.end());
          r.clear();
          if (ring.first == 2 && ++calls % 5 == 0 && calls <= 500) std::this_thread::sleep_for(std::chrono::microseconds(300));
          return true;
        });
        CHECK(pr.feed.ok && pr.read_errno == 0 && !pr.stopped && pr.bytes_read == file.size());
        auto rest = all_rows(piped);
        rp.insert(rp.end(), rest.begin(), rest.end());
        CHECK_EQ(rp.size(), rs.size());
        size_t diff = 0;
        for (size_t i = 0; i < std::min(rp.size(), rs.size()); i++) diff += !rows_equal(rp[i], rs[i]);
        CHECK_EQ(diff, 0u);
        CHECK_EQ(piped.packets(), pkts.size());
        runs++;
      }
    }
  }
  CHECK_EQ(runs, 27);
  // kBalance gives the parse thread work while the bucket thread is behind,
  // with two jobs as with eight (regression for: with two jobs the one being
  // filled holds a slot, so two never waited and the parse thread never
  // summarized).
  for (size_t blocks : {size_t(2), size_t(8)}) {
    g_context = "pipeline balance, jobs " + std::to_string(blocks);
    lseek(fd, 0, SEEK_SET);
    Bucketizer bz(guest_cfg(50));
    CaptureReader rd{ReaderOptions()};
    PipelineOptions po;
    po.chunk_bytes = 4099;
    po.block_packets = 100;
    po.blocks = blocks;
    PipelineResult pr = run_pipeline(fd, rd, bz, po, [&](uint64_t) {
      bz.ready().clear();
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // a bucket thread behind
      return true;
    });
    CHECK(pr.feed.ok && bz.packets() == pkts.size());
    CHECK(pr.jobs_summarized > 0);
    CHECK(pr.jobs_summarized + pr.jobs_raw >= pkts.size() / 100);
  }
  g_context = "pipeline";
  // Stopping early, and a bad file: the error comes back.
  lseek(fd, 0, SEEK_SET);
  {
    Bucketizer bz(guest_cfg(50));
    CaptureReader rd{ReaderOptions()};
    PipelineOptions po;
    po.block_packets = 100;
    int calls = 0;
    PipelineResult pr = run_pipeline(fd, rd, bz, po, [&](uint64_t) { return ++calls < 3; });
    CHECK(pr.stopped && calls == 3);
  }
  // regression for: an exception from on_block (the addon's onLines: a write that failed, EPIPE) unwound
  // run_pipeline past its joinable read and parse threads (one thread since): std::terminate, the process
  // aborted. It must come back to the caller once the thread is joined.
  lseek(fd, 0, SEEK_SET);
  {
    Bucketizer bz(guest_cfg(50));
    CaptureReader rd{ReaderOptions()};
    PipelineOptions po;
    po.block_packets = 100;
    int calls = 0;
    std::string caught;
    try {
      run_pipeline(fd, rd, bz, po, [&](uint64_t) -> bool {
        if (++calls == 2) throw std::runtime_error("write failed");
        return true;
      });
    } catch (const std::runtime_error& e) {
      caught = e.what();
    }
    CHECK(caught == "write failed" && calls == 2);
  }
  close(fd);
  unlink(path);
  int pipefd[2];
  CHECK(pipe(pipefd) == 0);
  Bytes bad = cat({pcap_header(false, false, 100), pcap_record(false, 1, 0, Bytes(60, 0)), pcap_record(false, 1, 0, Bytes(200, 0), -1, 300000)});
  std::thread w([&] {
    CHECK(write(pipefd[1], bad.data(), bad.size()) == ssize_t(bad.size()));
    close(pipefd[1]);
  });
  Bucketizer bz(guest_cfg(50));
  CaptureReader rd{ReaderOptions()};
  PipelineResult pr = run_pipeline(pipefd[0], rd, bz, PipelineOptions(), [](uint64_t) { return true; });
  w.join();
  close(pipefd[0]);
  CHECK(!pr.feed.ok && pr.feed.error_offset == 24 + 76 && has(pr.feed.error, "record caplen 300000 exceeds the 262144-byte limit"));
  CHECK_EQ(bz.packets(), 1u);

  // A slow live stream: packets are bucketed as they come, before EOF.
  g_context = "pipeline live";
  {
    int lp[2];
    CHECK(pipe(lp) == 0);
    std::atomic<uint64_t> seen{0};
    bool waited_ok = false;
    std::thread wr([&] {
      Bytes first = cat({pcap_header(false, false), pcap_record(false, 1700000000, 0, some_frame(1)),
                         pcap_record(false, 1700000000, 1, some_frame(2))});
      CHECK(write(lp[1], first.data(), first.size()) == ssize_t(first.size()));
      for (int i = 0; i < 500 && seen.load() < 2; i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      waited_ok = seen.load() == 2;
      Bytes more = pcap_record(false, 1700000001, 0, some_frame(3));
      CHECK(write(lp[1], more.data(), more.size()) == ssize_t(more.size()));
      close(lp[1]);
    });
    Bucketizer lb(guest_cfg(50));
    CaptureReader lr{ReaderOptions()};
    PipelineResult lres = run_pipeline(lp[0], lr, lb, PipelineOptions(), [&](uint64_t) {
      seen.store(lb.packets());
      return true;
    });
    wr.join();
    close(lp[0]);
    CHECK(waited_ok);
    CHECK(lres.feed.ok && lb.packets() == 3);
  }
}

// run_pipeline over hostile streams (pipeline_streams.h): pipes with short
// writes, skip_bad, pcapng, tiny rings, stop and throw from on_block.
void test_pipeline_streams() {
  g_context = "pipeline streams";
  signal(SIGPIPE, SIG_IGN);  // a stopped run closes the pipe under its writer
  pipeline_streams::Outcome o = pipeline_streams::run(400, 1);
  CHECK_EQ(o.runs, 400);
  CHECK(o.to_end > 150 && o.from_pipe > 150);
  for (const std::string& f : o.failures) std::fprintf(stderr, "%s\n", f.c_str());
  CHECK_EQ(o.failures.size(), 0u);
}

void test_bucket_bounds() {
  g_context = "flow table bound";
  {
    FlowTable ft(100);
    std::mt19937_64 rng(9);
    std::map<uint64_t, int64_t> last;  // model without a bound: last time seen
    uint64_t fresh_model_only = 0;
    for (int i = 0; i < 20000; i++) {
      uint64_t h = rng() % 300;
      h = mix64(h + 1);
      auto tc = ft.touch(h, i, 1000000, INT64_MAX);
      CHECK(ft.size() <= 100);
      auto it = last.find(h);
      bool model_fresh = it == last.end() || i - it->second > 1000000;
      // The bounded table may forget a flow (fresh when the model says
      // not), never the other way round.
      if (model_fresh) CHECK(tc.fresh);
      fresh_model_only += tc.fresh && !model_fresh;
      last[h] = i;
    }
    CHECK(fresh_model_only > 0);
    // Recent flows survive eviction; idle-expired ones go first.
    FlowTable t2(16);
    for (int i = 0; i < 16; i++) t2.touch(mix64(uint64_t(i)), i, 1000000, INT64_MAX);
    t2.touch(mix64(100), 20, 1000000, INT64_MAX);  // full: evicts the longest idle (i = 0, 1)
    CHECK(!t2.contains(mix64(0)) && t2.contains(mix64(15)) && t2.contains(mix64(100)) && t2.size() <= 16);
  }
  g_context = "bucket set model";
  {
    BucketSet s(50);
    std::mt19937 rng(4);
    std::set<std::pair<int64_t, uint64_t>> model;
    int64_t lo = 0;
    for (int i = 0; i < 100000; i++) {
      if (rng() % 200 == 0) {  // close the oldest bucket
        size_t removed = 0;
        for (auto it = model.begin(); it != model.end() && it->first == lo;) {
          it = model.erase(it);
          removed++;
        }
        lo++;
        s.close_below(lo, removed);
        continue;
      }
      int64_t k = lo + int64_t(rng() % 3);
      uint64_t h = mix64(rng() % 40);
      auto res = s.insert(h, k);
      bool present = model.count({k, h}) > 0;
      if (present) CHECK(res == BucketSet::kFound);
      else if (model.size() >= 50) CHECK(res == BucketSet::kFull);
      else {
        CHECK(res == BucketSet::kAdded);
        model.insert({k, h});
      }
      CHECK_EQ(s.live(), model.size());
    }
    CHECK(s.capacity() <= 256);
  }
  g_context = "bucket distinct overflow";
  {
    BucketConfig c = guest_cfg(1000);
    c.distinct_exact_max = 100;
    c.flow_table_max = 300;
    for (int64_t late : {int64_t(0), 10 * kMs}) {
      c.lateness_ns = late;
      Bucketizer b(c);
      for (int i = 0; i < 5000; i++) {
        IP4 peer = {11, uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)};
        Feeder::send(b, tcp4(peer, kGuest, uint16_t(1024 + i % 7), uint16_t(i % 3000), 0x02), kT0 + i * 10000);
        if (i % 2) Feeder::send(b, tcp4(peer, kGuest, uint16_t(1024 + i % 7), uint16_t(i % 3000), 0x02), kT0 + i * 10000);
      }
      auto rows = all_rows(b);
      CHECK_EQ(rows.size(), 1u);
      if (rows.empty()) continue;
      auto near = [](uint64_t got, double want) { return std::fabs(double(got) - want) <= want * 0.06; };
      CHECK(near(rows[0].peers, 5000));
      CHECK(near(rows[0].flows, 5000));
      CHECK(near(rows[0].dst_ports, 3000));
      CHECK(rows[0].new_flows >= 5000 && rows[0].new_flows <= 7500);
      CHECK_EQ(row_pkts(rows[0]), 7500u);
    }
  }
  g_context = "bucket hostile timestamps";
  {
    Bucketizer b(guest_cfg(1));
    for (int64_t ts : {INT64_MIN, int64_t(0), INT64_MAX, int64_t(-1), INT64_MIN + 1, kT0, INT64_MAX - 5})
      Feeder::send(b, tcp4(kGuest, kPeer, 1, 2, 0), ts);
    auto rows = all_rows(b);
    uint64_t n = 0;
    for (auto& r : rows) n += row_pkts(r);
    CHECK_EQ(n, 7u);
    CHECK(rows.size() <= 1000002);
  }
}

// ---------------------------------------------------------------------------
// Seed corpus for fuzz_pcap.

std::vector<std::pair<std::string, Bytes>> corpus() {
  std::vector<std::pair<std::string, Bytes>> c;
  Bytes frames = cat({pcap_record(false, 1700000000, 1, tcp4(kGuest, kPeer, 40000, 443, 0x02)),
                      pcap_record(false, 1700000000, 2000, tcp4(kPeer, kGuest, 443, 40000, 0x12))});
  c.push_back({"classic-le-us.pcap", cat({pcap_header(false, false), frames})});
  c.push_back({"classic-be-ns.pcap",
               cat({pcap_header(true, true, 128), pcap_record(true, 1700000000, 5, some_frame(1)),
                    pcap_record(true, 1700000000, 7, eth(kMacPeer, kMacGuest, 0x0806, arp(1, kMacGuest, kGuest, Mac{}, kPeer)))})});
  c.push_back({"vlan-qinq.pcap",
               cat({pcap_header(false, false),
                    pcap_record(false, 1, 0, eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 17, udp(53, 53)), {0x88a8, 0x8100})),
                    pcap_record(false, 1, 1, eth(kMacPeer, kMacGuest, 0x86DD, ipv6(ip6(1), ip6(2), 58, icmp(128, 0)), {0x8100}))})});
  c.push_back({"ipv6-ext.pcap",
               cat({pcap_header(false, true),
                    pcap_record(false, 1, 0, eth(kMacPeer, kMacGuest, 0x86DD, ipv6(ip6(1), ip6(2), 0, cat({ext6(43, 0), ext6(44, 1), frag6(6, 0, true), tcp(1, 2, 2)})))),
                    pcap_record(false, 1, 9, eth(kMacPeer, kMacGuest, 0x0800, ipv4(kGuest, kPeer, 6, Bytes(8, 0), 0x0020)))})});
  Bytes cut = some_frame(3);
  cut.resize(40);
  Bytes trunc = cat({pcap_header(false, false, 40), pcap_record(false, 1, 0, cut, 60)});
  c.push_back({"truncated.pcap", cat({trunc, Bytes{1, 0, 0, 0, 0, 0}})});
  c.push_back({"linktypes.pcap", cat({pcap_header(false, false, 65535, 113),
                                      pcap_record(false, 1, 0, cat({N().u16(4).u16(1).u16(6).arr(kMacGuest).u16(0).u16(0x0800).b, ipv4(kGuest, kPeer, 17, udp(1, 2))}))})});
  c.push_back({"multi-section.pcapng",
               cat({ng_shb(false), ng_idb(false, 1, 0, 9), ng_idb(false, 0, 128, 0x80 | 20),
                    ng_epb(false, 0, 1700000000000000001ULL, tcp4(kGuest, kPeer, 1, 2, 0x02)),
                    ng_epb(false, 1, 1 << 20, cat({Bytes{2, 0, 0, 0}, ipv4(kGuest, kPeer, 1, icmp(0, 0))})),
                    ng_spb(false, some_frame(4)), ng_block(false, 0x0BAD, Bytes(8, 1)),
                    ng_shb(true), ng_idb(true, 276), ng_pb(true, 0, 5, cat({N().u16(0x0800).u16(0).u32(3).u16(1).u8(0).u8(6).arr(kMacGuest).u16(0).b, ipv4(kGuest, kPeer, 6, tcp(1, 2, 4))}))})});
  c.push_back({"raw-ip.pcapng", cat({ng_shb(false), ng_idb(false, 101), ng_epb(false, 0, 1, ipv4(kGuest, kPeer, 17, udp(1, 2))),
                                     ng_epb(false, 0, 2, ipv6(ip6(1), ip6(2), 6, tcp(3, 4, 0x11)))})});
  // Records longer than the header's snaplen (64): read as libpcap reads them.
  c.push_back({"over-snaplen.pcap", cat({pcap_header(false, false, 64), pcap_record(false, 1700000000, 1, tcp4(kGuest, kPeer, 40000, 443, 0x02)),
                                         pcap_record(false, 1700000000, 2, some_frame(2, 1000), 1000),
                                         pcap_record(false, 1700000000, 3, tcp4(kPeer, kGuest, 443, 40000, 0x12))})});
  return c;
}

// Each seed gets fuzz_pcap's two control bytes in front: ctl (bucket size
// 2^26 ns, alternately small limits and lateness) and the chunking seed.
int write_corpus(const std::string& dir) {
  mkdir(dir.c_str(), 0755);
  int i = 0;
  for (auto& f : corpus()) {
    uint8_t ctl = uint8_t(0x60 | (i & 1 ? 4 : 0) | (i & 2 ? 8 : 0));
    Bytes data = cat({Bytes{ctl, uint8_t(17 * i + 3)}, f.second});
    i++;
    std::string path = dir + "/" + f.first;
    FILE* out = std::fopen(path.c_str(), "wb");
    if (!out || std::fwrite(data.data(), 1, data.size(), out) != data.size()) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return 1;
    }
    std::fclose(out);
  }
  std::printf("wrote %zu seed files to %s\n", corpus().size(), dir.c_str());
  return 0;
}

void test_corpus_reads() {
  for (auto& f : corpus()) {
    g_context = "corpus " + f.first;
    Run r = feed_all_ways(f.second);
    CHECK(r.got.size() >= 1);
    CHECK(r.res.ok == (f.first != "truncated.pcap"));
  }
}

// The struct, the packing and the JSON are generated from one list
// (netflow_fields.h): each field must land at its name's index in the packed
// row and after its own name in the JSON line, formatted as its json column says.
void test_netflow_layout() {
  BucketRow r;
  r.t_mono_ns = -300000000;
  std::vector<uint64_t> want;
  int i = 0;
#define SET(name, type, json) \
  r.name = std::string(#json) == "flag" ? 1 : uint64_t(i + 1) * 1000 + 7; \
  want.push_back(r.name);                                                 \
  i++;
  LABTEL_NETFLOW_FIELDS(SET)
#undef SET
  CHECK_EQ(want.size(), size_t(NF_COUNT));
  CHECK_EQ(kNetflowRowWidth, size_t(NF_COUNT) + 1);
  double packed[kNetflowRowWidth];
  pack_netflow_row(r, packed);
  CHECK_EQ(packed[0], -300000000.0);
  std::string members;
  for (size_t k = 0; k < want.size(); k++) {
    g_context = std::string("field ") + kNetflowFieldNames[k];
    CHECK_EQ(packed[k + 1], double(want[k]));
    bool flag = std::string(kNetflowFieldNames[k]) == "distinct_estimated";
    members += std::string(",\"") + kNetflowFieldNames[k] + "\":" + (flag ? "true" : std::to_string(want[k]));
  }
  g_context.clear();
  NetflowJsonFormat f;
  f.bucket_ms = "100";
  uint64_t seq = 7;
  std::string out;
  append_netflow_json({r}, f, &seq, true, &out);
  CHECK(out == "{\"source\":\"netflow\",\"t_mono_ns\":-300000000,\"seq\":7,\"available_in_deployment\":true,"
               "\"bucket_ms\":100,\"partial\":true" + members + "}\n");
  CHECK_EQ(seq, uint64_t(8));
}

// The row formatting rewritten to write straight into a buffer
// (format_netflow_row) against a frozen copy of the std::string appends it
// replaced (netflow_json_legacy.h), byte for byte: every number at its
// extremes and at each digit count, both flags, every format, batches with
// and without a partial last row, and each line within
// netflow_row_max_bytes(). Regression for: a row written past the room its
// caller made, or a byte of the JSONL changed by the rewrite.
void test_netflow_json_legacy() {
  std::mt19937_64 rng(19);
  std::vector<uint64_t> values = {0, 1, 9, 10, 99, 100, 9007199254740991ull, 9007199254740992ull, UINT64_MAX, UINT64_MAX - 1};
  for (uint64_t p = 1; p != 0 && p <= UINT64_MAX / 10; p *= 10) {
    values.push_back(p - 1);
    values.push_back(p);
    values.push_back(p * 10 - 1);
  }
  std::vector<int64_t> times = {0, 1, -1, INT64_MIN, INT64_MAX, -300000000, int64_t(1) << 60, -(int64_t(1) << 60)};
  const std::vector<std::string> bucket_ms = {"100", "0.5", "1e-7", "1e+21", "123456789.123456", ""};
  auto pick = [&]() -> uint64_t {
    switch (rng() % 4) {
      case 0: return values[rng() % values.size()];
      case 1: return rng() % 1000;
      case 2: return rng() >> (rng() % 64);
      default: return rng();
    }
  };
  size_t lines = 0;
  for (int round = 0; round < 4000; round++) {
    NetflowJsonFormat f;
    f.bucket_ms = bucket_ms[size_t(round) % bucket_ms.size()];
    f.available_in_deployment = (round / 7) % 2 == 0;
    std::vector<BucketRow> rows(size_t(rng() % 5));
    for (BucketRow& r : rows) {
      r.t_mono_ns = rng() % 3 == 0 ? times[rng() % times.size()] : int64_t(rng());
#define SET(name, type, json) r.name = std::string(#json) == "flag" ? (rng() % 2 ? pick() : rng() % 2) : pick();
      LABTEL_NETFLOW_FIELDS(SET)
#undef SET
    }
    bool last_partial = rng() % 2;
    uint64_t seq0 = rng() % 3 == 0 ? values[rng() % values.size()] : rng() % 100000;
    uint64_t seq_new = seq0, seq_old = seq0;
    std::string got, want;
    append_netflow_json(rows, f, &seq_new, last_partial, &got);
    labtel_legacy::append_netflow_json(rows, f, &seq_old, last_partial, &want);
    g_context = "round " + std::to_string(round);
    CHECK(got == want);
    CHECK_EQ(seq_new, seq_old);
    // Each line fits the room format_netflow_row() is promised, written in place.
    std::string room(netflow_row_max_bytes(f) + 8, '#');
    uint64_t s = seq0;
    size_t at = 0;
    for (size_t i = 0; i < rows.size(); i++) {
      room.assign(room.size(), '#');
      char* end = format_netflow_row(rows[i], f, s++, last_partial && i + 1 == rows.size(), room.data());
      size_t len = size_t(end - room.data());
      CHECK(len <= netflow_row_max_bytes(f));
      CHECK(room.compare(len, 8, "########") == 0);  // nothing written past the line
      CHECK(want.compare(at, len, room, 0, len) == 0);
      at += len;
      lines++;
    }
    CHECK_EQ(at, want.size());
  }
  g_context.clear();
  CHECK(lines > 1000);
  // The longest row there is fills its bound exactly: the bound is tight.
  BucketRow worst;
  worst.t_mono_ns = INT64_MIN;
#define SET(name, type, json) worst.name = std::string(#json) == "flag" ? 0 : UINT64_MAX;
  LABTEL_NETFLOW_FIELDS(SET)
#undef SET
  NetflowJsonFormat f;
  f.bucket_ms = "0.125";
  f.available_in_deployment = false;
  std::string room(netflow_row_max_bytes(f), '#');
  char* end = format_netflow_row(worst, f, UINT64_MAX, false, room.data());
  CHECK_EQ(size_t(end - room.data()), netflow_row_max_bytes(f));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--write-corpus") return write_corpus(argv[2]);
  if (argc != 1) {
    std::fprintf(stderr, "usage: %s [--write-corpus DIR]\n", argv[0]);
    return 2;
  }
  struct {
    const char* name;
    void (*fn)();
  } tests[] = {{"classic", test_classic},
               {"pcapng", test_pcapng},
               {"hostile_classic", test_hostile_classic},
               {"over_snaplen", test_over_snaplen},
               {"hostile_ng", test_hostile_ng},
               {"skip_bad", test_skip_bad},
               {"decode", test_decode},
               {"bucket_idiom", test_bucket_idiom},
               {"bucket_direction_and_classes", test_bucket_direction_and_classes},
               {"summarize_fast", test_summarize_fast},
               {"bucket_counts", test_bucket_counts},
               {"bucket_time", test_bucket_time},
               {"bucket_modes_agree", test_bucket_modes_agree},
               {"pipeline_streams", test_pipeline_streams},
               {"bucket_bounds", test_bucket_bounds},
               {"bucket_gaps", test_bucket_gaps},
               {"corpus_reads", test_corpus_reads},
               {"netflow_layout", test_netflow_layout},
               {"netflow_json_legacy", test_netflow_json_legacy}};
  for (auto& t : tests) {
    auto t0 = std::chrono::steady_clock::now();
    int before = g_failures;
    t.fn();
    std::printf("  %-30s %s %6.2f s\n", t.name, g_failures == before ? "ok  " : "FAIL",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("pcap_tests: %d checks, %d failed\n", g_checks, g_failures);
  return g_failures ? 1 : 0;
}
