// Turns packets into fixed-time netflow rows on the episode clock: counts
// by direction and protocol, TCP flags, and distinct flows, new flows, peers
// and destination ports per bucket. Fed directly or as a reader's sink.
// Memory is bounded whatever the input: distinct counting is exact up to
// distinct_exact_max live items (then a HyperLogLog estimate), the flow
// table holds at most flow_table_max flows, long runs of empty rows are
// kept as runs until ready() hands them out, and how many zero rows a
// timestamp jump may make is bounded (max_empty_buckets, below).
#pragma once
#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "flow_set.h"
#include "netflow_fields.h"
#include "packet_decode.h"
#include "pcap_reader.h"

namespace labtel {

struct BucketConfig {
  int64_t bucket_ns = 100000000;  // > 0 (clamped to [1, 2^60])
  bool have_origin = false;
  // Wall clock of the episode clock's 0: t_mono_ns = ts_ns - origin_wall_ns.
  // When !have_origin, the first packet's ts is 0.
  int64_t origin_wall_ns = 0;
  bool fill_empty = true;  // empty buckets between non-empty ones are emitted as zero rows
  std::vector<std::array<uint8_t, 16>> guest_ips;  // IPv6, or IPv4 as ::ffff:a.b.c.d
  std::vector<std::array<uint8_t, 6>> guest_macs;
  std::vector<std::array<uint8_t, 16>> bridge_ips;
  // How long past its end a bucket stays open for late packets (clamped so
  // that at most 65536 buckets are open).
  int64_t lateness_ns = 0;
  uint32_t flow_table_max = 262144;
  int64_t flow_idle_ns = 60000000000;
  // Additions to the spec, with defaults that need no setting:
  // Zero rows for empty buckets no clock vouches for (between packets: a
  // silence, or a timestamp jump in a hostile or broken file). At most
  // max_empty_buckets of them in a row after a bucket with packets; the rest
  // of that gap is not written, and the next row written carries how many
  // buckets right before it were not (empty_buckets_skipped). Overall they
  // are also bounded by a budget: max_empty_buckets, plus
  // fill_credit_per_packet for each packet in a row written so far, so a
  // capture of P packets gives at most P + max_empty_buckets +
  // fill_credit_per_packet * P rows. Empty buckets a clock saw pass
  // (advance(), end(), trusted_until_ns) are written whatever their number:
  // the clock, not the capture, bounds them.
  uint64_t max_empty_buckets = 3600;
  uint64_t fill_credit_per_packet = 16;
  // Replay of a live capture run: the episode clock is known to have passed
  // this time (the run's end), so buckets starting before it were observed
  // (live, advance() closed them) and their empty ones are written as zero
  // rows, as live. INT64_MIN: no such clock (a stored capture).
  int64_t trusted_until_ns = INT64_MIN;
  // Distinct items per set (flows, peers, dst_ports) counted exactly across
  // the open buckets; beyond it a bucket's count is a HyperLogLog estimate.
  uint32_t distinct_exact_max = 65536;
  // Hash key; 0 picks a random one per instance (hash flooding resistance).
  uint64_t hash_seed = 0;
};

// One bucket's row: its start, then the fields of netflow_fields.h.
struct BucketRow {
  int64_t t_mono_ns = 0;  // bucket start
#define LABTEL_NETFLOW_MEMBER(name, type, json) type name = 0;
  LABTEL_NETFLOW_FIELDS(LABTEL_NETFLOW_MEMBER)
#undef LABTEL_NETFLOW_MEMBER
};
static_assert(sizeof(BucketRow) == sizeof(uint64_t) * kNetflowRowWidth, "BucketRow has no padding");

// A row as the binding hands it over: kNetflowRowWidth doubles, t_mono_ns first.
inline void pack_netflow_row(const BucketRow& r, double* out) {
  *out++ = static_cast<double>(r.t_mono_ns);
#define LABTEL_NETFLOW_PACK(name, type, json) *out++ = static_cast<double>(r.name);
  LABTEL_NETFLOW_FIELDS(LABTEL_NETFLOW_PACK)
#undef LABTEL_NETFLOW_PACK
}

// What the bucketizer needs of one packet, computed from the packet alone
// by Bucketizer::summarize() (which is const and thread-safe), so that this
// part can run on another thread than the bucketing (consume()).
struct PacketSummary {
  int64_t ts_ns;
  uint64_t flow;   // keyed hash of (proto, src ip, dst ip, src port, dst port), with kSumFlow
  uint64_t peer;   // keyed hash of the peer address: dst (out, unmatched) or src (in)
  uint64_t peer2;  // unmatched: keyed hash of the source address
  uint32_t wirelen;
  uint16_t dst_port;
  uint8_t dir;        // 0 unmatched, 1 out, 2 in
  uint8_t cls;        // 0 tcp, 1 udp, 2 icmp/icmpv6, 3 other ip, 4 arp, 5 non-ip
  uint8_t tcp_flags;  // 0 without a TCP header
  uint8_t bits;       // kSum* below
};
enum : uint8_t {
  kSumTruncated = 1,
  kSumMalformed = 2,
  kSumIp = 4,      // IPv4/IPv6 with addresses: peers (and maybe a flow) to count
  kSumFlow = 8,    // names a flow: known protocol, and ports for TCP/UDP
  kSumPorted = 16  // TCP or UDP with ports: dst_port counts
};

// The packet-only half of the bucketizer (decode, direction, class, keyed
// hashes): immutable after construction, so any thread may use it. A
// pipeline gives its parse thread its own copy (Bucketizer::summarizer()),
// which carries the same hash key, so a packet's summary is the same
// whichever thread makes it.
class PacketSummarizer {
 public:
  // Seeds are the hash key (6 words, from BucketConfig::hash_seed).
  PacketSummarizer(const BucketConfig& c, const uint64_t seeds[6]);
  void summarize(const Packet& p, PacketSummary* s) const {
    if (!summarize_fast(p, s)) summarize_generic(p, s);
  }
  // summarize() through decode() and its Decoded struct, for every packet:
  // the tests and the fuzzer hold summarize()'s fast path to it.
  void summarize_generic(const Packet& p, PacketSummary* s) const;
  uint64_t port_hash(uint16_t port) const { return mix64(port ^ seed_[5]); }

