// Runs a capture stream (a file or a pipe) through a CaptureReader and a
// Bucketizer on three threads: one read(2)s chunks, one parses them and
// summarizes each packet (decode, direction, hashes), and the calling thread
// buckets the summaries (Bucketizer::consume). Each stage hands fixed-size
// buffers to the next through a bounded ring, so memory stays bounded
// (chunks * chunk_bytes + blocks * block_packets * sizeof(PacketSummary)).
// Results are the same as feeding the reader with the bucketizer as sink.
// Works on a pipe too: a short read is passed on at once and the packets of
// each chunk are bucketed when it is parsed, so a slow live stream is not
// held back waiting for buffers to fill.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "bucketizer.h"
#include "netflow_json.h"
#include "pcap_reader.h"

namespace labtel {

struct PipelineOptions {
  size_t chunk_bytes = 1 << 20;  // read(2) size: 4 MiB copied slower (the copy and the parse left L2)
  size_t chunks = 4;             // chunks in flight between the read and parse threads
  size_t block_packets = 8192;   // summaries per block
  size_t blocks = 8;             // blocks in flight between the parse and calling threads
};

struct PipelineResult {
  FeedResult feed;       // the reader's result (finish() included when EOF was reached)
  uint64_t bytes_read = 0;
  int read_errno = 0;    // a read(2) error ended the stream (finish() not called)
  bool stopped = false;  // on_block returned false
  // CPU seconds of each stage's thread (the bucket stage includes on_block).
  double read_cpu_s = 0, parse_cpu_s = 0, bucket_cpu_s = 0;
};

// Reads fd to EOF, error or stop. on_block(bytes consumed by the reader so
// far) runs on the calling thread after each block was bucketed: drain
// bucketizer.ready() and report progress there; return false to stop.
// The reader and the bucketizer must not be used by others meanwhile; the
// bucketizer is not flushed (call flush() after).
PipelineResult run_pipeline(int fd, CaptureReader& reader, Bucketizer& bucketizer, const PipelineOptions& opt,
                            const std::function<bool(uint64_t bytes)>& on_block);

// Rows of a BackgroundRun, formatted: `rows` JSONL lines, handed over when
// the reader had consumed `bytes` and the bucketizer counted `packets`.
struct TextBlock {
  std::string text;
  size_t rows = 0;
  uint64_t bytes = 0, packets = 0;
};

// run_pipeline() on a thread of its own, the bucket stage included, with the
// rows formatted as netflow JSONL (netflow_json, seq counting from `seq`)
// and queued for a consumer on another thread, which takes them with next().
// Blocks are handed over as the addon's runFd always did: after a block of
// packets that closed rows, else every 16 MiB read, and once at the end
// (the rows flush() closes, the last one marked partial as flush() says),
// a long run of zero rows in pieces of about 64 MiB of text. The queue holds
// about queue_bytes (at least one block): a consumer that has not come yet
// holds the pipeline back, not the whole output. The reader and the
// bucketizer belong to the run until stop() or the end.
class BackgroundRun {
 public:
  BackgroundRun(int fd, CaptureReader& reader, Bucketizer& bucketizer, NetflowJsonFormat format, uint64_t seq,
                const PipelineOptions& opt = PipelineOptions{}, size_t queue_bytes = 16u << 20);
  ~BackgroundRun() { stop(); }
  BackgroundRun(const BackgroundRun&) = delete;
  BackgroundRun& operator=(const BackgroundRun&) = delete;

  // Waits for the next block; false once the run is over and every block was
  // taken (then result() and last_partial() hold).
  bool next(TextBlock* out);
  // Stops the run (if it is still going) and waits for its threads.
  void stop();
  const PipelineResult& result() const { return result_; }
  bool last_partial() const { return partial_; }

 private:
  void run(int fd, CaptureReader& reader, Bucketizer& bucketizer, NetflowJsonFormat format, uint64_t seq,
           PipelineOptions opt);
  bool hand(std::string* text, size_t rows, uint64_t bytes, uint64_t packets);

  std::mutex m_;
  std::condition_variable cv_;
  std::deque<TextBlock> queue_;
  size_t queued_bytes_ = 0;
  const size_t queue_cap_;
  bool cancel_ = false;  // the consumer is gone: stop
  bool done_ = false;    // the run has queued its last block
  PipelineResult result_;
  bool partial_ = false;
  std::thread thread_;
};

}  // namespace labtel
