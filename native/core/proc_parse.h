// Parsers for /proc/<pid>/{stat,statm,status,io} text. Pure functions over a
// byte range: no I/O, so they are unit-tested and fuzzed on their own.
// Every field that is absent or malformed is left as NaN ("not collected").
// Also task/<tid>/schedstat, whose values are not proc_fields (threads only).
#pragma once
#include <cstddef>
#include <string>

#include "proc_fields.h"

namespace labtel {

// Fills F_UTIME..F_PROCESSOR. comm (between the first '(' and the last ')')
// is copied to *comm when non-null. Returns false when the text is not a
// stat line at all.
bool parse_stat(const char* p, size_t n, double* v, std::string* comm);
bool parse_statm(const char* p, size_t n, double page_size, double* v);
bool parse_status(const char* p, size_t n, double* v);
bool parse_io(const char* p, size_t n, double* v);

// /proc/<pid>/task/<tid>/schedstat, which the kernel prints as
// "%llu %llu %lu\n": time on CPU (ns), time runnable but waiting on a
// runqueue (ns), timeslices run. Each value is the exact 64-bit integer
// rounded to the nearest double (ties to even), as the TS twin converts it.
struct SchedStat {
  double cpu_time_ns;
  double run_delay_ns;
  double run_periods;
};

// Accepts exactly three unsigned decimal integers of 1 to 20 digits, each at
// most 2^64 - 1 (leading zeros allowed), separated by single spaces and
// ended by one '\n' that is the last byte; no sign, no other byte. Returns
// false (and all three NaN) on anything else.
bool parse_schedstat(const char* p, size_t n, SchedStat* out);

}  // namespace labtel