 private:
  struct Addr {  // a 16-byte address as two words, for branch-free compares
    uint64_t lo, hi;
  };
  uint64_t hash_ip(const Addr& ip) const { return fold_mul(ip.lo ^ seed_[0], ip.hi ^ seed_[1]); }
  uint64_t hash_flow(uint8_t proto, const Addr& s, const Addr& t, uint16_t sp, uint16_t dp) const;
  // The common packet (Ethernet, IPv4 without options or fragmentation,
  // TCP or UDP, all captured, lengths consistent: decode()'s fast path)
  // summarized straight from its bytes; false for any other packet.
  bool summarize_fast(const Packet& p, PacketSummary* s) const;
  // 1 out, 2 in, 0 unmatched (out wins), from the addresses and MACs.
  unsigned direction(const Addr& src, const Addr& dst, unsigned has_ips, unsigned has_src_mac, const uint8_t* src_mac,
                     unsigned has_dst_mac, const uint8_t* dst_mac) const;
  void put_hashes(const Addr& src, const Addr& dst, uint8_t proto, uint16_t sp, uint16_t dp, unsigned dir,
                  PacketSummary* x) const;

  uint64_t seed_[6];
  std::vector<Addr> guest_ips_, bridge_ips_;
  std::vector<uint64_t> guest_macs_;  // 6 bytes, zero-extended
};

// What Bucketizer::end() did past the end time.
struct EndResult {
  // The last bucket it closed ends after the end time (false: it closed
  // nothing, or the end is on a bucket edge).
  bool last_partial = false;
  // Packets stamped in buckets after the end's bucket: counted, not emitted.
  uint64_t packets_after_end = 0;
};

class Bucketizer final : public PacketSink {
 public:
  explicit Bucketizer(BucketConfig);
  ~Bucketizer() override;
  Bucketizer(const Bucketizer&) = delete;
  Bucketizer& operator=(const Bucketizer&) = delete;

