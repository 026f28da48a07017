#include "netflow_json.h"

#include <charconv>

namespace labtel {

namespace {

void num(std::string* out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

void num(std::string* out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

// The formats of netflow_fields.h's json column.
void count(std::string* out, uint64_t v) { num(out, v); }
void flag(std::string* out, uint64_t v) { out->append(v ? "true" : "false"); }

}  // namespace

void append_netflow_json(const std::vector<BucketRow>& rows, const NetflowJsonFormat& f, uint64_t* seq,
                         bool last_partial, std::string* out) {
  const char* avail = f.available_in_deployment ? ",\"available_in_deployment\":true,\"bucket_ms\":"
                                                : ",\"available_in_deployment\":false,\"bucket_ms\":";
  for (size_t i = 0; i < rows.size(); i++) {
    const BucketRow& r = rows[i];
    out->append("{\"source\":\"netflow\",\"t_mono_ns\":");
    num(out, r.t_mono_ns);
    out->append(",\"seq\":");
    num(out, (*seq)++);
    out->append(avail);
    out->append(f.bucket_ms);
    out->append(last_partial && i + 1 == rows.size() ? ",\"partial\":true" : ",\"partial\":false");
    // Each field of netflow_fields.h, in its order, as its json column says.
#define LABTEL_NETFLOW_JSON(name, type, json) \
  out->append(",\"" #name "\":");           \
  json(out, r.name);
    LABTEL_NETFLOW_FIELDS(LABTEL_NETFLOW_JSON)
#undef LABTEL_NETFLOW_JSON
    out->append("}\n");
  }
}

}  // namespace labtel
