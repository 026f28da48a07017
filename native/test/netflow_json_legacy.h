// A frozen copy of the netflow row formatting as it was before it was
// rewritten for speed (issue 19, offline bucketize: rows written straight
// into the caller's buffer, not appended to a std::string a piece at a time).
// pcap_tests holds the rewritten code to this copy, byte for byte, over
// hostile and random rows. Not built into the addon; do not edit it to follow
// the core (that is what it guards).
#pragma once
#include <charconv>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/bucketizer.h"
#include "../core/netflow_json.h"

namespace labtel_legacy {

namespace netflow_detail {

inline void num(std::string* out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

inline void num(std::string* out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

inline void count(std::string* out, uint64_t v) { num(out, v); }
inline void flag(std::string* out, uint64_t v) { out->append(v ? "true" : "false"); }

}  // namespace netflow_detail

inline void append_netflow_json(const std::vector<labtel::BucketRow>& rows, const labtel::NetflowJsonFormat& f,
                                uint64_t* seq, bool last_partial, std::string* out) {
  using namespace netflow_detail;
  const char* avail = f.available_in_deployment ? ",\"available_in_deployment\":true,\"bucket_ms\":"
                                                : ",\"available_in_deployment\":false,\"bucket_ms\":";
  for (size_t i = 0; i < rows.size(); i++) {
    const labtel::BucketRow& r = rows[i];
    out->append("{\"source\":\"netflow\",\"t_mono_ns\":");
    num(out, r.t_mono_ns);
    out->append(",\"seq\":");
    num(out, (*seq)++);
    out->append(avail);
    out->append(f.bucket_ms);
    out->append(last_partial && i + 1 == rows.size() ? ",\"partial\":true" : ",\"partial\":false");
#define LABTEL_NETFLOW_JSON(name, type, json) \
  out->append(",\"" #name "\":");           \
  json(out, r.name);
    LABTEL_NETFLOW_FIELDS(LABTEL_NETFLOW_JSON)
#undef LABTEL_NETFLOW_JSON
    out->append("}\n");
  }
}

}  // namespace labtel_legacy
