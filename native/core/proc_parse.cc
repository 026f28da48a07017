#include "proc_parse.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace labtel {

const char* const kProcFieldNames[F_COUNT] = {
    "cpu_user_jiffies", "cpu_sys_jiffies",   "minflt",         "majflt",
    "num_threads",      "starttime",         "vsize_bytes",    "state",
    "processor",        "rss_bytes",         "shared_bytes",   "text_bytes",
    "data_bytes",       "rss_peak_bytes",    "swap_bytes",     "voluntary_ctxt_switches",
    "nonvoluntary_ctxt_switches", "io_rchar", "io_wchar",      "io_read_bytes",
    "io_write_bytes",   "cpu_time_ns",       "run_delay_ns",   "run_periods"};

const char* const kProcFileNames[PF_COUNT] = {"stat", "statm", "status", "io"};

namespace {

// These parsers run once per row at 1 ms, on caches a 1 ms sleep has cooled:
// one pass over each file, table lookups instead of chains of compares, no
// division per digit. native/test/proc_legacy.h keeps the rules' first
// spelling; core_tests holds these to it on mutated and hostile text.

bool is_digit(char c) { return static_cast<unsigned char>(c - '0') < 10; }

// What ends a token in these files. Anything else glued to a number ("12abc",
// "8\0") makes the whole token malformed, as in the TS twin's /^-?\d{1,20}$/.
struct SepTable {
  bool sep[256] = {};
  SepTable() { sep[' '] = sep['\t'] = sep['\n'] = true; }
};
const SepTable kSep;
inline bool is_sep(char c) { return kSep.sep[static_cast<unsigned char>(c)]; }

// Reads a decimal integer token at *pp: an optional '-' (stat uses it for a
// few signed fields), 1..20 digits whose value fits in 64 bits, then a
// separator or the end. Advances *pp past it; NaN, with *pp left alone,
// otherwise.
inline double read_num(const char** pp, const char* end) {
  const char* p = *pp;
  bool neg = false;
  if (p < end && *p == '-') { neg = true; p++; }
  if (p >= end || !is_digit(*p)) return NAN;
  const char* start = p;
  unsigned long long x = 0;
  // Up to 19 digits cannot pass 2^64 - 1: no check needed while they are read.
  const char* fast_end = end - start > 19 ? start + 19 : end;
  while (p < fast_end && is_digit(*p)) x = x * 10 + static_cast<unsigned>(*p++ - '0');
  if (p < end && is_digit(*p)) {
    if (p - start != 19) return NAN;  // cannot happen: the loop stops at 19 digits or a non-digit
    unsigned long long y;
    if (__builtin_mul_overflow(x, 10ULL, &y) || __builtin_add_overflow(y, static_cast<unsigned long long>(*p - '0'), &y))
      return NAN;  // not a /proc number: refuse rather than wrap
    x = y;
    p++;
    if (p < end && is_digit(*p)) return NAN;  // over 20 digits
  }
  if (p < end && !is_sep(*p)) return NAN;
  *pp = p;
  double d = static_cast<double>(x);
  return neg ? -d : d;
}

// Skips one token (up to a separator or the end).
inline const char* skip_token(const char* p, const char* end) {
  while (p < end && !is_sep(*p)) p++;
  return p;
}

inline const char* skip_spaces(const char* p, const char* end) {
  while (p < end && (*p == ' ' || *p == '\t')) p++;
  return p;
}

// The first '\n' in [p, end), or nullptr.
inline const char* find_nl(const char* p, const char* end) {
  return static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
}

// A "key: value" field of status or io: the value of the first line that
// starts with the key and holds more than it, scaled (NaN when there is no
// such line, or its number is malformed).
struct LineKey {
  const char* key;
  size_t len;
  double scale;
  double value;
};

// Which keys (a bit each) may start with a byte.
struct FirstBytes {
  unsigned char keys[256] = {};
  FirstBytes(const LineKey* k, int count) {
    for (int i = 0; i < count; i++) keys[static_cast<unsigned char>(k[i].key[0])] |= static_cast<unsigned char>(1u << i);
  }
};

// Fills every key's value in one pass over the line starts, stopping once all
// are found: for each key, the line a search from the top for that key alone
// finds. Newlines are found eight bytes at a time, and only a line whose first
// byte starts a pending key is looked at further (status is ~57 lines and we
// want four; a search per key, or a call per line, cost more than the rest of
// the parse).
void line_values(const char* p, size_t n, LineKey* keys, int count, const FirstBytes& first) {
  for (int k = 0; k < count; k++) keys[k].value = NAN;
  if (n == 0) return;
  const char* end = p + n;
  unsigned pending = (1u << count) - 1;
  // The line starting at `line` (< end); true once every key is found.
  auto visit = [&](const char* line) -> bool {
    unsigned m = first.keys[static_cast<unsigned char>(*line)] & pending;
    if (!m) return false;
    const char* nl = find_nl(line, end);
    const char* le = nl ? nl : end;
    size_t len = static_cast<size_t>(le - line);
    for (; m; m &= m - 1) {
      int k = __builtin_ctz(m);
      LineKey& lk = keys[k];
      // (Every key is over 2 bytes; its third byte tells most lines of the same first byte apart.)
      if (len <= lk.len || line[2] != lk.key[2] || std::memcmp(line, lk.key, lk.len) != 0) continue;
      const char* q = skip_spaces(line + lk.len, le);
      double v = read_num(&q, le);
      lk.value = std::isnan(v) ? v : v * lk.scale;
      pending &= ~(1u << k);
    }
    return pending == 0;
  };
  if (visit(p)) return;
  const char* q = p;
#if defined(__SSE2__)
  const __m128i nl = _mm_set1_epi8('\n');
  for (; end - q >= 16; q += 16) {
    unsigned nls = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)), nl)));
    for (; nls; nls &= nls - 1) {
      const char* line = q + __builtin_ctz(nls) + 1;
      if (line < end && visit(line)) return;
    }
  }
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  constexpr uint64_t kNl = 0x0a0a0a0a0a0a0a0aULL;
  constexpr uint64_t kLow7 = 0x7f7f7f7f7f7f7f7fULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  for (; end - q >= 8; q += 8) {
    uint64_t w;
    std::memcpy(&w, q, 8);
    uint64_t x = w ^ kNl;  // a zero byte where w holds '\n'
    // Exactly the zero bytes (no borrow between bytes): bit 7 of each byte of
    // ((x & 0x7f) + 0x7f) | x is clear only where the byte of x is 0.
    uint64_t nls = ~(((x & kLow7) + kLow7) | x) & kHigh;
    for (; nls; nls &= nls - 1) {
      const char* line = q + (__builtin_ctzll(nls) >> 3) + 1;
      if (line < end && visit(line)) return;
    }
  }
