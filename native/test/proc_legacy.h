// A frozen copy of the /proc parsers and of the row formatting as they were
// before they were rewritten for speed (issue 19, proc at 1 ms: one pass over
// status and io, tables in the stat walk, rows written into one buffer,
// interval_s spelled from its integer ns). core_tests holds the rewritten
// code to this copy, byte for byte, on mutated and hostile input. Not built
// into the addon; do not edit it to follow the core (that is what it guards).
#pragma once
#include <climits>
#include <cmath>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>

#include "../core/proc_batch.h"
#include "../core/proc_fields.h"
#include "../core/proc_sampler.h"

namespace labtel_legacy {

using namespace labtel;

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// What ends a token in these files. Anything else glued to a number ("12abc",
// "8\0") makes the whole token malformed, as in the TS twin's /^-?\d{1,20}$/.
bool is_sep(char c) { return c == ' ' || c == '\t' || c == '\n'; }

// Reads a decimal integer token at *p: an optional '-' (stat uses it for a few
// signed fields), 1..20 digits whose value fits in 64 bits, then a separator
// or the end. Advances *pp past it; NaN, with *pp left alone, otherwise.
double read_num(const char** pp, const char* end) {
  const char* p = *pp;
  bool neg = false;
  if (p < end && *p == '-') { neg = true; p++; }
  if (p >= end || !is_digit(*p)) return NAN;
  unsigned long long x = 0;
  int digits = 0;
  while (p < end && is_digit(*p)) {
    unsigned d = static_cast<unsigned>(*p - '0');
    // Not a /proc number: refuse rather than wrap.
    if (++digits > 20 || x > (ULLONG_MAX - d) / 10) return NAN;
    x = x * 10 + d;
    p++;
  }
  if (p < end && !is_sep(*p)) return NAN;
  *pp = p;
  double d = static_cast<double>(x);
  return neg ? -d : d;
}

// Skips one token (up to a separator or the end).
const char* skip_token(const char* p, const char* end) {
  while (p < end && !is_sep(*p)) p++;
  return p;
}

const char* skip_spaces(const char* p, const char* end) {
  while (p < end && (*p == ' ' || *p == '\t')) p++;
  return p;
}

// Finds "key" at the start of a line and returns the number after it and
// any spaces/tabs, scaled by `scale`. NaN when the key is absent.
// The first line that starts with the key and holds more than it, found with
// memmem (status is 1.4 KB of lines and we want four of them; walking every
// line for every key cost more than the rest of the parse).
double line_value(const char* p, size_t n, const char* key, size_t klen, double scale) {
  const char* end = p + n;
  const char* from = p;
  while (static_cast<size_t>(end - from) > klen) {
    const char* hit = static_cast<const char*>(memmem(from, end - from, key, klen));
    if (!hit) break;
    if (hit != p && hit[-1] != '\n') {  // not at the start of a line
      from = hit + 1;
      continue;
    }
    const char* nl = static_cast<const char*>(memchr(hit, '\n', end - hit));
    const char* le = nl ? nl : end;
    if (static_cast<size_t>(le - hit) > klen) {
      const char* q = skip_spaces(hit + klen, le);
      double v = read_num(&q, le);
      return std::isnan(v) ? v : v * scale;
    }
    if (!nl) break;
    from = nl + 1;
  }
  return NAN;
}

// The fields parse_stat fills.
const ProcField kStatFields[] = {F_UTIME,     F_STIME, F_MINFLT, F_MAJFLT,   F_NUM_THREADS,
                                 F_STARTTIME, F_VSIZE, F_STATE,  F_PROCESSOR};

}  // namespace

