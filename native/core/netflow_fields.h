// The netflow row layout, declared once: every field a bucket row carries
// after t_mono_ns, in the order of its JSON line, the packed Float64Array the
// binding hands over, and BucketRow. The struct (bucketizer.h), the packing
// (pack_netflow_row), the JSON (netflow_json.cc) and the addon's
// netflowFieldNames() are all generated from this list; a test
// (test/collectors/netflow/fields.test.ts) holds the names equal, in order,
// to the zod schema (src/collectors/netflow/rows.ts) and the TS twin's
// NETFLOW_FIELDS (src/collectors/netflow/fields.ts).
//
// X(name, type, json): json is how the value is written, `count` (a decimal
// integer) or `flag` (0 or 1 written as false or true). Every field is a
// uint64_t so that BucketRow has no padding (tests compare rows with memcmp
// and the fuzzer hashes them word by word).
#pragma once
#include <cstddef>
#include <cstdint>

#define LABTEL_NETFLOW_FIELDS(X)           \
  X(pkts_in, uint64_t, count)              \
  X(pkts_out, uint64_t, count)             \
  X(bytes_in, uint64_t, count)             \
  X(bytes_out, uint64_t, count)            \
  X(pkts_unmatched, uint64_t, count)       \
  X(bytes_unmatched, uint64_t, count)      \
  X(flows, uint64_t, count)                \
  X(new_flows, uint64_t, count)            \
  X(peers, uint64_t, count)                \
  X(dst_ports, uint64_t, count)            \
  X(tcp_syn, uint64_t, count)              \
  X(tcp_synack, uint64_t, count)           \
  X(tcp_fin, uint64_t, count)              \
  X(tcp_rst, uint64_t, count)              \
  X(pkts_tcp, uint64_t, count)             \
  X(pkts_udp, uint64_t, count)             \
  X(pkts_icmp, uint64_t, count)            \
  X(pkts_other_ip, uint64_t, count)        \
  X(pkts_arp, uint64_t, count)             \
  X(pkts_non_ip, uint64_t, count)          \
  X(pkts_truncated, uint64_t, count)       \
  X(pkts_malformed, uint64_t, count)       \
  X(pkts_late, uint64_t, count)            \
  /* 1 when flows, peers or dst_ports is a HyperLogLog estimate (past distinct_exact_max). */ \
  X(distinct_estimated, uint64_t, flag)   \
  /* Empty buckets right before this row that were not written (a gap past max_empty_buckets); 0 when none. */ \
  X(empty_buckets_skipped, uint64_t, count)

namespace labtel {

enum NetflowField {
#define LABTEL_NETFLOW_ENUM(name, type, json) NF_##name,
  LABTEL_NETFLOW_FIELDS(LABTEL_NETFLOW_ENUM)
#undef LABTEL_NETFLOW_ENUM
  NF_COUNT
};

inline constexpr const char* kNetflowFieldNames[NF_COUNT] = {
#define LABTEL_NETFLOW_NAME(name, type, json) #name,
    LABTEL_NETFLOW_FIELDS(LABTEL_NETFLOW_NAME)
#undef LABTEL_NETFLOW_NAME
};

// Doubles per packed row: t_mono_ns, then the fields above.
inline constexpr size_t kNetflowRowWidth = 1 + NF_COUNT;

}  // namespace labtel
