// libFuzzer target: the capture reader and the packet decoder, fed directly,
// so that an input costs what its bytes need (fuzz_pcap_pipeline.cc adds the
// bucketizer, at a fixed cost per input that made it ~400 inputs/s).
// Input: [ctl][seed][capture bytes...] (the seed corpus's format, shared
// with fuzz_pcap_pipeline)
//   ctl bit 2: small reader limits (caplen 512, block 1024, 4 interfaces)
//   seed: drives the chunk sizes (1..64 bytes) of the chunked run.
// For skip_bad off and on, the capture is fed whole (libFuzzer's own
// exact-size copy) and in chunks (each copied into a poisoned arena, so a
// read outside the chunk it was given, or of an earlier chunk, is an ASan
// report); both runs must agree exactly (result, error offset and message,
// skipped counts, every packet's bytes and decoding); each packet must
// decode the same on the fast and the generic path and be self-consistent;
// a capture read without error must read the same with skip_bad. Any
// disagreement traps. No allocation per input but the reader's own.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "../core/packet_decode.h"
#include "../core/pcap_reader.h"
#include "fuzz_common.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define FUZZ_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define FUZZ_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#endif
#endif
#ifndef FUZZ_POISON
#define FUZZ_POISON(p, n) ((void)(p), (void)(n))
#define FUZZ_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

using namespace labtel;
using namespace labtel::fuzz;

namespace {

// Chunks are copied here, each at the next 16-byte boundary, the rest of the
// arena poisoned: a read before or past the chunk, or a pointer kept into
// an earlier chunk, lands on poisoned bytes (until the arena wraps, 64 KiB
// later). Allocated once, not per input or per chunk.
constexpr size_t kArena = 64 * 1024;

uint8_t* arena() {
  static uint8_t* a = [] {
    uint8_t* p = new uint8_t[kArena];
    FUZZ_POISON(p, kArena);
    return p;
  }();
  return a;
}

// Decodes each packet, checks the decoder's invariants, and keeps a digest
// of everything delivered.
struct Check final : PacketSink {
  void packet(const Packet& p) override {
    Decoded d;
    decode_checked(p, &d);
    REQUIRE(!d.has_icmp || d.proto_known);
    digest = mix_packet(digest, p);
    digest = mixin(digest, uint64_t(d.l3) | uint64_t(d.ip_proto) << 8 | uint64_t(d.truncated) << 16 |
                               uint64_t(d.malformed) << 17 | uint64_t(d.fragment) << 18 | uint64_t(d.vlan_depth) << 19 |
                               uint64_t(d.src_port) << 24 | uint64_t(d.dst_port) << 40);
    digest = mixin(digest, uint64_t(d.tcp_flags) | uint64_t(d.icmp_type) << 8 | uint64_t(d.icmp_code) << 16 |
                               uint64_t(d.arp_op) << 24 | uint64_t(d.ethertype) << 40);
    packets++;
  }
  uint64_t digest = 0;
  uint64_t packets = 0;
};

using Outcome = ReaderOutcome;

Outcome run(const uint8_t* in, size_t n, const ReaderOptions& ro, uint8_t seed, bool chunked) {
  CaptureReader reader(ro);
  Check check;
  Outcome o{};
  if (!chunked) {
    o.res = reader.feed(in, n, check);
  } else {
    uint8_t* a = arena();
    size_t at = 0;
    ChunkSizes sizes(seed);
    for (size_t off = 0; off < n;) {
      size_t len = sizes.next(n - off);
      if (at + len > kArena) at = 0;
      uint8_t* chunk = a + at;
      FUZZ_UNPOISON(chunk, len);
      std::memcpy(chunk, in + off, len);
      o.res = reader.feed(chunk, len, check);
      FUZZ_POISON(chunk, len);
      at = (at + len + 15) & ~size_t(15);
      off += len;
    }
  }
  o.res = reader.finish(check);
  check_finished(o.res, reader, ro, n);
  if (!ro.skip_bad) REQUIRE(o.res.skipped_bytes == 0 && o.res.skipped_records == 0);
  REQUIRE(reader.packets() == check.packets);
  REQUIRE(reader.untimed_packets() <= check.packets);
  record_outcome(&o, reader, check.packets, check.digest);
  return o;
}

bool same(const Outcome& a, const Outcome& b) { return same_reader(a, b) && a.digest == b.digest; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input input;
  if (!split_input(data, size, &input)) return 0;
  const uint8_t seed = input.seed;
  const uint8_t* in = input.in;
  size_t n = input.n;
  ReaderOptions ro;
  small_reader_limits(input.ctl, &ro);
  Outcome strict{};
  for (bool skip : {false, true}) {
    ro.skip_bad = skip;
    Outcome whole = run(in, n, ro, seed, false);
    Outcome chunked = run(in, n, ro, seed, true);
    REQUIRE(same(whole, chunked));
    if (!skip) strict = whole;
    // Nothing bad to skip: skip_bad must change nothing.
    if (skip && strict.res.ok) REQUIRE(same(strict, whole));
  }
  return 0;
}
