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
// read thread's copy into the chunks and the parse over them took TLB misses
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
  size_t n = 0;
  bool eof = false;
  int err = 0;
};

struct Block {
  PacketSummary* recs = nullptr;  // in the BufferRegion
  size_t cap = 0;
  size_t n = 0;
  uint64_t bytes = 0;  // reader offset when the block was handed over
  bool last = false;
};

// The parse thread's sink: summaries into the current block, handed over
// when full.
struct SummarySink final : PacketSink {
  SummarySink(const Bucketizer& b, std::vector<Block>& blocks, Ring& ring, CaptureReader& r)
      : sum(b.summarizer()), blocks(blocks), ring(ring), reader(r) {}

  bool open() {
    size_t i = ring.acquire();
    if (i == Ring::kClosed) return false;
    cur = &blocks[i];
    cur->n = 0;
    cur->last = false;
    return true;
  }
  void hand_over(bool last) {
    cur->bytes = reader.offset();
    cur->last = last;
    ring.publish();
    cur = nullptr;
  }
  void packet(const Packet& p) override { one(p); }
  void packets(const Packet* ps, size_t n) override {
    for (size_t i = 0; i < n; i++) one(ps[i]);
  }
  void one(const Packet& p) {
    if (!cur) return;  // the consumer is gone (stop): drop
    sum.summarize(p, &cur->recs[cur->n++]);
    if (cur->n == cur->cap) {
      hand_over(false);
      open();
    }
  }

  const PacketSummarizer sum;  // this thread's own copy: no cache lines shared with the bucketing
  std::vector<Block>& blocks;
  Ring& ring;
  CaptureReader& reader;
  Block* cur = nullptr;
};

}  // namespace

PipelineResult run_pipeline(int fd, CaptureReader& reader, Bucketizer& bucketizer, const PipelineOptions& opt,
                            const std::function<bool(uint64_t bytes)>& on_block) {
  const size_t nchunks = std::max<size_t>(opt.chunks, 2), nblocks = std::max<size_t>(opt.blocks, 2);
  const size_t chunk_bytes = std::max<size_t>(opt.chunk_bytes, 1), block_packets = std::max<size_t>(opt.block_packets, 1);
  BufferRegion region(nchunks * ((chunk_bytes + 63) & ~size_t(63)) + nblocks * ((block_packets * sizeof(PacketSummary) + 63) & ~size_t(63)));
  std::vector<Chunk> chunks(nchunks);
  for (Chunk& c : chunks) {
    c.cap = chunk_bytes;
    c.buf = region.take(c.cap);
  }
  std::vector<Block> blocks(nblocks);
  for (Block& b : blocks) {
    b.cap = block_packets;
    b.recs = reinterpret_cast<PacketSummary*>(region.take(b.cap * sizeof(PacketSummary)));
  }
  Ring chunk_ring(nchunks), block_ring(nblocks);
  std::atomic<bool> stop{false};
  PipelineResult res;
  uint64_t bytes_read = 0;  // written by the read thread, read after join

  // read(2) into free chunks until EOF or an error (both end the stream).
  double read_cpu = 0, parse_cpu = 0;
  double bucket_cpu0 = thread_cpu_s();
  std::thread reader_thread([&] {
    struct Done {
      double& out;
      ~Done() { out = thread_cpu_s(); }
    } done{read_cpu};
    for (;;) {
      size_t i = chunk_ring.acquire();
      if (i == Ring::kClosed) return;
      Chunk& c = chunks[i];
      c.n = 0;
      c.eof = false;
      c.err = 0;
      while (c.n < c.cap && !stop.load(std::memory_order_relaxed)) {
        size_t want = c.cap - c.n;
        ssize_t r = ::read(fd, c.buf + c.n, want);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
          c.err = errno;
          break;
        }
        if (r == 0) {
          c.eof = true;
          break;
        }
        c.n += size_t(r);
        bytes_read += size_t(r);
        if (size_t(r) < want) break;  // a pipe or socket: pass on what came, don't wait to fill
      }
      bool end = c.eof || c.err || stop.load(std::memory_order_relaxed);
      chunk_ring.publish();
      if (end) return;
    }
  });

  // Parse chunks and summarize packets into blocks.
  FeedResult feed;
  int read_err = 0;
  std::thread parse_thread([&] {
    struct Done {
      double& out;
      ~Done() { out = thread_cpu_s(); }
    } done{parse_cpu};
    SummarySink sink(bucketizer, blocks, block_ring, reader);
    if (!sink.open()) return;
    for (;;) {
      size_t i = chunk_ring.next();
      if (i == Ring::kClosed) break;
      Chunk& c = chunks[i];
      bool end = c.eof || c.err;
      read_err = c.err;
      if (c.n) feed = reader.feed(c.buf, c.n, sink);
      chunk_ring.release();
      // Hand over what this chunk gave, so a slow live stream is bucketed
      // as it comes rather than when a block fills.
      if (sink.cur && sink.cur->n && !end && feed.ok) {
        sink.hand_over(false);
        sink.open();
      }
      if (!feed.ok || stop.load(std::memory_order_relaxed)) break;
      if (end) {
        if (c.eof) feed = reader.finish(sink);
        break;
      }
    }
    chunk_ring.close();  // the read thread may be waiting for a free chunk
    if (sink.cur) sink.hand_over(true);
  });

  // Bucket the blocks here, on the calling thread. Whatever on_block or the
  // bucketing throws (the addon's onLines: a write that failed) is rethrown
  // once both threads are stopped and joined: unwinding past a joinable
  // std::thread calls std::terminate (the process aborted).
  std::exception_ptr failure;
  try {
    for (;;) {
      size_t i = block_ring.next();
      if (i == Ring::kClosed) break;
      Block& b = blocks[i];
      bucketizer.consume(b.recs, b.n);
      bool last = b.last;
      uint64_t bytes = b.bytes;
      block_ring.release();
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
  block_ring.close();
  chunk_ring.close();
  parse_thread.join();
  reader_thread.join();
  if (failure) std::rethrow_exception(failure);
  res.feed = feed;
  res.bytes_read = bytes_read;
  res.read_errno = read_err;
  res.read_cpu_s = read_cpu;
  res.parse_cpu_s = parse_cpu;
  return res;
}

}  // namespace labtel
