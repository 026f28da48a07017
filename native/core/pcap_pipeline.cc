#include "pcap_pipeline.h"

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

namespace labtel {

namespace {

// A bounded single-producer single-consumer ring of slot indices. The
// producer acquire()s a free slot, fills it and publish()es it; the consumer
// takes next(), uses it and release()s it. close() wakes both for good.
class Ring {
 public:
  explicit Ring(size_t n) : n_(n) {}
  static constexpr size_t kClosed = SIZE_MAX;

  size_t acquire() {
    std::unique_lock<std::mutex> l(m_);
    cv_.wait(l, [&] { return closed_ || head_ - tail_ < n_; });
    return closed_ ? kClosed : head_ % n_;
  }
  void publish() {
    std::lock_guard<std::mutex> l(m_);
    head_++;
    cv_.notify_all();
  }
  size_t next() {
    std::unique_lock<std::mutex> l(m_);
    cv_.wait(l, [&] { return closed_ || head_ != tail_; });
    return head_ != tail_ ? tail_ % n_ : kClosed;
  }
  void release() {
    std::lock_guard<std::mutex> l(m_);
    tail_++;
    cv_.notify_all();
  }
  // Jobs handed over and not yet released; all handed over; waits until
  // `n` were released (false: closed first).
  size_t waiting() {
    std::lock_guard<std::mutex> l(m_);
    return head_ - tail_;
  }
  uint64_t published() {
    std::lock_guard<std::mutex> l(m_);
    return head_;
  }
  bool wait_released(uint64_t n) {
    std::unique_lock<std::mutex> l(m_);
    cv_.wait(l, [&] { return closed_ || tail_ >= n; });
    return tail_ >= n;
  }
  void close() {
    std::lock_guard<std::mutex> l(m_);
    closed_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  size_t head_ = 0, tail_ = 0;
  const size_t n_;
  bool closed_ = false;
};

double thread_cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// The pipeline's buffers, in one anonymous mapping the kernel is asked to
// back with 2 MiB pages (MADV_HUGEPAGE; where THP is off, ordinary pages): the
// read(2) copy into the chunks and the parse over them took TLB misses
// every 4 KiB (read stage 0.068-0.075 -> 0.058-0.062 s CPU on 5M small frames).
// Pages are touched only as they are used, so a short capture does not pay
// for the whole region.
class BufferRegion {
 public:
  explicit BufferRegion(size_t bytes) {
    constexpr size_t kHuge = size_t(2) << 20;
    size_ = (bytes + kHuge - 1) & ~(kHuge - 1);
    // Over-map by one huge page, so that the part used can start on a 2 MiB boundary.
    map_len_ = size_ + kHuge;
    void* m = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    map_ = m;
    uintptr_t at = (reinterpret_cast<uintptr_t>(m) + kHuge - 1) & ~uintptr_t(kHuge - 1);
    base_ = reinterpret_cast<uint8_t*>(at);
    madvise(base_, size_, MADV_HUGEPAGE);  // advice only: without THP, ordinary pages
  }
  ~BufferRegion() { munmap(map_, map_len_); }
  BufferRegion(const BufferRegion&) = delete;
  BufferRegion& operator=(const BufferRegion&) = delete;
  // `bytes` of the region, aligned for any type.
  uint8_t* take(size_t bytes) {
    uint8_t* p = base_ + used_;
    used_ += (bytes + 63) & ~size_t(63);
    return p;
  }

 private:
  void* map_ = nullptr;
  size_t map_len_ = 0, size_ = 0, used_ = 0;
  uint8_t* base_ = nullptr;
};

struct Chunk {
  uint8_t* buf = nullptr;  // in the BufferRegion
  size_t cap = 0;
  // Jobs the bucket thread must have finished before this chunk is read
  // into again: the raw jobs whose packets point into it.
  uint64_t busy_until = 0;
};

// Up to block_packets packets of one chunk, handed from the parse thread to
// the bucket thread. Raw (summarized == false): pkts[i].data points into
// the chunk, and the bucket thread summarizes them; a packet the reader
// delivered from its own carry buffer (a record split across reads) was
// summarized at once into recs[i] and has data == nullptr.
struct Job {
  Packet* pkts = nullptr;         // in the BufferRegion
  PacketSummary* recs = nullptr;  // in the BufferRegion
  size_t cap = 0;
  size_t n = 0;
  uint64_t bytes = 0;  // reader offset when the job was handed over
  bool summarized = false;
  bool last = false;
};

// The parse thread's sink: packets into the current job, handed over when
// full and at the end of each chunk.
struct JobSink final : PacketSink {
  JobSink(const Bucketizer& b, std::vector<Job>& jobs, Ring& ring, CaptureReader& r, SummarizeOn on)
      : sum(b.summarizer()), jobs(jobs), ring(ring), reader(r), on(on) {}