  // summarize() + consume(), a few packets at a time (so the hash tables'
  // memory can be prefetched).
  void packet(const Packet& p) override;
  void packets(const Packet* ps, size_t n) override {
    for (size_t i = 0; i < n; i++) packet(ps[i]);  // direct calls: this class is final
  }
  // The two halves of packet(), for a pipeline: summarize() reads only the
  // configuration, so other threads may call it while one thread consumes
  // (better, each with its own summarizer() copy: no shared cache lines).
  void summarize(const Packet& p, PacketSummary* s) const { sum_.summarize(p, s); }
  PacketSummarizer summarizer() const { return sum_; }
  void consume(const PacketSummary* s, size_t n);
  // Rows closed so far, in time order; the caller takes them (clears the
  // vector). At most 65536 zero rows are materialized per call: when
  // rows_pending(), call again.
  std::vector<BucketRow>& ready();
  bool rows_pending() const { return !backlog_.empty(); }
  // The episode clock reached now_mono_ns: close buckets whose end +
  // lateness <= now (live use). Closed empty buckets after the first row are
  // emitted as zero rows (with fill_empty) even past the last packet.
  void advance(int64_t now_mono_ns);
  // Closes everything (end of input). Returns whether the last row it
  // closed was cut short by the stop (its end lies past the last packet /
  // advance() time); false when it closed nothing.
  bool flush();
  // Live use: the capture began at now_mono_ns. Starts the series there
  // without a packet (bucket k0 = floor(now / bucket)), with zero rows from
  // k0 on (fill_empty), so a silent capture still gives a row per bucket;
  // earlier packets are late into the oldest open bucket. No buckets before
  // k0 are opened for lateness (unlike a first packet). Returns nullptr, or
  // why it refused: no origin, the series already started, or ended.
  const char* begin(int64_t now_mono_ns);
  // Live use: the capture ended at end_mono_ns. Closes every bucket that
  // starts before it, lateness or not (zero rows for empty ones, as
  // advance() makes), and discards the later buckets (packets stamped at or
  // after the end), counting their packets. The series is over then:
  // packet()/consume() must not be called (the binding refuses feeds),
  // advance() and flush() do nothing, begin() and end() refuse. Returns
  // nullptr, or why it refused (already ended).
  const char* end(int64_t end_mono_ns, EndResult* out);
  bool ended() const { return ended_; }
  static constexpr const char* kNoOrigin = "begin() needs originWallNs (a series on the episode clock)";
  static constexpr const char* kStarted = "begin(): the series has already started";
  static constexpr const char* kEnded = "the series has ended";
  uint64_t packets() const { return packets_ + npending_; }
  // Gaps (runs of empty buckets after a row with packets) not written whole:
  // longer than max_empty_buckets, or past the fill budget.
  uint64_t holes() const { return holes_; }
  // Empty buckets not written, over the series (with fill_empty off: every
  // empty bucket after the first row). Those before a row are in its
  // empty_buckets_skipped; those at the end of a series are in no row.
  uint64_t empty_buckets_skipped() const { return skipped_total_; }

 private:
  enum { kFlows = 0, kPeers = 1, kPorts = 2 };
  enum { kUnmatched = 0, kOut = 1, kIn = 2 };
  struct Acc {  // one open bucket's counters, in the layout count() wants
    uint64_t pkts[3] = {0, 0, 0};   // by direction: unmatched, out, in
    uint64_t bytes[3] = {0, 0, 0};
    uint64_t cls[6] = {0, 0, 0, 0, 0, 0};  // tcp, udp, icmp, other_ip, arp, non_ip
    uint64_t truncated = 0, malformed = 0, late = 0;
    uint64_t syn = 0, synack = 0, fin = 0, rst = 0;
    uint64_t distinct[3] = {0, 0, 0};  // flows, peers, dst_ports
    uint64_t new_flows = 0;
    uint32_t in_set[3] = {0, 0, 0};    // live entries this bucket holds in sets_
    int32_t sketch[3] = {-1, -1, -1};  // HLL taking over a set that overflowed
    bool any = false;
  };
  struct Pending {  // a row, or (zeros > 0) a run of zero rows from bucket k
    int64_t k;
    uint64_t zeros;
    BucketRow row;
  };
  static constexpr size_t kPending = 32;  // packet(): summaries consumed together
  static constexpr size_t kAhead = 8;     // consume(): prefetch distance