#endif
  for (; q < end; q++)
    if (*q == '\n' && q + 1 < end && visit(q + 1)) return;
}

// The fields parse_stat fills.
const ProcField kStatFields[] = {F_UTIME,     F_STIME, F_MINFLT, F_MAJFLT,   F_NUM_THREADS,
                                 F_STARTTIME, F_VSIZE, F_STATE,  F_PROCESSOR};

// Which field a stat position (1-based, as proc(5) numbers them) fills: -1 for none.
struct StatPositions {
  signed char at[40];
  StatPositions() {
    for (signed char& x : at) x = -1;
    at[10] = F_MINFLT;
    at[12] = F_MAJFLT;
    at[14] = F_UTIME;
    at[15] = F_STIME;
    at[20] = F_NUM_THREADS;
    at[22] = F_STARTTIME;
    at[23] = F_VSIZE;
    at[39] = F_PROCESSOR;
  }
};
const StatPositions kStatPos;

}  // namespace

bool parse_stat(const char* p, size_t n, double* v, std::string* comm) {
  // A file judged unparseable fills nothing: its fields stay NaN, comm empty.
  for (ProcField f : kStatFields) v[f] = NAN;
  if (comm) comm->clear();
  if (n == 0) return false;
  const char* end = p + n;
  const char* open = static_cast<const char*>(std::memchr(p, '(', n));
  if (!open) return false;
  // comm may itself contain ')' and spaces: the field ends at the last ')'.
  const char* close = static_cast<const char*>(memrchr(open, ')', static_cast<size_t>(end - open)));
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
    int at = kStatPos.at[field];
    if (field == 3) {
      f[F_STATE] = static_cast<unsigned char>(*q);
      q = skip_token(q, end);
    } else if (at < 0) {
      q = skip_token(q, end);  // not a field we keep: where it ends is all that matters
    } else {
      double x = read_num(&q, end);
      if (std::isnan(x)) q = skip_token(q, end);  // malformed: the field stays NaN
      f[at] = x;
    }
    field++;
  }
  if (field <= 22) return false;  // stops before starttime: not a stat line
  for (ProcField k : kStatFields) v[k] = f[k];
  if (comm) comm->assign(open + 1, close - open - 1);
  return true;
}