  bool open() {
    size_t i = ring.acquire();
    if (i == Ring::kClosed) return false;
    cur = &jobs[i];
    cur->n = 0;
    cur->last = false;
    return true;
  }
  // Summarizes the job here, or leaves that to the bucket thread: here when
  // the bucket thread is behind (kBalance: at least two jobs wait for it, or
  // with two jobs in all, the other one: the job being filled holds a slot,
  // so at most nblocks - 1 can wait).
  void hand_over(bool last) {
    Job& j = *cur;
    j.summarized = on == SummarizeOn::kParse || (on == SummarizeOn::kBalance && ring.waiting() >= balance_at);
    if (j.summarized) {
      for (size_t i = 0; i < j.n; i++)
        if (j.pkts[i].data) sum.summarize(j.pkts[i], &j.recs[i]);
      summarized_jobs++;
    } else {
      raw_published = ring.published() + 1;
      raw_jobs++;
    }
    j.bytes = reader.offset();
    j.last = last;
    ring.publish();
    cur = nullptr;
  }
  void packet(const Packet& p) override { one(p); }
  void packets(const Packet* ps, size_t n) override {
    for (size_t i = 0; i < n; i++) one(ps[i]);
  }
  void one(const Packet& p) {
    if (!cur) return;  // the consumer is gone (stop): drop
    size_t i = cur->n++;
    cur->pkts[i] = p;
    uintptr_t d = reinterpret_cast<uintptr_t>(p.data);
    if (d < lo || d > hi || p.caplen > hi - d) {  // not in the chunk: summarize now, while data is valid
      sum.summarize(p, &cur->recs[i]);
      cur->pkts[i].data = nullptr;
    }
    if (cur->n == cur->cap) {
      hand_over(false);
      open();
    }
  }

