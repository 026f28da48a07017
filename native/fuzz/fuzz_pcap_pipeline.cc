// libFuzzer target: the whole offline pipeline, reader -> decoder ->
// bucketizer (fuzz_pcap.cc is the fast one, reader and decoder alone).
// It finds what fuzz_pcap cannot: bucketizer bugs (rows, zero-row runs and
// holes, the flow table and distinct sets at their bounds, lateness). It is
// slower, and per input, not per byte: each input builds four bucketizers
// (a 128 KiB port list each without lateness) and may materialize up to
// max_empty_buckets zero rows per timestamp gap; see corpus-README.md.
// Input: [ctl][seed][capture bytes...] (the corpus format fuzz_pcap shares)
//   ctl bit 2: small limits (caplen 512, block 1024, 4 interfaces, tiny
//              flow table and distinct sets, so the bounds are exercised)
//   ctl bit 3: lateness > 0 (the bucketizer's multi-bucket path)
//   ctl bits 4-7: bucket size
//   seed: drives the chunk sizes (1..64 bytes) of the chunked run.
// For skip_bad off and on, the capture is fed whole and in chunks; both runs
// must agree exactly (packets, result, rows), every decoded packet and
// every row must be self-consistent, and each packet's summary the same
// on summarize()'s fast path and through decode(). Then run_pipeline
// (pcap_pipeline.cc, the threads labtel bucketize runs) reads it from a memfd in reads of
// 1..1009 bytes into a ring of two chunks, with two or eight jobs of 1 or 16
// packets, summarized on either thread or balanced (from the input length)
// (the rings wrap, records straddle reads), with skip_bad from seed bit 7:
// it must give the whole run's result and rows. Any disagreement traps.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "../core/bucketizer.h"
#include "../core/packet_decode.h"
#include "../core/pcap_pipeline.h"
#include "../core/pcap_reader.h"
#include "fuzz_common.h"

using namespace labtel;
using namespace labtel::fuzz;

