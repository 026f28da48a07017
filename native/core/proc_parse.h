// Parsers for /proc/<pid>/{stat,statm,status,io} text. Pure functions over a
// byte range: no I/O, so they are unit-tested and fuzzed on their own.
// Every field that is absent or malformed is left as NaN ("not collected").
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

}  // namespace labtel