  const PacketSummarizer sum;  // this thread's own copy: no cache lines shared with the bucketing
  std::vector<Job>& jobs;
  Ring& ring;
  CaptureReader& reader;
  const SummarizeOn on;
  const size_t balance_at = std::min<size_t>(2, jobs.size() - 1);
  Job* cur = nullptr;
  uintptr_t lo = 0, hi = 0;     // the chunk being parsed
  uint64_t raw_published = 0;  // ring.published() after the last raw job
  uint64_t summarized_jobs = 0, raw_jobs = 0;
};

}  // namespace

PipelineResult run_pipeline(int fd, CaptureReader& reader, Bucketizer& bucketizer, const PipelineOptions& opt,
                            const std::function<bool(uint64_t bytes)>& on_block) {
  const size_t nchunks = std::max<size_t>(opt.chunks, 2), nblocks = std::max<size_t>(opt.blocks, 2);
  const size_t chunk_bytes = std::max<size_t>(opt.chunk_bytes, 1), block_packets = std::max<size_t>(opt.block_packets, 1);
  auto up64 = [](size_t n) { return (n + 63) & ~size_t(63); };
  BufferRegion region(nchunks * up64(chunk_bytes) +
                      nblocks * (up64(block_packets * sizeof(Packet)) + up64(block_packets * sizeof(PacketSummary))));
  std::vector<Chunk> chunks(nchunks);
  for (Chunk& c : chunks) {
    c.cap = chunk_bytes;
    c.buf = region.take(c.cap);
  }
  std::vector<Job> jobs(nblocks);
  for (Job& j : jobs) {
    j.cap = block_packets;
    j.pkts = reinterpret_cast<Packet*>(region.take(j.cap * sizeof(Packet)));
    j.recs = reinterpret_cast<PacketSummary*>(region.take(j.cap * sizeof(PacketSummary)));
  }
  Ring job_ring(nblocks);
  std::atomic<bool> stop{false};
  PipelineResult res;
  uint64_t bytes_read = 0;  // written by the parse thread, read after join

  // Read chunks and parse them into jobs, summarizing where the bucket
  // thread is behind.
  double parse_cpu = 0;
  double bucket_cpu0 = thread_cpu_s();
  FeedResult feed;
  int read_err = 0;
  uint64_t jobs_summarized = 0, jobs_raw = 0;
  std::thread parse_thread([&] {
    struct Done {
      double& out;
      ~Done() { out = thread_cpu_s(); }
    } done{parse_cpu};
    JobSink sink(bucketizer, jobs, job_ring, reader, opt.summarize_on);
    if (!sink.open()) return;
    for (uint64_t seq = 0;; seq++) {
      Chunk& c = chunks[seq % nchunks];
      // Raw jobs still point into this chunk until the bucket thread is done with them.
      if (!job_ring.wait_released(c.busy_until)) break;
      size_t n = 0;
      bool eof = false;
      while (n < c.cap && !stop.load(std::memory_order_relaxed)) {
        size_t want = c.cap - n;
        ssize_t r = ::read(fd, c.buf + n, want);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
          read_err = errno;
          break;
        }
        if (r == 0) {
          eof = true;
          break;
        }
        n += size_t(r);
        bytes_read += size_t(r);
        if (size_t(r) < want) break;  // a pipe or socket: pass on what came, don't wait to fill
      }
      bool end = eof || read_err || stop.load(std::memory_order_relaxed);
      sink.lo = reinterpret_cast<uintptr_t>(c.buf);
      sink.hi = sink.lo + n;
      uint64_t raw_before = sink.raw_published;
      if (n) feed = reader.feed(c.buf, n, sink);
      // Hand over what this chunk gave, so a slow live stream is bucketed
      // as it comes rather than when a job fills.
      if (sink.cur && sink.cur->n && !end && feed.ok) {
        sink.hand_over(false);
        sink.open();
      }
      if (sink.raw_published != raw_before) c.busy_until = sink.raw_published;
      if (!feed.ok || stop.load(std::memory_order_relaxed)) break;
      if (end) {
        sink.lo = sink.hi = 0;  // what finish() delivers comes from the reader's buffer
        if (eof) feed = reader.finish(sink);
        break;
      }
    }
    if (sink.cur) sink.hand_over(true);
    jobs_summarized = sink.summarized_jobs;
    jobs_raw = sink.raw_jobs;
  });

  // Bucket the jobs here, on the calling thread (summarizing raw ones
  // first). Whatever on_block or the bucketing throws (the addon's onLines:
  // a write that failed) is rethrown once the parse thread is stopped and
  // joined: unwinding past a joinable std::thread calls std::terminate (the
  // process aborted).
  std::exception_ptr failure;
  try {
    for (;;) {
      size_t i = job_ring.next();
      if (i == Ring::kClosed) break;
      Job& j = jobs[i];
      if (!j.summarized)
        for (size_t k = 0; k < j.n; k++)
          if (j.pkts[k].data) bucketizer.summarize(j.pkts[k], &j.recs[k]);
      bucketizer.consume(j.recs, j.n);
      bool last = j.last;
      uint64_t bytes = j.bytes;
      job_ring.release();
      if (!on_block(bytes)) {
        res.stopped = true;
        break;
      }
      if (last) break;
    }
  } catch (...) {
    failure = std::current_exception();
  }
  res.bucket_cpu_s = thread_cpu_s() - bucket_cpu0;
  stop.store(true);
  job_ring.close();
  parse_thread.join();
  if (failure) std::rethrow_exception(failure);
  res.feed = feed;
  res.bytes_read = bytes_read;
  res.read_errno = read_err;
  res.parse_cpu_s = parse_cpu;
  res.jobs_summarized = jobs_summarized;
  res.jobs_raw = jobs_raw;
  return res;
}

}  // namespace labtel
