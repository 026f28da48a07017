// Throughput of the capture reader + bucketizer over a file, the way the
// offline job drives them: read(2) in 1 MiB chunks, rows drained per chunk.
//   pcap_bench FILE [--bucket-ms N] [--guest-ip IP]... [--bridge-ip IP]...
//              [--chunk BYTES] [--skip-bad] [--rows] [--serial]
//              [--summarize balance|parse|bucket]
// By default through run_pipeline() (read+parse / bucket on two threads,
// summarizing where --summarize says: balance by default); --serial feeds
// reader -> bucketizer on one thread.
// Prints packets, rows, seconds and rates; --rows also prints each row's
// main counters (to compare runs).
#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../core/bucketizer.h"
#include "../core/pcap_pipeline.h"
#include "../core/pcap_reader.h"

using namespace labtel;

namespace {

bool parse_ip(const char* s, std::array<uint8_t, 16>* out) {
  uint8_t v4[4];
  if (inet_pton(AF_INET, s, v4) == 1) {
    out->fill(0);
    (*out)[10] = (*out)[11] = 0xff;
    std::memcpy(out->data() + 12, v4, 4);
    return true;
  }
  return inet_pton(AF_INET6, s, out->data()) == 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE [--bucket-ms N] [--guest-ip IP] [--bridge-ip IP] [--chunk BYTES] [--skip-bad] [--rows] [--serial] [--summarize balance|parse|bucket]\n", argv[0]);
    return 2;
  }
  BucketConfig cfg;
  ReaderOptions ro;
  size_t chunk = 1 << 20;
  bool print_rows = false, serial = false;
  SummarizeOn summarize_on = SummarizeOn::kBalance;
  for (int i = 2; i < argc; i++) {
    std::string a = argv[i];
    std::array<uint8_t, 16> ip;
    if (a == "--bucket-ms" && i + 1 < argc) cfg.bucket_ns = std::atoll(argv[++i]) * 1000000LL;
    else if (a == "--guest-ip" && i + 1 < argc && parse_ip(argv[i + 1], &ip)) cfg.guest_ips.push_back(ip), i++;
    else if (a == "--bridge-ip" && i + 1 < argc && parse_ip(argv[i + 1], &ip)) cfg.bridge_ips.push_back(ip), i++;
    else if (a == "--chunk" && i + 1 < argc) chunk = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--skip-bad") ro.skip_bad = true;
    else if (a == "--rows") print_rows = true;
    else if (a == "--serial") serial = true;
    else if (a == "--summarize" && i + 1 < argc && std::strcmp(argv[i + 1], "parse") == 0) summarize_on = SummarizeOn::kParse, i++;
    else if (a == "--summarize" && i + 1 < argc && std::strcmp(argv[i + 1], "bucket") == 0) summarize_on = SummarizeOn::kBucket, i++;
    else if (a == "--summarize" && i + 1 < argc && std::strcmp(argv[i + 1], "balance") == 0) i++;
    else {
      std::fprintf(stderr, "bad argument %s\n", a.c_str());
      return 2;
    }
  }
  if (chunk == 0) chunk = 1;
  auto t0 = std::chrono::steady_clock::now();
  int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::perror(argv[1]);
    return 2;
  }
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  std::vector<uint8_t> buf(serial ? chunk : 0);
  CaptureReader reader(ro);
  Bucketizer b(cfg);
  uint64_t bytes = 0, rows = 0, pkts_in = 0, pkts_out = 0, pkts_un = 0, flows = 0;
  auto drain = [&] {
    for (;;) {
      auto& r = b.ready();
      if (r.empty()) break;
      for (const BucketRow& x : r) {
        rows++;
        pkts_in += x.pkts_in;
        pkts_out += x.pkts_out;
        pkts_un += x.pkts_unmatched;
        flows += x.flows;
        if (print_rows)
          std::printf("%lld in=%llu out=%llu un=%llu flows=%llu new=%llu peers=%llu ports=%llu syn=%llu\n",
                      (long long)x.t_mono_ns, (unsigned long long)x.pkts_in, (unsigned long long)x.pkts_out,
                      (unsigned long long)x.pkts_unmatched, (unsigned long long)x.flows,
                      (unsigned long long)x.new_flows, (unsigned long long)x.peers,
                      (unsigned long long)x.dst_ports, (unsigned long long)x.tcp_syn);
      }
      r.clear();
    }
  };
  FeedResult res;
  if (serial) {
    for (;;) {
      ssize_t n = read(fd, buf.data(), buf.size());
      if (n < 0) {
        std::perror("read");
        return 2;
      }
      if (n == 0) break;
      bytes += size_t(n);
      res = reader.feed(buf.data(), size_t(n), b);
      drain();
      if (!res.ok) break;
    }
    if (res.ok) res = reader.finish(b);
  } else {
    PipelineOptions po;
    po.chunk_bytes = chunk;
    po.summarize_on = summarize_on;
    PipelineResult pr = run_pipeline(fd, reader, b, po, [&](uint64_t) {
      drain();
      return true;
    });
    if (pr.read_errno) {
      std::fprintf(stderr, "read: %s\n", std::strerror(pr.read_errno));
      return 2;
    }
    res = pr.feed;
    bytes = pr.bytes_read;
    std::printf("cpu: read+parse %.3f s, bucket %.3f s; jobs summarized on the parse thread %llu, raw %llu\n", pr.parse_cpu_s,
                pr.bucket_cpu_s, (unsigned long long)pr.jobs_summarized, (unsigned long long)pr.jobs_raw);
  }
  b.flush();
  drain();
  close(fd);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("packets %llu rows %llu seconds %.4f  %.1f Mpps %.0f MB/s  (in %llu out %llu unmatched %llu flows %llu)\n",
              (unsigned long long)b.packets(), (unsigned long long)rows, s, b.packets() / s / 1e6, bytes / s / 1e6,
              (unsigned long long)pkts_in, (unsigned long long)pkts_out, (unsigned long long)pkts_un,
              (unsigned long long)flows);
  if (!res.ok) {
    std::printf("error at offset %llu: %s\n", (unsigned long long)res.error_offset, res.error.c_str());
    return 1;
  }
  if (res.skipped_records)
    std::printf("skipped %llu records, %llu bytes\n", (unsigned long long)res.skipped_records,
                (unsigned long long)res.skipped_bytes);
  return 0;
}
