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
#define F(name)                    \
  out->append(",\"" #name "\":"); \
  num(out, r.name);
    F(pkts_in) F(pkts_out) F(bytes_in) F(bytes_out) F(pkts_unmatched) F(bytes_unmatched)
    F(flows) F(new_flows) F(peers) F(dst_ports) F(tcp_syn) F(tcp_synack) F(tcp_fin) F(tcp_rst)
    F(pkts_tcp) F(pkts_udp) F(pkts_icmp) F(pkts_other_ip) F(pkts_arp) F(pkts_non_ip)
    F(pkts_truncated) F(pkts_malformed) F(pkts_late)
#undef F
    out->append(r.distinct_estimated ? ",\"distinct_estimated\":true}\n" : ",\"distinct_estimated\":false}\n");
  }
}

}  // namespace labtel
