// libFuzzer target for the /proc parsers: a process names itself (comm) and
// an attacked guest's QEMU may be odd, so the parsers take any bytes. Each
// input is parsed as all four files; the checks are the sanitizers' and that
// a parser judging its file unparseable leaves its fields NaN.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "../core/proc_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* p = reinterpret_cast<const char*>(data);
  double v[labtel::F_COUNT];
  std::string comm;
  for (double& x : v) x = 0;
  if (!labtel::parse_stat(p, size, v, &comm)) {
    if (!std::isnan(v[labtel::F_UTIME]) || !comm.empty()) __builtin_trap();
  } else if (comm.size() > size) {
    __builtin_trap();
  }
  if (!labtel::parse_statm(p, size, 4096, v) && !std::isnan(v[labtel::F_RSS_BYTES])) __builtin_trap();
  if (!labtel::parse_status(p, size, v) && !std::isnan(v[labtel::F_VOL_CTXT])) __builtin_trap();
  if (!labtel::parse_io(p, size, v) && !std::isnan(v[labtel::F_IO_RCHAR])) __builtin_trap();
  return 0;
}
