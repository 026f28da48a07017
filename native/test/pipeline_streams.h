// run_pipeline over hostile streams, held to the serial run (reader fed
// whole, straight into a bucketizer): random classic pcap and pcapng
// captures with caplen 0, cut records, garbage runs and truncated tails
// (read with skip_bad), from a memfd or from a pipe written in random short
// pieces with pauses, through random small rings (two or three chunks of
// 1..5000 bytes, two to nine jobs of 1..20 packets) and every place packets
// are summarized; some runs stop or throw from on_block at a random call.
// A run that goes to the end must give the serial run's rows (bytewise) and
// reader result; one that stops or throws must come back (and throw what
// on_block threw). pcap_tests runs it; a failure names the case.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../core/bucketizer.h"
#include "../core/pcap_pipeline.h"
#include "../core/pcap_reader.h"

namespace pipeline_streams {

using labtel::BucketConfig;
using labtel::Bucketizer;
using labtel::BucketRow;
using labtel::CaptureReader;
using labtel::FeedResult;
using labtel::PipelineOptions;
using labtel::PipelineResult;
using labtel::ReaderOptions;
using labtel::SummarizeOn;
using Bytes = std::vector<uint8_t>;

inline void put32(Bytes& b, uint32_t v) { b.insert(b.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 4); }
inline void put16(Bytes& b, uint16_t v) { b.insert(b.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 2); }

// An Ethernet/IPv4 TCP or UDP frame between the guest and one of five peers.
inline Bytes frame(std::mt19937_64& rng) {
  static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  const uint8_t other[6] = {2, 0, 0, 0, 0, uint8_t(rng())};
  const bool out = rng() & 1;
  Bytes f;
  f.insert(f.end(), out ? other : guest_mac, (out ? other : guest_mac) + 6);
  f.insert(f.end(), out ? guest_mac : other, (out ? guest_mac : other) + 6);
  f.push_back(8), f.push_back(0);
  const size_t payload = rng() % 64;
  const uint16_t tot = uint16_t(20 + 20 + payload);
  const uint8_t ip[20] = {0x45, 0, uint8_t(tot >> 8), uint8_t(tot), 0, 0, 0x40, 0, 64, uint8_t(rng() % 3 ? 6 : 17), 0, 0,
                          10, 200, 0, uint8_t(out ? 10 : 1 + rng() % 5), 10, 200, 0, uint8_t(out ? 1 + rng() % 5 : 10)};
  f.insert(f.end(), ip, ip + 20);
  const uint16_t sp = uint16_t(1000 + rng() % 50), dp = uint16_t(rng() % 4 ? 443 : 1 + rng() % 2000);
  const uint8_t l4[20] = {uint8_t(sp >> 8), uint8_t(sp), uint8_t(dp >> 8), uint8_t(dp), 0, 0, 0, 1, 0, 0, 0, 0, 0x50,
                          uint8_t(rng() & 0x3f), 0, 0, 0, 0, 0, 0};
  f.insert(f.end(), l4, l4 + 20);
  for (size_t i = 0; i < payload; i++) f.push_back(uint8_t(rng()));
  return f;
}

// npk records (a tenth with caplen 0, a tenth cut short); with `corrupt`,
// garbage runs between records and maybe a truncated tail.
inline Bytes capture(std::mt19937_64& rng, bool ng, size_t npk, bool corrupt) {
  Bytes b;
  uint64_t ts = 1700000000ull * 1000000;  // µs
  if (!ng) {
    put32(b, 0xa1b2c3d4), put16(b, 2), put16(b, 4), put32(b, 0), put32(b, 0), put32(b, 65535), put32(b, 1);
  } else {
    put32(b, 0x0A0D0D0A), put32(b, 28), put32(b, 0x1A2B3C4D), put16(b, 1), put16(b, 0);
    put32(b, 0xffffffff), put32(b, 0xffffffff), put32(b, 28);
    put32(b, 1), put32(b, 20), put16(b, 1), put16(b, 0), put32(b, 0), put32(b, 20);
  }
  for (size_t i = 0; i < npk; i++) {
    ts += rng() % 30000;
    Bytes f = frame(rng);
    const uint32_t wire = uint32_t(f.size());
    uint32_t cap = wire;
    const int r = int(rng() % 10);
    if (r == 0) cap = 0;
    else if (r == 1) cap = uint32_t(rng() % wire);
    f.resize(cap);
    if (!ng) {
      put32(b, uint32_t(ts / 1000000)), put32(b, uint32_t(ts % 1000000)), put32(b, cap), put32(b, wire);
      b.insert(b.end(), f.begin(), f.end());
    } else {
      const uint32_t pad = (4 - cap % 4) % 4, len = 32 + cap + pad;
      put32(b, 6), put32(b, len), put32(b, 0), put32(b, uint32_t(ts >> 32)), put32(b, uint32_t(ts)), put32(b, cap), put32(b, wire);
      b.insert(b.end(), f.begin(), f.end());
      for (uint32_t k = 0; k < pad; k++) b.push_back(0);
      put32(b, len);
    }
    if (corrupt && rng() % 40 == 0) {
      const size_t g = 1 + rng() % 60;
      for (size_t k = 0; k < g; k++) b.push_back(uint8_t(rng()));
    }
  }
  if (corrupt && rng() % 2) b.resize(b.size() - rng() % 30);
  return b;
}

inline BucketConfig config() {
  BucketConfig bc;
  bc.hash_seed = 0x5eed;
  bc.bucket_ns = 5000000;
  bc.guest_ips.push_back({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 200, 0, 10});
  bc.bridge_ips.push_back({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 200, 0, 1});
  bc.guest_macs.push_back({0x52, 0x54, 0x00, 0x12, 0x34, 0x56});
  return bc;
}

inline void drain(Bucketizer& b, std::vector<BucketRow>* rows) {
  for (;;) {
    auto& r = b.ready();
    if (r.empty()) break;
    rows->insert(rows->end(), r.begin(), r.end());
    r.clear();
  }
}

inline bool same_rows(const std::vector<BucketRow>& a, const std::vector<BucketRow>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(BucketRow)) == 0);
}

