// Runs a capture stream (a file or a pipe) through a CaptureReader and a
// Bucketizer on two threads: one read(2)s chunks and parses them into jobs
// of packets, and the calling thread buckets them (Bucketizer::consume).
// Summarizing each packet (decode, direction, hashes) goes to whichever
// thread has room: the parse thread does it while the bucket thread is
// behind, else it hands the job over raw (packets pointing into their
// chunk, which is not read into again until the bucket thread is done with
// them). Three fixed stages on two cores left one core idle for a third of
// the run; this keeps both busy (5M small frames: 0.16 -> 0.13 s wall).
// Jobs go to the bucket thread through a bounded ring, and chunks are
// reused in turn, so memory stays bounded (chunks * chunk_bytes + blocks *
// block_packets * (sizeof(Packet) + sizeof(PacketSummary)), plus the
// reader's own carry buffer: about 2 * max_block_len at most). Results are
// the same as feeding the reader with the bucketizer as sink, wherever
// packets were summarized.
// Works on a pipe too: a short read is passed on at once and the packets of
// each chunk are bucketed when it is parsed, so a slow live stream is not
// held back waiting for buffers to fill.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

#include "bucketizer.h"
#include "pcap_reader.h"

namespace labtel {

// Where packets are summarized (decode, direction, hashes): kBalance, on
// the parse thread while at least two jobs wait for the bucket thread (one
// when blocks is 2), else on the bucket thread; kParse and kBucket always
// there (tests, pcap_bench).
enum class SummarizeOn { kBalance, kParse, kBucket };

struct PipelineOptions {
  size_t chunk_bytes = 1 << 20;  // read(2) size: 4 MiB copied slower (the copy and the parse left L2)
  size_t chunks = 4;             // chunks read into in turn (one parsed, the rest held by raw jobs)
  size_t block_packets = 8192;   // packets per job
  size_t blocks = 8;             // jobs in flight between the parse and calling threads
  SummarizeOn summarize_on = SummarizeOn::kBalance;
};

struct PipelineResult {
  FeedResult feed;       // the reader's result (finish() included when EOF was reached)
  uint64_t bytes_read = 0;
  int read_errno = 0;    // a read(2) error ended the stream (finish() not called)
  bool stopped = false;  // on_block returned false
  // CPU seconds of each thread: read and parse, and bucket (with on_block).
  double parse_cpu_s = 0, bucket_cpu_s = 0;
  // Jobs whose packets the parse thread summarized, and those it handed over raw.
  uint64_t jobs_summarized = 0, jobs_raw = 0;
};

// Reads fd to EOF, error or stop. on_block(bytes consumed by the reader so
// far) runs on the calling thread after each job was bucketed: drain
// bucketizer.ready() and report progress there; return false to stop.
// The reader and the bucketizer must not be used by others meanwhile; the
// bucketizer is not flushed (call flush() after).
PipelineResult run_pipeline(int fd, CaptureReader& reader, Bucketizer& bucketizer, const PipelineOptions& opt,
                            const std::function<bool(uint64_t bytes)>& on_block);

}  // namespace labtel