namespace {

// Decodes each packet (checking the decoder's own invariants), then hands
// it to the bucketizer; keeps a digest of everything delivered.
struct Tee final : PacketSink {
  explicit Tee(Bucketizer& b) : bz(b), sum(b.summarizer()) {}
  void packet(const Packet& p) override {
    Decoded d;
    decode_checked(p, &d);
    digest = mix_packet(digest, p);
    digest = mixin(digest, uint64_t(d.l3) | uint64_t(d.ip_proto) << 8 | uint64_t(d.truncated) << 16 |
                               uint64_t(d.malformed) << 17 | uint64_t(d.src_port) << 24 | uint64_t(d.dst_port) << 40);
    packets++;
    // summarize()'s fast path (straight from the bytes) must give what the
    // summary built through decode() gives.
    PacketSummary a, g;
    sum.summarize(p, &a);
    sum.summarize_generic(p, &g);
    if (a.ts_ns != g.ts_ns || a.flow != g.flow || a.peer != g.peer || a.peer2 != g.peer2 || a.wirelen != g.wirelen ||
        a.dst_port != g.dst_port || a.dir != g.dir || a.cls != g.cls || a.tcp_flags != g.tcp_flags || a.bits != g.bits)
      __builtin_trap();
    bz.packet(p);
  }
  Bucketizer& bz;
  const PacketSummarizer sum;
  uint64_t digest = 0;
  uint64_t packets = 0;
};

struct Outcome : ReaderOutcome {
  uint64_t rows, row_digest;
};

void drain(Bucketizer& b, Outcome* o, int64_t* last_t, uint64_t* row_pkts) {
  for (;;) {
    auto& r = b.ready();
    if (r.empty()) break;
    for (const BucketRow& x : r) {
      REQUIRE(x.t_mono_ns > *last_t);
      *last_t = x.t_mono_ns;
      uint64_t n = x.pkts_in + x.pkts_out + x.pkts_unmatched;
      REQUIRE(n == x.pkts_tcp + x.pkts_udp + x.pkts_icmp + x.pkts_other_ip + x.pkts_arp + x.pkts_non_ip);
      REQUIRE(x.pkts_truncated <= n && x.pkts_malformed <= n && x.pkts_late <= n);
      REQUIRE(x.tcp_syn + x.tcp_synack <= x.pkts_tcp && x.tcp_fin <= x.pkts_tcp && x.tcp_rst <= x.pkts_tcp);
      REQUIRE(n > 0 || (x.flows == 0 && x.peers == 0 && x.dst_ports == 0 && x.bytes_in + x.bytes_out + x.bytes_unmatched == 0));
      *row_pkts += n;
      o->rows++;
      uint64_t h = o->row_digest;
      const uint64_t* w = reinterpret_cast<const uint64_t*>(&x.pkts_in);
      h = mixin(h, uint64_t(x.t_mono_ns));
      for (size_t i = 0; i < (sizeof(BucketRow) - sizeof(int64_t)) / sizeof(uint64_t); i++) h = mixin(h, w[i]);
      o->row_digest = h;
    }
    r.clear();
  }
}

Outcome run(const uint8_t* in, size_t n, const ReaderOptions& ro, const BucketConfig& bc, uint8_t seed, bool chunked) {
  CaptureReader reader(ro);
  Bucketizer bz(bc);
  Tee tee(bz);
  Outcome o{};
  int64_t last_t = INT64_MIN;
  uint64_t row_pkts = 0;
  ChunkSizes sizes(seed);
  size_t off = 0;
  while (off < n) {
    size_t len = chunked ? sizes.next(n - off) : n - off;
    // An exact-size copy: a read past the chunk is an ASan report.
    std::unique_ptr<uint8_t[]> buf(new uint8_t[len]);
    std::memcpy(buf.get(), in + off, len);
    o.res = reader.feed(buf.get(), len, tee);
    off += len;
    drain(bz, &o, &last_t, &row_pkts);
  }
  o.res = reader.finish(tee);
  check_finished(o.res, reader, ro, n);
  bz.flush();
  drain(bz, &o, &last_t, &row_pkts);
  REQUIRE(!bz.rows_pending());
  REQUIRE(row_pkts == tee.packets && bz.packets() == tee.packets && reader.packets() == tee.packets);
  record_outcome(&o, reader, tee.packets, tee.digest);
  return o;
}

// The input through run_pipeline: read(2) and the reader on the parse
// thread, the bucketizer here.
Outcome run_pipelined(const uint8_t* in, size_t n, const ReaderOptions& ro, const BucketConfig& bc, uint8_t seed) {
  int fd = memfd_create("fuzz_pcap_pipeline", MFD_CLOEXEC);
  REQUIRE(fd >= 0);
  for (size_t off = 0; off < n;) {
    ssize_t w = write(fd, in + off, n - off);
    REQUIRE(w > 0);
    off += size_t(w);
  }
  REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
  CaptureReader reader(ro);
  Bucketizer bz(bc);
  PipelineOptions po;
  po.chunk_bytes = 1 + (seed & 63) * 16;
  po.chunks = 2;
  po.block_packets = 1 + ((seed >> 6) & 1) * 15;
  // Where packets are summarized, and two or eight jobs over the two chunks
  // (with eight the parse thread waits for a chunk raw jobs point into):
  // from the input's length, which the fuzzer varies freely.
  po.summarize_on = n % 3 == 0 ? SummarizeOn::kBalance : n % 3 == 1 ? SummarizeOn::kParse : SummarizeOn::kBucket;
  po.blocks = (n / 3) % 2 ? 8 : 2;
  Outcome o{};
  int64_t last_t = INT64_MIN;
  uint64_t row_pkts = 0;
  PipelineResult pr = run_pipeline(fd, reader, bz, po, [&](uint64_t bytes) {
    REQUIRE(bytes <= n);
    drain(bz, &o, &last_t, &row_pkts);
    return true;
  });
  close(fd);
  REQUIRE(pr.read_errno == 0 && !pr.stopped && pr.bytes_read <= n);
  o.res = pr.feed;
  bz.flush();
  drain(bz, &o, &last_t, &row_pkts);
  REQUIRE(!bz.rows_pending());
  REQUIRE(row_pkts == bz.packets() && reader.packets() == bz.packets());
  o.offset = reader.offset();
  o.packets = reader.packets();
  o.untimed = reader.untimed_packets();
  return o;
}

// The reader's outcome and the rows (the pipeline has no per-packet digest).
bool same_rows(const Outcome& a, const Outcome& b) { return same_reader(a, b) && a.rows == b.rows && a.row_digest == b.row_digest; }

bool same(const Outcome& a, const Outcome& b) { return same_rows(a, b) && a.digest == b.digest; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input input;
  if (!split_input(data, size, &input)) return 0;
  const uint8_t ctl = input.ctl, seed = input.seed;
  const uint8_t* in = input.in;
  size_t n = input.n;
  ReaderOptions ro;
  BucketConfig bc;
  bc.hash_seed = 0x5eed;
  bc.bucket_ns = int64_t(1) << (4 * (ctl >> 4) + 2);  // 4 ns .. 2^62 (clamped)
  bc.max_empty_buckets = 5000;
  bc.guest_ips.push_back({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 200, 0, 10});
  bc.bridge_ips.push_back({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 200, 0, 1});
  bc.guest_macs.push_back({0x52, 0x54, 0x00, 0x12, 0x34, 0x56});
  small_reader_limits(ctl, &ro);
  if (ctl & 4) {
    bc.flow_table_max = 8;
    bc.distinct_exact_max = 4;
    bc.flow_idle_ns = 1000;
  }
  if (ctl & 8) bc.lateness_ns = bc.bucket_ns < (int64_t(1) << 40) ? bc.bucket_ns * 3 + 1 : bc.bucket_ns;
  Outcome wholes[2];
  for (bool skip : {false, true}) {
    ro.skip_bad = skip;
    Outcome whole = run(in, n, ro, bc, seed, false);
    Outcome chunked = run(in, n, ro, bc, seed, true);
    REQUIRE(same(whole, chunked));
    wholes[skip] = whole;
  }
  ro.skip_bad = seed >> 7;
  REQUIRE(same_rows(wholes[ro.skip_bad], run_pipelined(in, n, ro, bc, seed)));
  return 0;
}
