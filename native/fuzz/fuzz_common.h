// What the two capture harnesses (fuzz_pcap.cc, fuzz_pcap_pipeline.cc) share:
// the input's format ([ctl][seed][capture bytes...], corpus-README.md), the
// chunk sizes the seed drives, the decoder's invariants and the digest of a
// delivered packet, and the checks on a finished reader and its outcome.
// Header-only; each harness adds its own checks around these.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../core/packet_decode.h"
#include "../core/pcap_reader.h"

namespace labtel::fuzz {

#define REQUIRE(c)              \
  do {                          \
    if (!(c)) __builtin_trap(); \
  } while (0)

inline uint64_t mixin(uint64_t h, uint64_t v) { return (h ^ v) * 0x100000001b3ull + (h >> 29); }

// [ctl][seed][capture bytes...]; false for an input too short to hold them.
struct Input {
  uint8_t ctl, seed;
  const uint8_t* in;
  size_t n;
};
inline bool split_input(const uint8_t* data, size_t size, Input* out) {
  if (size < 2) return false;
  *out = {data[0], data[1], data + 2, size - 2};
  return true;
}

// ctl bit 2: small reader limits (caplen 512, block 1024, 4 interfaces).
inline void small_reader_limits(uint8_t ctl, ReaderOptions* ro) {
  if (!(ctl & 4)) return;
  ro->max_caplen = 512;
  ro->max_block_len = 1024;
  ro->max_interfaces = 4;
}

// The chunked run's chunk sizes, 1..kMaxChunk bytes, driven by the seed.
constexpr size_t kMaxChunk = 64;
struct ChunkSizes {
  explicit ChunkSizes(uint8_t seed) : s(seed * 2654435761u + 1) {}
  size_t next(size_t left) {
    s = s * 1103515245u + 12345u;
    return std::min<size_t>(left, 1 + (s >> 16) % kMaxChunk);
  }
  uint32_t s;
};

// Decodes p on the fast and the generic path; both must agree and the result
// be self-consistent (a harness may add its own checks on *d).
inline bool decode_checked(const Packet& p, Decoded* d) {
  Decoded g;
  bool ok = decode(p, d);
  REQUIRE(ok == decode_generic(p, &g));
  REQUIRE(std::memcmp(d, &g, sizeof *d) == 0);  // the fast path changes nothing
  REQUIRE(ok == (d->l3 != L3Kind::non_ip));
  REQUIRE(!d->has_ports || d->proto_known);
  REQUIRE(!d->has_tcp_flags || (d->proto_known && d->ip_proto == 6));
  REQUIRE(d->vlan_depth <= 4);
  return ok;
}

// h mixed with what the reader delivered of p: its time, lengths, link and
// interface, and a sum of every byte (each read: an ASan report if it is not
// readable).
inline uint64_t mix_packet(uint64_t h, const Packet& p) {
  uint64_t sum = 0;
  for (uint32_t i = 0; i < p.caplen; i++) sum = sum * 31 + p.data[i];  // every byte readable (ASan)
  h = mixin(h, uint64_t(p.ts_ns));
  h = mixin(h, uint64_t(p.caplen) << 32 | p.wirelen);
  h = mixin(h, uint64_t(p.linktype) << 32 | p.interface_id);
  return mixin(h, sum);
}

// What both harnesses require of the reader once finish() gave `res` on an
// input of n bytes.
inline void check_finished(const FeedResult& res, const CaptureReader& reader, const ReaderOptions& ro, size_t n) {
  REQUIRE(res.ok || !res.error.empty());
  REQUIRE(reader.offset() <= n);
  if (!res.ok) REQUIRE(res.error_offset == reader.offset());
  if (ro.skip_bad) REQUIRE(res.skipped_bytes <= n);
}

// The reader's outcome of one run, and whether two runs agree on it (the
// packets' digest aside: a harness compares it where it has one).
struct ReaderOutcome {
  FeedResult res;
  uint64_t offset, packets, untimed, digest;
};

// Fills o from the finished reader and the sink's count and digest of the
// packets it was given, once records over the snaplen are checked: they are
// among the packets, and the result says what the reader counted.
inline void record_outcome(ReaderOutcome* o, const CaptureReader& reader, uint64_t packets, uint64_t digest) {
  REQUIRE(reader.records_over_snaplen() <= packets && o->res.records_over_snaplen == reader.records_over_snaplen());
  o->offset = reader.offset();
  o->packets = packets;
  o->untimed = reader.untimed_packets();
  o->digest = digest;
}
inline bool same_reader(const ReaderOutcome& a, const ReaderOutcome& b) {
  return a.res.ok == b.res.ok && a.res.error_offset == b.res.error_offset && a.res.error == b.res.error &&
         a.res.skipped_bytes == b.res.skipped_bytes && a.res.skipped_records == b.res.skipped_records &&
         a.res.records_over_snaplen == b.res.records_over_snaplen && a.offset == b.offset && a.packets == b.packets &&
         a.untimed == b.untimed;
}

}  // namespace labtel::fuzz