bool parse_statm(const char* p, size_t n, double page_size, double* v) {
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

bool parse_status(const char* p, size_t n, double* v) {
  // VmHWM/VmSwap are absent for kernel threads; they stay NaN then.
  LineKey keys[] = {{"VmHWM:", 6, 1024, 0},
                    {"VmSwap:", 7, 1024, 0},
                    {"voluntary_ctxt_switches:", 24, 1, 0},
                    {"nonvoluntary_ctxt_switches:", 27, 1, 0}};
  static const FirstBytes first(keys, 4);
  line_values(p, n, keys, 4, first);
  double hwm = keys[0].value, swap = keys[1].value, vol = keys[2].value, nonvol = keys[3].value;
  bool ok = !std::isnan(vol) || !std::isnan(nonvol);
  // A file judged unparseable fills nothing.
  v[F_RSS_PEAK_BYTES] = ok ? hwm : NAN;
  v[F_SWAP_BYTES] = ok ? swap : NAN;
  v[F_VOL_CTXT] = ok ? vol : NAN;
  v[F_NONVOL_CTXT] = ok ? nonvol : NAN;
  return ok;
}

bool parse_io(const char* p, size_t n, double* v) {
  LineKey keys[] = {{"rchar:", 6, 1, 0},
                    {"wchar:", 6, 1, 0},
                    {"read_bytes:", 11, 1, 0},
                    {"write_bytes:", 12, 1, 0}};
  static const FirstBytes first(keys, 4);
  line_values(p, n, keys, 4, first);
  double rchar = keys[0].value;
  bool ok = !std::isnan(rchar);
  v[F_IO_RCHAR] = rchar;  // NaN when !ok
  v[F_IO_WCHAR] = ok ? keys[1].value : NAN;
  v[F_IO_READ_BYTES] = ok ? keys[2].value : NAN;
  v[F_IO_WRITE_BYTES] = ok ? keys[3].value : NAN;
  return ok;
}

bool parse_schedstat(const char* p, size_t n, SchedStat* out) {
  out->cpu_time_ns = out->run_delay_ns = out->run_periods = NAN;
  const char* end = p + n;
  double f[3];
  for (int i = 0; i < 3; i++) {
    const char* start = p;
    unsigned long long x = 0;
    while (p < end && is_digit(*p)) {
      if (p - start == 20) return false;  // a 21st digit: refused before reading on through a long file
      if (__builtin_mul_overflow(x, 10ULL, &x) || __builtin_add_overflow(x, static_cast<unsigned long long>(*p - '0'), &x))
        return false;  // over 2^64 - 1: the kernel cannot have printed it
      p++;
    }
    if (p == start || p >= end || *p != (i < 2 ? ' ' : '\n')) return false;
    p++;
    f[i] = static_cast<double>(x);  // round to nearest, ties to even
  }
  if (p != end) return false;  // anything after the newline
  out->cpu_time_ns = f[0];
  out->run_delay_ns = f[1];
  out->run_periods = f[2];
  return true;
}

}  // namespace labtel