inline bool parse_stat(const char* p, size_t n, double* v, std::string* comm) {
  // A file judged unparseable fills nothing: its fields stay NaN, comm empty.
  for (ProcField f : kStatFields) v[f] = NAN;
  if (comm) comm->clear();
  if (n == 0) return false;
  const char* end = p + n;
  const char* open = static_cast<const char*>(memchr(p, '(', n));
  if (!open) return false;
  // comm may itself contain ')' and spaces: the field ends at the last ')'.
  const char* close = nullptr;
  for (const char* q = end; q > open;) {
    --q;
    if (*q == ')') { close = q; break; }
  }
  if (!close) return false;
  double f[F_COUNT];
  for (ProcField k : kStatFields) f[k] = NAN;
  const char* q = close + 1;
  // Field 3 (state) is the first after comm; number fields by their 1-based
  // position in proc(5).
  int field = 3;
  while (q < end && field <= 39) {
    q = skip_spaces(q, end);
    if (q >= end || *q == '\n') break;
    if (field == 3) {
      f[F_STATE] = static_cast<unsigned char>(*q);
      q = skip_token(q, end);
    } else if (field != 10 && field != 12 && field != 14 && field != 15 && field != 20 && field != 22 &&
               field != 23 && field != 39) {
      q = skip_token(q, end);  // not a field we keep: where it ends is all that matters
    } else {
      double x = read_num(&q, end);
      if (std::isnan(x)) q = skip_token(q, end);  // malformed: the field stays NaN
      switch (field) {
        case 10: f[F_MINFLT] = x; break;
        case 12: f[F_MAJFLT] = x; break;
        case 14: f[F_UTIME] = x; break;
        case 15: f[F_STIME] = x; break;
        case 20: f[F_NUM_THREADS] = x; break;
        case 22: f[F_STARTTIME] = x; break;
        case 23: f[F_VSIZE] = x; break;
        case 39: f[F_PROCESSOR] = x; break;
        default: break;
      }
    }
    field++;
  }
  if (field <= 22) return false;  // stops before starttime: not a stat line
  for (ProcField k : kStatFields) v[k] = f[k];
  if (comm) comm->assign(open + 1, close - open - 1);
  return true;
}

inline bool parse_statm(const char* p, size_t n, double page_size, double* v) {
  v[F_RSS_BYTES] = v[F_SHARED_BYTES] = v[F_TEXT_BYTES] = v[F_DATA_BYTES] = NAN;
  const char* end = p + n;
  double f[7];
  const char* q = p;
  for (int i = 0; i < 7; i++) {
    q = skip_spaces(q, end);
    f[i] = read_num(&q, end);
    if (std::isnan(f[i])) return false;
  }
  v[F_RSS_BYTES] = f[1] * page_size;
  v[F_SHARED_BYTES] = f[2] * page_size;
  v[F_TEXT_BYTES] = f[3] * page_size;
  v[F_DATA_BYTES] = f[5] * page_size;
  return true;
}

inline bool parse_status(const char* p, size_t n, double* v) {
  // VmHWM/VmSwap are absent for kernel threads; they stay NaN then.
  double hwm = line_value(p, n, "VmHWM:", 6, 1024);
  double swap = line_value(p, n, "VmSwap:", 7, 1024);
  double vol = line_value(p, n, "voluntary_ctxt_switches:", 24, 1);
  double nonvol = line_value(p, n, "nonvoluntary_ctxt_switches:", 27, 1);
  bool ok = !std::isnan(vol) || !std::isnan(nonvol);
  // A file judged unparseable fills nothing.
  v[F_RSS_PEAK_BYTES] = ok ? hwm : NAN;
  v[F_SWAP_BYTES] = ok ? swap : NAN;
  v[F_VOL_CTXT] = ok ? vol : NAN;
  v[F_NONVOL_CTXT] = ok ? nonvol : NAN;
  return ok;
}

inline bool parse_io(const char* p, size_t n, double* v) {
  double rchar = line_value(p, n, "rchar:", 6, 1);
  double wchar = line_value(p, n, "wchar:", 6, 1);
  double rb = line_value(p, n, "read_bytes:", 11, 1);
  double wb = line_value(p, n, "write_bytes:", 12, 1);
  bool ok = !std::isnan(rchar);
  v[F_IO_RCHAR] = rchar;  // NaN when !ok
  v[F_IO_WCHAR] = ok ? wchar : NAN;
  v[F_IO_READ_BYTES] = ok ? rb : NAN;
  v[F_IO_WRITE_BYTES] = ok ? wb : NAN;
  return ok;
}