struct Outcome {
  int runs = 0;       // runs made
  int to_end = 0;     // of them, runs that went to the end (compared with serial)
  int from_pipe = 0;  // of them, runs read from a pipe
  std::vector<std::string> failures;
};

// `iters` random cases from `seed`; SIGPIPE must be ignored by the caller.
inline Outcome run(unsigned iters, uint64_t seed) {
  Outcome out;
  for (unsigned it = 0; it < iters; it++) {
    std::mt19937_64 rng(seed * 1000003 + it);
    const bool ng = rng() & 1, skip = rng() % 3 == 0;
    const Bytes cap = capture(rng, ng, 50 + rng() % 1500, skip);
    // The serial run.
    ReaderOptions ro;
    ro.skip_bad = skip;
    std::vector<BucketRow> want;
    FeedResult want_res;
    {
      CaptureReader r(ro);
      Bucketizer b(config());
      r.feed(cap.data(), cap.size(), b);
      want_res = r.finish(b);
      b.flush();
      drain(b, &want);
    }
    PipelineOptions po;
    po.chunk_bytes = 1 + rng() % (rng() % 2 ? 200 : 5000);
    po.chunks = 2 + rng() % 2;
    po.blocks = 2 + rng() % 8;
    po.block_packets = 1 + rng() % 20;
    po.summarize_on = SummarizeOn(rng() % 3);
    const bool use_pipe = rng() & 1;
    const int action = int(rng() % 4);  // 0, 1: to the end; 2: stop at call k; 3: throw at call k
    const int k = 1 + int(rng() % 40);
    const bool slow = rng() % 3 == 0;
    char ctx[256];
    std::snprintf(ctx, sizeof ctx, "case %u seed %llu: %s skip_bad %d %s chunk %zu chunks %zu jobs %zu of %zu summarize %d action %d at %d",
                  it, static_cast<unsigned long long>(seed), ng ? "pcapng" : "pcap", int(skip), use_pipe ? "pipe" : "memfd",
                  po.chunk_bytes, po.chunks, po.blocks, po.block_packets, int(po.summarize_on), action, k);
    int fd = -1;
    std::thread writer;
    if (!use_pipe) {
      fd = memfd_create("pipeline_streams", MFD_CLOEXEC);
      if (fd < 0 || write(fd, cap.data(), cap.size()) != ssize_t(cap.size()) || lseek(fd, 0, SEEK_SET) != 0) {
        out.failures.push_back(std::string(ctx) + ": cannot make the memfd");
        if (fd >= 0) close(fd);
        continue;
      }
    } else {
      int p[2];
      if (pipe(p) != 0) {
        out.failures.push_back(std::string(ctx) + ": cannot make the pipe");
        continue;
      }
      fd = p[0];
      const int wfd = p[1];
      const uint64_t wseed = rng();
      writer = std::thread([&cap, wfd, wseed] {
        std::mt19937_64 r(wseed);
        for (size_t off = 0; off < cap.size();) {
          const size_t n = std::min<size_t>(cap.size() - off, 1 + r() % 300);
          const ssize_t w = write(wfd, cap.data() + off, n);
          if (w <= 0) break;  // the reader is gone (a stopped run): EPIPE
          off += size_t(w);
          if (r() % 8 == 0) std::this_thread::sleep_for(std::chrono::microseconds(r() % 200));
        }
        close(wfd);
      });
      out.from_pipe++;
    }
    CaptureReader reader(ro);
    Bucketizer bz(config());
    std::vector<BucketRow> rows;
    int calls = 0;
    std::string caught;
    PipelineResult pr;
    try {
      pr = labtel::run_pipeline(fd, reader, bz, po, [&](uint64_t) {
        drain(bz, &rows);
        calls++;
        if (slow && calls % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
        if (action == 2 && calls == k) return false;
        if (action == 3 && calls == k) throw std::runtime_error("on_block threw");
        return true;
      });
    } catch (const std::exception& e) {
      caught = e.what();
    }
    close(fd);  // a writer still writing gets EPIPE
    if (writer.joinable()) writer.join();
    out.runs++;
    const bool early = (action == 2 || action == 3) && calls >= k;
    if (action == 3 && early && caught != "on_block threw") out.failures.push_back(std::string(ctx) + ": expected on_block's throw, got '" + caught + "'");
    if (action == 2 && early && !pr.stopped) out.failures.push_back(std::string(ctx) + ": stopped, but the result does not say so");
    if (early) continue;
    out.to_end++;
    if (!caught.empty()) out.failures.push_back(std::string(ctx) + ": threw " + caught);
    bz.flush();
    drain(bz, &rows);
    if (!same_rows(rows, want))
      out.failures.push_back(std::string(ctx) + ": rows differ from the serial run (" + std::to_string(rows.size()) + " against " +
                             std::to_string(want.size()) + ")");
    if (pr.feed.ok != want_res.ok || pr.feed.error != want_res.error || pr.feed.error_offset != want_res.error_offset ||
        pr.feed.skipped_bytes != want_res.skipped_bytes || pr.feed.skipped_records != want_res.skipped_records)
      out.failures.push_back(std::string(ctx) + ": reader result '" + pr.feed.error + "' against the serial run's '" + want_res.error + "'");
    if (pr.stopped || pr.read_errno != 0) out.failures.push_back(std::string(ctx) + ": stopped or a read error");
  }
  return out;
}

}  // namespace pipeline_streams
