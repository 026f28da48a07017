// Push-based reader for classic pcap and pcapng captures. Fed chunks of any
// size (records may straddle chunks), it hands each packet to a sink, in place
// when the record lies within one chunk; only a record split across chunks is
// copied, into a buffer of at most about twice max_block_len bytes (grown as
// records need it). Lengths
// read from the input are checked against the options before anything is
// buffered, so memory stays bounded whatever the input says. Hostile input
// ends in an error at a byte offset, or with skip_bad in a counted
// resynchronization. No napi.h here: the addon and the tests share it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace labtel {

struct Packet {
  int64_t ts_ns;          // wall clock, ns since the Unix epoch
  uint32_t caplen;        // bytes at data
  uint32_t wirelen;       // length on the wire, as the capture says
  uint32_t linktype;      // LINKTYPE_* of the packet's interface (FCS bits masked off)
  uint32_t interface_id;  // pcapng interface index within its section; 0 for classic pcap
  const uint8_t* data;    // valid only during PacketSink::packet()
};

struct PacketSink {
  virtual void packet(const Packet& p) = 0;
  // n packets, in order: what the classic pcap loop hands over, a few at a
  // time (one virtual call for them all); by default packet() for each.
  virtual void packets(const Packet* ps, size_t n) {
    for (size_t i = 0; i < n; i++) packet(ps[i]);
  }
  virtual ~PacketSink() = default;
};

struct ReaderOptions {
  bool skip_bad = false;
  // The record bound: a longer caplen is refused whatever the snaplen says
  // (libpcap's own bound for all but a few link types; theirs are not ones
  // labtel decodes). A classic record over the file's snaplen but within it
  // is read as libpcap reads it (see FeedResult::records_over_snaplen).
  uint32_t max_caplen = 262144;
  // The pcapng block bound: libpcap's sf-pcapng.c reads blocks of up to
  // 16 MiB whatever they hold ("pcapng block size N > maximum 16777216"
  // past it): real captures have name resolution, decryption secrets (a TLS
  // key log) or custom blocks, and full-size packets with options, over 256
  // KiB. A block is buffered only when it straddles chunks, so this is also
  // the most a hostile file can make the reader hold (about twice it).
  uint32_t max_block_len = 16u << 20;
  uint32_t max_interfaces = 4096;
};

struct FeedResult {
  bool ok = true;
  uint64_t error_offset = 0;  // stream offset of the bad record (its first byte)
  std::string error;          // e.g. "record caplen 300000 exceeds the 262144-byte limit"
  uint64_t skipped_bytes = 0;    // with skip_bad: totals since the start of the stream
  uint64_t skipped_records = 0;  // bad records/blocks skipped (a garbage run counts once)
  // Classic pcap records whose caplen exceeds the file header's snaplen (but
  // not max_caplen), read as libpcap reads them: delivered cut to the
  // snaplen, the rest of the record skipped. Totals since the start.
  uint64_t records_over_snaplen = 0;
};

class CaptureReader {
 public:
  explicit CaptureReader(ReaderOptions);

  // Consumes a chunk of any size; complete records go to sink before it
  // returns. After an error (without skip_bad) every later call returns the
  // same error and delivers nothing.
  FeedResult feed(const uint8_t* data, size_t len, PacketSink& sink);
  // At EOF: reports a truncated last record (or, with skip_bad, counts it).
  // With skip_bad a resynchronization that needs to see EOF may still deliver
  // packets: they go to the sink of the last feed(), or to the one given.
  FeedResult finish();
  FeedResult finish(PacketSink& sink);
  // Bytes of input fully consumed (delivered or skipped); after an error,
  // the offset of the bad record.
  uint64_t offset() const { return offset_; }

  // Packets delivered so far.
  uint64_t packets() const { return packets_; }
  // pcapng simple packet blocks among them: they carry no timestamp and were
  // given the previous packet's (0 before any timestamped packet).
  uint64_t untimed_packets() const { return untimed_packets_; }
  // Classic pcap records longer than the file's snaplen among them (see
  // FeedResult::records_over_snaplen).
  uint64_t records_over_snaplen() const { return over_snaplen_; }
  // "pcap", "pcapng", or "" before the header was seen.
  const char* format() const;

 private:
  enum Mode : uint8_t { kDetect, kClassic, kNg, kResyncClassic, kResyncNg, kFailed };
  enum TsKind : uint8_t { kTsMul, kTsDiv, kTsShift };
  struct Iface {
    uint32_t linktype;
    uint32_t snaplen;  // 0: no limit
    TsKind ts_kind;
    uint8_t ts_shift;
    uint64_t ts_factor;
    uint64_t ts_offset_ns;  // if_tsoffset, wrapping arithmetic
  };

  size_t step(const uint8_t* p, size_t n, bool eof, size_t* need);
  size_t run(const uint8_t* p, size_t n, bool eof, size_t* need);
  size_t run_detect(const uint8_t* p, size_t n, bool eof, size_t* need);
  template <bool kSwap, bool kNs>
  size_t run_classic(const uint8_t* p, size_t n, bool eof, size_t* need);
  size_t run_ng(const uint8_t* p, size_t n, bool eof, size_t* need);
  size_t resync_classic(const uint8_t* p, size_t n, bool eof, size_t* need);
  size_t resync_ng(const uint8_t* p, size_t n, bool eof, size_t* need);
  bool plausible_classic(const uint8_t* h, bool have_ref, int64_t ref_ts, int64_t* ts) const;
  bool ng_block(const uint8_t* b, uint32_t type, uint32_t len, bool swap, uint64_t at);
  bool content_error(uint64_t at, uint32_t len, std::string msg);
  int64_t iface_ts(const Iface& f, uint64_t ts) const;
  void deliver(const Packet& p);

  // Error handling. fail(): fatal. bad(): fatal, or with skip_bad a counted
  // skip of `skip` bytes followed by a resynchronization scan.
  // content_error(): a well-framed pcapng block with bad contents: fatal, or
  // with skip_bad the whole block is skipped and counted.
  void fail(uint64_t at, std::string msg);
  size_t bad(size_t off, std::string msg, size_t skip);
  size_t truncated(size_t off, size_t have, size_t need, const char* what);
  void append(const uint8_t* p, size_t n);
  FeedResult result() const;

  ReaderOptions opt_;
  Mode mode_ = kDetect;
  uint8_t kind_ = 0;  // 1 pcap, 2 pcapng
  bool finished_ = false;
  // Classic pcap header.
  bool swap_ = false;  // file byte order differs from the host's (pcapng: this section's)
  bool ns_ = false;
  uint32_t linktype_ = 0;
  uint32_t cut_ = 0;  // libpcap's snapshot: the snaplen, or no cut when it is 0 or > INT_MAX
  // pcapng section state.
  std::vector<Iface> ifaces_;
  bool section_ok_ = true;  // false: a section of an unsupported version, skipped
  // The last delivered packet (SPB timestamps, resync plausibility).
  bool have_ts_ = false;
  int64_t last_ts_ = 0;
  // Stream position and the carry buffer for records split across chunks.
  uint64_t offset_ = 0;
  std::vector<uint8_t> buf_;
  size_t bpos_ = 0;
  size_t need_ = 0;
  size_t max_need_ = 0;
  PacketSink* sink_ = nullptr;
  // Results.
  uint64_t packets_ = 0;
  uint64_t untimed_packets_ = 0;
  uint64_t over_snaplen_ = 0;
  uint64_t skipped_bytes_ = 0;
  uint64_t skipped_records_ = 0;
  uint64_t error_offset_ = 0;
  std::string error_;
};

}  // namespace labtel
