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
#include <cstddef>
#include <cstdint>
#include <functional>

#include "bucketizer.h"
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

}  // namespace labtel
