#include "netflow_json.h"

#include <charconv>
#include <cstring>

namespace labtel {

namespace {

// A string literal's bytes, copied with a length the compiler knows.
#define LABTEL_PUT(p, lit)                \
  do {                                    \
    std::memcpy(p, lit, sizeof(lit) - 1); \
    p += sizeof(lit) - 1;                 \
  } while (0)

constexpr size_t kNumberMax = 20;  // digits of UINT64_MAX, or INT64_MIN with its sign

inline char* num(char* p, uint64_t v) { return std::to_chars(p, p + kNumberMax, v).ptr; }
inline char* num(char* p, int64_t v) { return std::to_chars(p, p + kNumberMax, v).ptr; }

// The formats of netflow_fields.h's json column.
inline char* count(char* p, uint64_t v) { return num(p, v); }
inline char* flag(char* p, uint64_t v) {
  if (v) LABTEL_PUT(p, "true");
  else LABTEL_PUT(p, "false");
  return p;
}

constexpr char kHead[] = "{\"source\":\"netflow\",\"t_mono_ns\":";
constexpr char kSeq[] = ",\"seq\":";
constexpr char kAvailTrue[] = ",\"available_in_deployment\":true,\"bucket_ms\":";
constexpr char kAvailFalse[] = ",\"available_in_deployment\":false,\"bucket_ms\":";
constexpr char kPartialFalse[] = ",\"partial\":false";
constexpr char kPartialTrue[] = ",\"partial\":true";
// Each field's key and the longest value its format writes.
constexpr size_t count_max = kNumberMax, flag_max = sizeof("false") - 1;
constexpr size_t kFieldsMax = 0
#define LABTEL_NETFLOW_FIELD_MAX(name, type, json) +sizeof(",\"" #name "\":") - 1 + json##_max
    LABTEL_NETFLOW_FIELDS(LABTEL_NETFLOW_FIELD_MAX)
#undef LABTEL_NETFLOW_FIELD_MAX
    ;
constexpr size_t kRowMax = sizeof(kHead) - 1 + kNumberMax + sizeof(kSeq) - 1 + kNumberMax + sizeof(kAvailFalse) - 1 +
                           sizeof(kPartialFalse) - 1 + kFieldsMax + 2;  // and "}\n"

}  // namespace

size_t netflow_row_max_bytes(const NetflowJsonFormat& f) { return kRowMax + f.bucket_ms.size(); }

char* format_netflow_row(const BucketRow& r, const NetflowJsonFormat& f, uint64_t seq, bool partial, char* p) {
  LABTEL_PUT(p, kHead);
  p = num(p, r.t_mono_ns);
  LABTEL_PUT(p, kSeq);
  p = num(p, seq);
  if (f.available_in_deployment) LABTEL_PUT(p, kAvailTrue);
  else LABTEL_PUT(p, kAvailFalse);
  std::memcpy(p, f.bucket_ms.data(), f.bucket_ms.size());
  p += f.bucket_ms.size();
  if (partial) LABTEL_PUT(p, kPartialTrue);
  else LABTEL_PUT(p, kPartialFalse);
  // Each field of netflow_fields.h, in its order, as its json column says.
#define LABTEL_NETFLOW_JSON(name, type, json) \
  LABTEL_PUT(p, ",\"" #name "\":");           \
  p = json(p, r.name);
  LABTEL_NETFLOW_FIELDS(LABTEL_NETFLOW_JSON)
#undef LABTEL_NETFLOW_JSON
  LABTEL_PUT(p, "}\n");
  return p;
}

void append_netflow_json(const std::vector<BucketRow>& rows, const NetflowJsonFormat& f, uint64_t* seq,
                         bool last_partial, std::string* out) {
  const size_t max = netflow_row_max_bytes(f);
  std::string line(max, '\0');
  for (size_t i = 0; i < rows.size(); i++) {
    char* end = format_netflow_row(rows[i], f, (*seq)++, last_partial && i + 1 == rows.size(), line.data());
    out->append(line.data(), size_t(end - line.data()));
  }
}

}  // namespace labtel
