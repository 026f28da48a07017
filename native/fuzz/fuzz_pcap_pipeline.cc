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
// every row must be self-consistent. Then run_pipeline (pcap_pipeline.cc,
// the threads labtel bucketize runs) reads it from a memfd in reads of
// 1..1009 bytes into rings of two chunks and two blocks of 1 or 16 packets
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

using namespace labtel;

namespace {

#define REQUIRE(c)            \
  do {                        \
    if (!(c)) __builtin_trap(); \
  } while (0)

uint64_t mixin(uint64_t h, uint64_t v) { return (h ^ v) * 0x100000001b3ull + (h >> 29); }

// Decodes each packet (checking the decoder's own invariants), then hands
// it to the bucketizer; keeps a digest of everything delivered.
struct Tee final : PacketSink {
  explicit Tee(Bucketizer& b) : bz(b) {}
  void packet(const Packet& p) override {
    Decoded d, g;
    bool ok = decode(p, &d);
    REQUIRE(ok == decode_generic(p, &g));
    REQUIRE(std::memcmp(&d, &g, sizeof d) == 0);  // the fast path changes nothing
    REQUIRE(ok == (d.l3 != L3Kind::non_ip));
    REQUIRE(!d.has_ports || d.proto_known);
    REQUIRE(!d.has_tcp_flags || (d.proto_known && d.ip_proto == 6));
    REQUIRE(d.vlan_depth <= 4);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < p.caplen; i++) sum = sum * 31 + p.data[i];  // every byte readable (ASan)
    digest = mixin(digest, uint64_t(p.ts_ns));
    digest = mixin(digest, uint64_t(p.caplen) << 32 | p.wirelen);
    digest = mixin(digest, uint64_t(p.linktype) << 32 | p.interface_id);
    digest = mixin(digest, sum);
    digest = mixin(digest, uint64_t(d.l3) | uint64_t(d.ip_proto) << 8 | uint64_t(d.truncated) << 16 |
                               uint64_t(d.malformed) << 17 | uint64_t(d.src_port) << 24 | uint64_t(d.dst_port) << 40);
    packets++;
    bz.packet(p);
  }
  Bucketizer& bz;
  uint64_t digest = 0;
  uint64_t packets = 0;
};

struct Outcome {
  FeedResult res;
  uint64_t offset, packets, untimed, digest, rows, row_digest;
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
  uint32_t s = seed * 2654435761u + 1;
  size_t off = 0;
  while (off < n) {
    size_t len = n - off;
    if (chunked) {
      s = s * 1103515245u + 12345u;
      len = std::min<size_t>(len, 1 + (s >> 16) % 64);
    }
    // An exact-size copy: a read past the chunk is an ASan report.
    std::unique_ptr<uint8_t[]> buf(new uint8_t[len]);
    std::memcpy(buf.get(), in + off, len);
    o.res = reader.feed(buf.get(), len, tee);
    off += len;
    drain(bz, &o, &last_t, &row_pkts);
  }
  o.res = reader.finish(tee);
  REQUIRE(o.res.ok || !o.res.error.empty());
  REQUIRE(reader.offset() <= n);
  if (!o.res.ok) REQUIRE(o.res.error_offset == reader.offset());
  if (ro.skip_bad) REQUIRE(o.res.skipped_bytes <= n);
  bz.flush();
  drain(bz, &o, &last_t, &row_pkts);
  REQUIRE(!bz.rows_pending());
  REQUIRE(row_pkts == tee.packets && bz.packets() == tee.packets && reader.packets() == tee.packets);
  // Records over the snaplen are among the packets, and the result says what the reader counted.
  REQUIRE(reader.records_over_snaplen() <= tee.packets && o.res.records_over_snaplen == reader.records_over_snaplen());
  o.offset = reader.offset();
  o.packets = tee.packets;
  o.untimed = reader.untimed_packets();
  o.digest = tee.digest;
  return o;
}

// The input through run_pipeline: the reader on the parse thread, the
// bucketizer here, a read thread between them and the memfd.
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
  po.blocks = 2;
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
bool same_rows(const Outcome& a, const Outcome& b) {
  return a.res.ok == b.res.ok && a.res.error_offset == b.res.error_offset && a.res.error == b.res.error &&
         a.res.skipped_bytes == b.res.skipped_bytes && a.res.skipped_records == b.res.skipped_records &&
         a.res.records_over_snaplen == b.res.records_over_snaplen && a.offset == b.offset && a.packets == b.packets &&
         a.untimed == b.untimed && a.rows == b.rows && a.row_digest == b.row_digest;
}

bool same(const Outcome& a, const Outcome& b) {
  return a.res.ok == b.res.ok && a.res.error_offset == b.res.error_offset && a.res.error == b.res.error &&
         a.res.skipped_bytes == b.res.skipped_bytes && a.res.skipped_records == b.res.skipped_records &&
         a.res.records_over_snaplen == b.res.records_over_snaplen && a.offset == b.offset && a.packets == b.packets && a.untimed == b.untimed && a.digest == b.digest &&
         a.rows == b.rows && a.row_digest == b.row_digest;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  uint8_t ctl = data[0], seed = data[1];
  const uint8_t* in = data + 2;
  size_t n = size - 2;
  ReaderOptions ro;
  BucketConfig bc;
  bc.hash_seed = 0x5eed;
  bc.bucket_ns = int64_t(1) << (4 * (ctl >> 4) + 2);  // 4 ns .. 2^62 (clamped)
  bc.max_empty_buckets = 5000;
  bc.guest_ips.push_back({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 200, 0, 10});
  bc.bridge_ips.push_back({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 200, 0, 1});
  bc.guest_macs.push_back({0x52, 0x54, 0x00, 0x12, 0x34, 0x56});
  if (ctl & 4) {
    ro.max_caplen = 512;
    ro.max_block_len = 1024;
    ro.max_interfaces = 4;
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