inline void append_js_number(std::string* out, double x) {
  if (x == 0) {  // -0 too: String(-0) is "0"
    out->push_back('0');
    return;
  }
  if (std::isinf(x)) {
    out->append(x < 0 ? "-Infinity" : "Infinity");
    return;
  }
  char buf[64];
  // Integers below 2^53 (nearly every value: counters, bytes, ns): plain digits.
  if (std::fabs(x) < 9007199254740992.0 && x == std::trunc(x)) {
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(x));
    out->append(buf, r.ptr);
    return;
  }
  // The shortest digits that read back as x (as ECMAScript's Number::toString
  // asks), then its layout rules: k digits, decimal exponent n.
  auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  const char* p = buf;
  const char* end = r.ptr;
  if (*p == '-') {
    out->push_back('-');
    p++;
  }
  char digits[32];
  int k = 0;
  for (; p < end && *p != 'e'; p++)
    if (*p != '.') digits[k++] = *p;
  int e = 0;
  std::from_chars(p + 1 + (p[1] == '+'), end, e);
  int n = e + 1;
  if (k <= n && n <= 21) {
    out->append(digits, k);
    out->append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out->append(digits, n);
    out->push_back('.');
    out->append(digits + n, k - n);
  } else if (-6 < n && n <= 0) {
    out->append("0.");
    out->append(static_cast<size_t>(-n), '0');
    out->append(digits, k);
  } else {
    out->push_back(digits[0]);
    if (k > 1) {
      out->push_back('.');
      out->append(digits + 1, k - 1);
    }
    out->push_back('e');
    out->push_back(n - 1 >= 0 ? '+' : '-');
    char eb[8];
    auto er = std::to_chars(eb, eb + sizeof eb, n - 1 >= 0 ? n - 1 : 1 - n);
    out->append(eb, er.ptr);
  }
}

inline void append_state_json(std::string* out, int c) {
  c &= 0xff;
  out->push_back('"');
  switch (c) {
    case '"': out->append("\\\""); break;
    case '\\': out->append("\\\\"); break;
    case '\b': out->append("\\b"); break;
    case '\f': out->append("\\f"); break;
    case '\n': out->append("\\n"); break;
    case '\r': out->append("\\r"); break;
    case '\t': out->append("\\t"); break;
    default:
      if (c < 0x20) {
        static const char hex[] = "0123456789abcdef";
        out->append("\\u00");
        out->push_back(hex[c >> 4]);
        out->push_back(hex[c & 15]);
      } else if (c < 0x80) {
        out->push_back(static_cast<char>(c));
      } else {  // U+0080..U+00FF in UTF-8
        out->push_back(static_cast<char>(0xc0 | (c >> 6)));
        out->push_back(static_cast<char>(0x80 | (c & 0x3f)));
      }
  }
  out->push_back('"');
}


namespace {

// `,"name":` for each field, as run-loop.ts's MEMBER.
struct Members {
  std::string m[F_COUNT];
  Members() {
    for (int i = 0; i < F_COUNT; i++) m[i] = std::string(",\"") + kProcFieldNames[i] + "\":";
  }
};
const Members kMembers;

}  // namespace

inline void append_proc_row(std::string* out, const ProcBatchFormat& f, const ProcRowSignature& sig, int pid, int64_t t,
                     double seq, int64_t prev_t, const ProcSample& s) {
  out->append(f.head);
  append_js_number(out, static_cast<double>(t));
  out->append(f.seq_key);
  append_js_number(out, seq);
  out->append(f.after_seq);
  if (!sig.reasons.empty()) {
    out->append(",\"null_reasons\":");
    out->append(sig.reasons);
  }
  out->append(",\"pid\":");
  append_js_number(out, pid);
  out->append(",\"starttime\":");
  append_js_number(out, s.v[F_STARTTIME]);
  out->append(",\"process_event\":null,\"interval_s\":");
  append_js_number(out, static_cast<double>(t - prev_t) / 1e9);
  for (int i = 0; i < F_COUNT; i++) {
    if (i == F_STARTTIME) continue;
    out->append(kMembers.m[i]);
    double x = s.v[i];
    if (std::isnan(x)) out->append("null");
    else if (i == F_STATE) append_state_json(out, static_cast<int>(x));
    else append_js_number(out, x);
  }
  out->append("}\n");
}

}  // namespace labtel_legacy