  Acc& slot(int64_t k) { return ring_[static_cast<uint64_t>(k) & ring_mask_]; }
  Acc* locate(int64_t t, int64_t* k);
  void start(int64_t ts_ns);
  void consume_one(const PacketSummary& x);
  void prefetch(const PacketSummary& x) const;
  void count_single(Acc& a, int64_t k, int64_t t, const PacketSummary& x);
  void count_multi(Acc& a, int64_t k, int64_t t, const PacketSummary& x);
  void drain_pending();
  bool distinct(int which, Acc& a, int64_t k, uint64_t h);
  void overflow(int which, Acc& a, int64_t k, uint64_t h);
  int32_t new_sketch();
  void add_port(Acc& a, uint16_t port, unsigned on);
  void close_until(int64_t kend);
  void close_one(int64_t k, Acc& a, size_t removed[3]);
  uint64_t discard_open();
  void clear_ports();
  void push_row(BucketRow r);
  void push_zeros(int64_t k, uint64_t n);
  void emit_zeros(int64_t k, uint64_t n);
  void append(const BucketRow& r);
  void skip(uint64_t n);
  void trust(int64_t t);

  BucketConfig cfg_;
  int64_t b_;  // bucket_ns
  int64_t l_;  // lateness_ns
  int64_t idle_;
  // lateness 0: one bucket open at a time, so flows are counted through the
  // flow table's per-flow mark and ports in a bitmap (the fast path);
  // otherwise every distinct set is a BucketSet keyed by bucket.
  bool single_;
  PacketSummarizer sum_;
  bool started_ = false;
  int64_t origin_ = 0;
  int64_t next_open_ = 0;  // buckets below are closed
  int64_t hi_ = 0;         // the newest bucket with packets
  int64_t now_ = 0;        // the latest packet time or advance() time
  // Packets with t in [fast_lo_, fast_hi_) go to fast_k_ with no bookkeeping.
  int64_t fast_lo_ = 1, fast_hi_ = 0, fast_k_ = 0;
  Acc* fast_acc_ = nullptr;
  std::vector<Acc> ring_;
  uint64_t ring_mask_ = 0;
  BucketSet sets_[3];
  FlowTable flow_table_;
  std::vector<uint64_t> port_bits_;  // single_: dst ports seen in the open bucket
  std::vector<uint16_t> port_list_;
  size_t port_count_ = 0;
  PacketSummary pending_[kPending];
  size_t npending_ = 0;
  std::vector<std::unique_ptr<Hll>> sketches_;
  std::vector<int32_t> free_sketches_;
  bool emitted_any_ = false;
  bool ended_ = false;
  // Buckets below observed_k_ were seen by a clock (advance(), end(),
  // trusted_until_ns): their empty ones are always written.
  int64_t observed_k_ = INT64_MIN;
  uint64_t gap_ = 0;           // unobserved empty buckets since the last row with packets
  bool cut_ = false;           // this gap has buckets not written
  uint64_t skipped_ = 0;       // buckets not written since the last row written
  uint64_t skipped_total_ = 0;
  uint64_t fill_left_ = 0;     // the fill budget left (unobserved zero rows)
  uint64_t holes_ = 0;
  std::vector<BucketRow> ready_;
  std::deque<Pending> backlog_;
  uint64_t packets_ = 0;
};

}  // namespace labtel
