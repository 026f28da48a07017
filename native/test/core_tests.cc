// Plain C++ tests of native/core, no framework:
//   core_tests <fixtures dir>      (test/fixtures/proc)
// (a) unit tests of the parsers on inline text, hostile text included;
// (b) for every case folder under the fixtures dir, ProcSampler over
//     <case>/proc compared with <case>/expected.json (also read by the TS
//     tests; its values were computed by hand from the fixture text);
// (c) the sampler on real /proc: a pid that does not exist, this process,
//     and a child that exits while sampled.
// Every failed CHECK prints file:line and the expression; exit 1 if any.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "../core/proc_fields.h"
#include "../core/proc_parse.h"
#include "../core/proc_sampler.h"

using namespace labtel;

namespace {

int g_failures = 0;
int g_checks = 0;
std::string g_context;  // printed with failures: which case/field is checked

#define CHECK(cond)                                                                  \
  do {                                                                               \
    g_checks++;                                                                      \
    if (!(cond)) {                                                                   \
      g_failures++;                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s%s%s\n", __FILE__, __LINE__, #cond, \
                   g_context.empty() ? "" : "  [", g_context.empty() ? "" : (g_context + "]").c_str()); \
    }                                                                                \
  } while (0)

// NaN-aware equality for "expected value or not collected".
bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

#define CHECK_NUM(actual, expected)                                                        \
  do {                                                                                     \
    double a_ = (actual), e_ = (expected);                                                 \
    g_checks++;                                                                            \
    if (!same(a_, e_)) {                                                                   \
      g_failures++;                                                                        \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s == %s (got %.17g, want %.17g)%s%s%s\n", \
                   __FILE__, __LINE__, #actual, #expected, a_, e_,                         \
                   g_context.empty() ? "" : "  [", g_context.c_str(), g_context.empty() ? "" : "]"); \
    }                                                                                      \
  } while (0)

// ---------------------------------------------------------------------------
// Parser calls on an exact-size heap copy, so ASan catches any read past n.

struct Parsed {
  bool ok;
  double v[F_COUNT];
  std::string comm;
};

std::unique_ptr<char[]> exact_copy(const std::string& s) {
  std::unique_ptr<char[]> b(new char[s.size()]);
  if (!s.empty()) std::memcpy(b.get(), s.data(), s.size());
  return b;
}

// Fields pre-filled with a sentinel, to see which ones a parser writes.
constexpr double kSentinel = -12345.0;

Parsed stat_of(const std::string& s) {
  Parsed r;
  for (double& x : r.v) x = kSentinel;
  r.comm = "sentinel";
  auto b = exact_copy(s);
  r.ok = parse_stat(b.get(), s.size(), r.v, &r.comm);
  return r;
}
Parsed statm_of(const std::string& s, double page = 4096) {
  Parsed r;
  for (double& x : r.v) x = kSentinel;
  auto b = exact_copy(s);
  r.ok = parse_statm(b.get(), s.size(), page, r.v);
  return r;
}
Parsed status_of(const std::string& s) {
  Parsed r;
  for (double& x : r.v) x = kSentinel;
  auto b = exact_copy(s);
  r.ok = parse_status(b.get(), s.size(), r.v);
  return r;
}
Parsed io_of(const std::string& s) {
  Parsed r;
  for (double& x : r.v) x = kSentinel;
  auto b = exact_copy(s);
  r.ok = parse_io(b.get(), s.size(), r.v);
  return r;
}

const ProcField kStatF[] = {F_UTIME, F_STIME, F_MINFLT, F_MAJFLT, F_NUM_THREADS,
                            F_STARTTIME, F_VSIZE, F_STATE, F_PROCESSOR};
const ProcField kStatmF[] = {F_RSS_BYTES, F_SHARED_BYTES, F_TEXT_BYTES, F_DATA_BYTES};
const ProcField kStatusF[] = {F_RSS_PEAK_BYTES, F_SWAP_BYTES, F_VOL_CTXT, F_NONVOL_CTXT};
const ProcField kIoF[] = {F_IO_RCHAR, F_IO_WCHAR, F_IO_READ_BYTES, F_IO_WRITE_BYTES};

// Each parser writes its own fields only.
template <size_t N>
bool only_touches(const Parsed& r, const ProcField (&mine)[N]) {
  for (int f = 0; f < F_COUNT; f++) {
    bool own = std::find(std::begin(mine), std::end(mine), f) != std::end(mine);
    if (!own && r.v[f] != kSentinel) return false;
  }
  return true;
}
// A failed parse leaves all its fields NaN (nothing from a file judged bad).
template <size_t N>
bool all_nan(const Parsed& r, const ProcField (&mine)[N]) {
  for (ProcField f : mine)
    if (!std::isnan(r.v[f])) return false;
  return true;
}

// A real stat line (kernel 6.x, 52 fields) with comm and five fields to fill in.
std::string stat_line(const std::string& comm, const std::string& minflt = "2965",
                      const std::string& utime = "13", const std::string& tail_nl = "\n") {
  return "3728 (" + comm + ") S 3726 3722 2719 0 -1 4194304 " + minflt + " 6539 10 0 " + utime +
         " 12 5 0 20 0 3 0 31750 168316928 3491 18446744073709551615 94081646268416 "
         "94081646268757 140726539400096 0 0 0 0 16781318 0 0 0 0 17 1 0 0 0 0 0 94081646280112 "
         "94081646280728 94081904910336 140726539401434 140726539401503 140726539401503 "
         "140726539403215 0" + tail_nl;
}

const std::string kDigits30 = "123456789012345678901234567890";

void test_parse_stat() {
  g_context = "parse_stat";
  {
    Parsed r = stat_of(stat_line("qemu-system-x86"));
    CHECK(r.ok);
    CHECK(r.comm == "qemu-system-x86");
    CHECK_NUM(r.v[F_STATE], 'S');
    CHECK_NUM(r.v[F_MINFLT], 2965);
    CHECK_NUM(r.v[F_MAJFLT], 10);
    CHECK_NUM(r.v[F_UTIME], 13);
    CHECK_NUM(r.v[F_STIME], 12);
    CHECK_NUM(r.v[F_NUM_THREADS], 3);
    CHECK_NUM(r.v[F_STARTTIME], 31750);
    CHECK_NUM(r.v[F_VSIZE], 168316928);
    CHECK_NUM(r.v[F_PROCESSOR], 1);
    CHECK(only_touches(r, kStatF));
  }
  {  // comm with spaces and parens: the comm ends at the LAST ')'
    Parsed r = stat_of(stat_line("(qemu) x)"));
    CHECK(r.ok);
    CHECK(r.comm == "(qemu) x)");
    CHECK_NUM(r.v[F_UTIME], 13);
    CHECK_NUM(r.v[F_PROCESSOR], 1);
    r = stat_of(stat_line("CPU 0/TCG"));
    CHECK(r.ok && r.comm == "CPU 0/TCG");
    CHECK_NUM(r.v[F_STARTTIME], 31750);
    r = stat_of(stat_line(") ) 1 2 3 ("));  // a comm that looks like fields
    CHECK(r.ok && r.comm == ") ) 1 2 3 (");
    CHECK_NUM(r.v[F_MINFLT], 2965);
    r = stat_of(stat_line(""));  // empty comm
    CHECK(r.ok && r.comm.empty());
    CHECK_NUM(r.v[F_VSIZE], 168316928);
    r = stat_of(stat_line(std::string("a\0b\nc", 5)));  // NUL and newline inside comm
    CHECK(r.ok && r.comm == std::string("a\0b\nc", 5));
    CHECK_NUM(r.v[F_MAJFLT], 10);
  }
  {  // no trailing newline; kernel-thread line with 20-digit fields
    Parsed r = stat_of(stat_line("x", "1", "2", ""));
    CHECK(r.ok);
    CHECK_NUM(r.v[F_PROCESSOR], 1);
    r = stat_of("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 21 0 0 18446744073709551615 0 0 0 0 "
                "0 0 0 2147483647 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
    CHECK(r.ok && r.comm == "kthreadd");
    CHECK_NUM(r.v[F_STARTTIME], 21);
    CHECK_NUM(r.v[F_VSIZE], 0);
    CHECK_NUM(r.v[F_PROCESSOR], 0);
  }
  {  // not a stat line: nothing filled, comm empty
    for (const std::string& s : {std::string(""), std::string("("), std::string(")"), std::string(")("),
                                std::string("3728 qemu S 1 2 3"), std::string("3728 (qemu S 1 2 3 4 5 6 7 8 9 10 "
                                "11 12 13 14 15 16 17 18 19 20 21 22 23 24"), std::string("3728 (qemu)"),
                                std::string("3728 (qemu) "), std::string("3728 (qemu)\n"),
                                std::string("\0\0\0", 3), std::string(4096, '('), std::string(4096, ')')}) {
      Parsed r = stat_of(s);
      CHECK(!r.ok);
      CHECK(r.comm.empty());
      CHECK(all_nan(r, kStatF));
      CHECK(only_touches(r, kStatF));
    }
  }
  {  // truncated: stops before field 22 (starttime) → rejected, nothing kept
    Parsed r = stat_of("3728 (qemu) S 3726 3722 2719 0 -1 4194304 2965 6539 10 0 13 12 5 0 20 0 3 0");
    CHECK(!r.ok);
    CHECK(all_nan(r, kStatF));
    CHECK(r.comm.empty());
    // exactly through field 22: accepted, later fields NaN
    r = stat_of("3728 (qemu) S 3726 3722 2719 0 -1 4194304 2965 6539 10 0 13 12 5 0 20 0 3 0 31750");
    CHECK(r.ok);
    CHECK_NUM(r.v[F_STARTTIME], 31750);
    CHECK_NUM(r.v[F_VSIZE], NAN);
    CHECK_NUM(r.v[F_PROCESSOR], NAN);
    // the second line does not continue the first
    r = stat_of("3728 (qemu) S 3726 3722 2719 0 -1 4194304 2965 6539 10 0 13 12 5 0 20 0 3 0\n31750 1 2");
    CHECK(!r.ok);
  }
  {  // malformed tokens: that field NaN, the others still aligned
    Parsed r = stat_of(stat_line("q", kDigits30, "abc"));
    CHECK(r.ok);
    CHECK_NUM(r.v[F_MINFLT], NAN);
    CHECK_NUM(r.v[F_UTIME], NAN);
    CHECK_NUM(r.v[F_STIME], 12);
    CHECK_NUM(r.v[F_PROCESSOR], 1);
    r = stat_of(stat_line("q", "12abc", std::string("7\0", 2)));  // glued junk: one token, NaN
    CHECK(r.ok);
    CHECK_NUM(r.v[F_MINFLT], NAN);
    CHECK_NUM(r.v[F_MAJFLT], 10);
    CHECK_NUM(r.v[F_UTIME], NAN);
    CHECK_NUM(r.v[F_STIME], 12);
    CHECK_NUM(r.v[F_VSIZE], 168316928);
    CHECK_NUM(r.v[F_PROCESSOR], 1);
    r = stat_of(stat_line("q", "-", "--1"));
    CHECK(r.ok);
    CHECK_NUM(r.v[F_MINFLT], NAN);
    CHECK_NUM(r.v[F_UTIME], NAN);
    CHECK_NUM(r.v[F_STIME], 12);
    // 20 digits: the largest that fits is read, one more overflows → NaN, not a wrapped value
    r = stat_of(stat_line("q", "18446744073709551615", "18446744073709551616"));
    CHECK(r.ok);
    CHECK_NUM(r.v[F_MINFLT], 18446744073709551615.0);
    CHECK_NUM(r.v[F_UTIME], NAN);
    CHECK_NUM(r.v[F_STIME], 12);
    r = stat_of(stat_line("q", "99999999999999999999", "000000000000000000001"));  // 21 digits
    CHECK_NUM(r.v[F_MINFLT], NAN);
    CHECK_NUM(r.v[F_UTIME], NAN);
    CHECK_NUM(r.v[F_MAJFLT], 10);
    // negative numbers: stat has signed fields (tpgid -1, exit_signal -1), read as such
    r = stat_of(stat_line("q", "-5", "-0"));
    CHECK(r.ok);
    CHECK_NUM(r.v[F_MINFLT], -5);
    CHECK_NUM(r.v[F_UTIME], 0);
    CHECK_NUM(r.v[F_STIME], 12);
    // tabs separate tokens too
    r = stat_of("1 (t) R\t4 5 6 7 8 9\t10 11 12\t\t13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 "
                "32 33 34 35 36 37 38 39 40\n");  // each field holds its number
    CHECK(r.ok);
    CHECK_NUM(r.v[F_STATE], 'R');
    CHECK_NUM(r.v[F_MINFLT], 10);
    CHECK_NUM(r.v[F_PROCESSOR], 39);
  }
  {  // a null comm pointer is allowed
    std::string s = stat_line("x");
    double v[F_COUNT];
    CHECK(parse_stat(s.data(), s.size(), v, nullptr));
    CHECK_NUM(v[F_UTIME], 13);
  }
}

void test_parse_statm() {
  g_context = "parse_statm";
  Parsed r = statm_of("41093 3500 1698 1 0 6227 0\n");
  CHECK(r.ok);
  CHECK_NUM(r.v[F_RSS_BYTES], 3500.0 * 4096);
  CHECK_NUM(r.v[F_SHARED_BYTES], 1698.0 * 4096);
  CHECK_NUM(r.v[F_TEXT_BYTES], 4096);
  CHECK_NUM(r.v[F_DATA_BYTES], 6227.0 * 4096);
  CHECK(only_touches(r, kStatmF));
  r = statm_of("0 0 0 0 0 0 0", 65536);  // kernel thread, no newline, other page size
  CHECK(r.ok);
  CHECK_NUM(r.v[F_RSS_BYTES], 0);
  r = statm_of(" 1\t2  3 4 5 6 7 8 9");
  CHECK(r.ok);
  CHECK_NUM(r.v[F_RSS_BYTES], 2 * 4096);
  CHECK_NUM(r.v[F_DATA_BYTES], 6 * 4096);
  for (const std::string& s : {std::string(""), std::string("\n"), std::string("1 2 3 4 5 6"),
                              std::string("1 2 3 4 5 6\n7"), std::string("1 2 x 4 5 6 7"),
                              std::string("1 2 3 4 5 6 7x"), std::string("1 " + kDigits30 + " 3 4 5 6 7"),
                              std::string("1 2 3\0 4 5 6 7", 14), std::string("- 2 3 4 5 6 7")}) {
    r = statm_of(s);
    CHECK(!r.ok);
    CHECK(all_nan(r, kStatmF));
    CHECK(only_touches(r, kStatmF));
  }
}

void test_parse_status() {
  g_context = "parse_status";
  const std::string real =
      "Name:\tqemu-system-x86\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t  229892 kB\nVmHWM:\t   14000 kB\n"
      "VmRSS:\t   14000 kB\nVmSwap:\t       8 kB\nThreads:\t3\nvoluntary_ctxt_switches:\t104\n"
      "nonvoluntary_ctxt_switches:\t26\n";
  Parsed r = status_of(real);
  CHECK(r.ok);
  CHECK_NUM(r.v[F_RSS_PEAK_BYTES], 14000.0 * 1024);
  CHECK_NUM(r.v[F_SWAP_BYTES], 8.0 * 1024);
  CHECK_NUM(r.v[F_VOL_CTXT], 104);
  CHECK_NUM(r.v[F_NONVOL_CTXT], 26);
  CHECK(only_touches(r, kStatusF));
  // kernel thread: no Vm lines; no newline at the end
  r = status_of("Name:\tkthreadd\nKthread:\t1\nvoluntary_ctxt_switches:\t58\nnonvoluntary_ctxt_switches:\t0");
  CHECK(r.ok);
  CHECK_NUM(r.v[F_RSS_PEAK_BYTES], NAN);
  CHECK_NUM(r.v[F_SWAP_BYTES], NAN);
  CHECK_NUM(r.v[F_VOL_CTXT], 58);
  CHECK_NUM(r.v[F_NONVOL_CTXT], 0);
  // keys count at the start of a line only; NUL bytes do not end the text
  const std::string nul(1, '\0');
  r = status_of("Name:\tx" + nul + "y\n" + nul + "VmHWM:\t5 kB\nX VmHWM:\t6 kB\nvoluntary_ctxt_switches:\t1\n");
  CHECK(r.ok);
  CHECK_NUM(r.v[F_RSS_PEAK_BYTES], NAN);
  CHECK_NUM(r.v[F_VOL_CTXT], 1);
  CHECK_NUM(r.v[F_NONVOL_CTXT], NAN);
  // one good switch count is enough; a bad value is NaN alone
  r = status_of("VmHWM:\tlots kB\nVmSwap:\t" + kDigits30 + " kB\nvoluntary_ctxt_switches:\t-\n"
                "nonvoluntary_ctxt_switches:\t7");
  CHECK(r.ok);
  CHECK_NUM(r.v[F_RSS_PEAK_BYTES], NAN);
  CHECK_NUM(r.v[F_SWAP_BYTES], NAN);
  CHECK_NUM(r.v[F_VOL_CTXT], NAN);
  CHECK_NUM(r.v[F_NONVOL_CTXT], 7);
  // a key with nothing after it, or a value glued to junk
  r = status_of("VmHWM:\nvoluntary_ctxt_switches:12x\nnonvoluntary_ctxt_switches:\t3");
  CHECK(r.ok);
  CHECK_NUM(r.v[F_RSS_PEAK_BYTES], NAN);
  CHECK_NUM(r.v[F_VOL_CTXT], NAN);
  CHECK_NUM(r.v[F_NONVOL_CTXT], 3);
  // not a status file: nothing kept, not even the VmHWM it did find
  for (const std::string& s : {std::string(""), std::string("\n\n\n"), std::string("voluntary_ctxt_switches:"),
                              std::string("VmHWM:\t14000 kB\nVmSwap:\t0 kB\nvoluntary_ctxt_switches:\t" + kDigits30),
                              std::string("VmHWM:\t14000 kB\nvoluntary_ctxt_switches:\tmany\n"),
                              std::string(8192, '\0')}) {
    r = status_of(s);
    CHECK(!r.ok);
    CHECK(all_nan(r, kStatusF));
    CHECK(only_touches(r, kStatusF));
  }
}

void test_parse_io() {
  g_context = "parse_io";
  Parsed r = io_of("rchar: 1719210\nwchar: 68120\nsyscr: 1558\nsyscw: 32\nread_bytes: 1232896\n"
                   "write_bytes: 12288\ncancelled_write_bytes: 0\n");
  CHECK(r.ok);
  CHECK_NUM(r.v[F_IO_RCHAR], 1719210);
  CHECK_NUM(r.v[F_IO_WCHAR], 68120);
  CHECK_NUM(r.v[F_IO_READ_BYTES], 1232896);
  CHECK_NUM(r.v[F_IO_WRITE_BYTES], 12288);  // not confused with cancelled_write_bytes
  CHECK(only_touches(r, kIoF));
  r = io_of("rchar: 5");
  CHECK(r.ok);
  CHECK_NUM(r.v[F_IO_RCHAR], 5);
  CHECK_NUM(r.v[F_IO_WCHAR], NAN);
  r = io_of("cancelled_write_bytes: 9\nrchar: 1\nwrite_bytes: " + kDigits30 + "\n");
  CHECK(r.ok);
  CHECK_NUM(r.v[F_IO_WRITE_BYTES], NAN);
  for (const std::string& s : {std::string(""), std::string("rchar:"), std::string("rchar: x\nwchar: 99\n"),
                              std::string("wchar: 99\nread_bytes: 4096\nwrite_bytes: 1\n"),
                              std::string("rchar: 12abc\nwchar: 1\n"), std::string("\0rchar: 1", 9)}) {
    r = io_of(s);
    CHECK(!r.ok);
    CHECK(all_nan(r, kIoF));
    CHECK(only_touches(r, kIoF));
  }
}

// ---------------------------------------------------------------------------
// A tiny JSON reader, enough for expected.json: objects, arrays, strings
// (with \" \\ \/ \b \f \n \r \t \uXXXX for the BMP), numbers, true/false/null.

struct Json {
  enum Kind { NUL, BOOL, NUM, STR, ARR, OBJ } kind = NUL;
  bool b = false;
  double n = 0;
  std::string s;
  std::vector<Json> a;
  std::vector<std::pair<std::string, Json>> o;

  const Json* get(const std::string& key) const {
    for (const auto& kv : o)
      if (kv.first == key) return &kv.second;
    return nullptr;
  }
};

class JsonReader {
 public:
  explicit JsonReader(const std::string& t) : t_(t) {}
  bool parse(Json* out) {
    if (!value(out)) return false;
    ws();
    return i_ == t_.size();
  }

 private:
  void ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\n' || t_[i_] == '\r' || t_[i_] == '\t')) i_++;
  }
  bool lit(const char* w) {
    size_t n = std::strlen(w);
    if (t_.compare(i_, n, w) != 0) return false;
    i_ += n;
    return true;
  }
  bool value(Json* v) {
    if (++depth_ > 32) return false;
    ws();
    bool ok = false;
    if (i_ >= t_.size()) ok = false;
    else if (t_[i_] == '{') ok = object(v);
    else if (t_[i_] == '[') ok = array(v);
    else if (t_[i_] == '"') { v->kind = Json::STR; ok = string(&v->s); }
    else if (lit("null")) { v->kind = Json::NUL; ok = true; }
    else if (lit("true")) { v->kind = Json::BOOL; v->b = true; ok = true; }
    else if (lit("false")) { v->kind = Json::BOOL; ok = true; }
    else ok = number(v);
    depth_--;
    return ok;
  }
  bool number(Json* v) {
    const char* start = t_.c_str() + i_;
    char* endp = nullptr;
    v->n = std::strtod(start, &endp);
    if (endp == start) return false;
    v->kind = Json::NUM;
    i_ += static_cast<size_t>(endp - start);
    return true;
  }
  bool string(std::string* s) {
    i_++;  // '"'
    while (i_ < t_.size()) {
      char c = t_[i_++];
      if (c == '"') return true;
      if (c != '\\') { s->push_back(c); continue; }
      if (i_ >= t_.size()) return false;
      char e = t_[i_++];
      switch (e) {
        case '"': case '\\': case '/': s->push_back(e); break;
        case 'b': s->push_back('\b'); break;
        case 'f': s->push_back('\f'); break;
        case 'n': s->push_back('\n'); break;
        case 'r': s->push_back('\r'); break;
        case 't': s->push_back('\t'); break;
        case 'u': {
          if (i_ + 4 > t_.size()) return false;
          unsigned cp = static_cast<unsigned>(std::strtoul(t_.substr(i_, 4).c_str(), nullptr, 16));
          i_ += 4;
          if (cp < 0x80) {
            s->push_back(static_cast<char>(cp));
          } else if (cp < 0x800) {
            s->push_back(static_cast<char>(0xc0 | (cp >> 6)));
            s->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
          } else {
            s->push_back(static_cast<char>(0xe0 | (cp >> 12)));
            s->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
            s->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
          }
          break;
        }
        default: return false;
      }
    }
    return false;
  }
  bool array(Json* v) {
    v->kind = Json::ARR;
    i_++;
    ws();
    if (i_ < t_.size() && t_[i_] == ']') { i_++; return true; }
    for (;;) {
      v->a.emplace_back();
      if (!value(&v->a.back())) return false;
      ws();
      if (i_ >= t_.size()) return false;
      if (t_[i_] == ',') { i_++; continue; }
      if (t_[i_] == ']') { i_++; return true; }
      return false;
    }
  }
  bool object(Json* v) {
    v->kind = Json::OBJ;
    i_++;
    ws();
    if (i_ < t_.size() && t_[i_] == '}') { i_++; return true; }
    for (;;) {
      ws();
      if (i_ >= t_.size() || t_[i_] != '"') return false;
      std::string key;
      if (!string(&key)) return false;
      ws();
      if (i_ >= t_.size() || t_[i_] != ':') return false;
      i_++;
      v->o.emplace_back(key, Json());
      if (!value(&v->o.back().second)) return false;
      ws();
      if (i_ >= t_.size()) return false;
      if (t_[i_] == ',') { i_++; continue; }
      if (t_[i_] == '}') { i_++; return true; }
      return false;
    }
  }

  const std::string& t_;
  size_t i_ = 0;
  int depth_ = 0;
};

void test_json_reader() {
  g_context = "json reader";
  Json j;
  CHECK(JsonReader(R"({"a": [1, -2.5e3, null, true, "x\"\u00e9\n"], "b": {}})").parse(&j));
  CHECK(j.kind == Json::OBJ && j.get("a") && j.get("a")->a.size() == 5);
  CHECK(j.get("a")->a[1].n == -2500);
  CHECK(j.get("a")->a[2].kind == Json::NUL);
  CHECK(j.get("a")->a[4].s == "x\"\xc3\xa9\n");
  Json k;
  CHECK(!JsonReader("{\"a\": 1,}").parse(&k));
  Json l;
  CHECK(!JsonReader("[1] x").parse(&l));
}

// ---------------------------------------------------------------------------
// Golden fixtures.

const char* errno_name(int e) {
  switch (e) {
    case 0: return nullptr;
    case ENOENT: return "ENOENT";
    case EBADMSG: return "EBADMSG";
    case EACCES: return "EACCES";
    case ESRCH: return "ESRCH";
    case EBADF: return "EBADF";
    case EPERM: return "EPERM";
    default: return "E?";
  }
}

bool read_text(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

bool is_dir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Expected number or null (NaN); a missing key or another type fails the check.
bool expected_num(const Json* obj, const char* key, double* out) {
  const Json* x = obj ? obj->get(key) : nullptr;
  if (!x) return false;
  if (x->kind == Json::NUL) { *out = NAN; return true; }
  if (x->kind != Json::NUM) return false;
  *out = x->n;
  return true;
}

struct ThreadField { const char* name; ProcField f; };
const ThreadField kThreadFields[] = {
    {"cpu_user_jiffies", F_UTIME}, {"cpu_sys_jiffies", F_STIME}, {"minflt", F_MINFLT}, {"majflt", F_MAJFLT},
    {"starttime", F_STARTTIME},    {"state", F_STATE},           {"processor", F_PROCESSOR}};

void check_case(const std::string& dir, const std::string& name) {
  g_context = name;
  std::string text;
  if (!read_text(dir + "/expected.json", &text)) {
    CHECK(!"expected.json is readable");
    return;
  }
  Json ex;
  CHECK(JsonReader(text).parse(&ex) && ex.kind == Json::OBJ);
  double pid = NAN, page = NAN;
  CHECK(expected_num(&ex, "pid", &pid) && pid > 0);
  CHECK(expected_num(&ex, "page_size", &page) && page == 4096);
  const Json* errors = ex.get("errors");
  const Json* process = ex.get("process");
  const Json* threads = ex.get("threads");
  CHECK(errors && errors->kind == Json::OBJ && errors->o.size() == PF_COUNT);
  CHECK(process && process->kind == Json::OBJ && process->o.size() == F_COUNT);
  CHECK(threads && threads->kind == Json::ARR);
  if (!errors || !process || !threads || std::isnan(pid)) return;

  ProcSampler s(dir + "/proc", static_cast<int>(pid), page);
  CHECK(s.open() == 0);
  for (int round = 0; round < 2; round++) {  // the second round re-reads the same descriptors
    g_context = name + " round " + std::to_string(round);
    ProcSample ps;
    s.sample(&ps);
    for (int f = 0; f < PF_COUNT; f++) {
      g_context = name + " round " + std::to_string(round) + " errors." + kProcFileNames[f];
      const Json* e = errors->get(kProcFileNames[f]);
      CHECK(e && (e->kind == Json::NUL || e->kind == Json::STR));
      if (!e) continue;
      const char* got = errno_name(ps.err[f]);
      if (e->kind == Json::NUL) CHECK(got == nullptr);
      else CHECK(got != nullptr && e->s == got);
      if ((e->kind == Json::NUL) != (got == nullptr) || (got && e->s != got))
        std::fprintf(stderr, "    got %s (%d)\n", got ? got : "null", ps.err[f]);
    }
    for (int f = 0; f < F_COUNT; f++) {
      g_context = name + " round " + std::to_string(round) + " process." + kProcFieldNames[f];
      double want = 0;
      CHECK(expected_num(process, kProcFieldNames[f], &want));
      CHECK_NUM(ps.v[f], want);
    }

    std::vector<ThreadSample> ts;
    s.sample_threads(&ts);
    std::sort(ts.begin(), ts.end(), [](const ThreadSample& a, const ThreadSample& b) { return a.tid < b.tid; });
    g_context = name + " round " + std::to_string(round) + " threads";
    CHECK(ts.size() == threads->a.size());
    for (size_t i = 0; i < ts.size() && i < threads->a.size(); i++) {
      const Json& et = threads->a[i];
      double tid = NAN;
      CHECK(expected_num(&et, "tid", &tid));
      CHECK_NUM(ts[i].tid, tid);
      g_context = name + " round " + std::to_string(round) + " thread " + std::to_string(ts[i].tid);
      const Json* comm = et.get("comm");
      CHECK(comm && comm->kind == Json::STR && comm->s == ts[i].comm);
      // A thread whose stat is not a stat line reads EBADMSG and has no fields.
      bool bad = std::isnan(ts[i].v[F_STATE]);
      CHECK(ts[i].err == (bad ? EBADMSG : 0));
      for (const ThreadField& tf : kThreadFields) {
        g_context = name + " round " + std::to_string(round) + " thread " + std::to_string(ts[i].tid) + " " + tf.name;
        double want = 0;
        CHECK(expected_num(&et, tf.name, &want));
        CHECK_NUM(ts[i].v[tf.f], want);
      }
      // Thread rows carry the stat fields only.
      for (ProcField f : kStatmF) CHECK(std::isnan(ts[i].v[f]));
      for (ProcField f : kIoF) CHECK(std::isnan(ts[i].v[f]));
    }
  }
  s.close();
  g_context = name + " after close";
  ProcSample ps;
  s.sample(&ps);
  CHECK(ps.err[PF_STAT] != 0);
  CHECK(std::isnan(ps.v[F_UTIME]));
}

int run_fixtures(const std::string& root) {
  DIR* d = opendir(root.c_str());
  if (!d) {
    std::fprintf(stderr, "core_tests: cannot open fixtures dir %s: %s\n", root.c_str(), std::strerror(errno));
    g_failures++;
    return 0;
  }
  std::vector<std::string> cases;
  while (struct dirent* de = readdir(d)) {
    std::string n = de->d_name;
    if (n == "." || n == ".." || !is_dir(root + "/" + n)) continue;
    cases.push_back(n);
  }
  closedir(d);
  std::sort(cases.begin(), cases.end());
  for (const std::string& c : cases) check_case(root + "/" + c, c);
  g_context = "fixtures";
  // The cases this suite was written with must be there (a wrong path would
  // otherwise pass with zero cases).
  for (const char* want : {"qemu-like", "no-io", "kernel-thread", "garbage"})
    CHECK(std::find(cases.begin(), cases.end(), want) != cases.end());
  // A pid absent from a fixture root, as from /proc.
  ProcSampler missing(root + "/qemu-like/proc", 1, 4096);
  CHECK(missing.open() == ENOENT);
  ProcSample ps;
  missing.sample(&ps);
  for (int f = 0; f < PF_COUNT; f++) CHECK(ps.err[f] != 0);
  for (int f = 0; f < F_COUNT; f++) CHECK(std::isnan(ps.v[f]));
  std::vector<ThreadSample> ts;
  missing.sample_threads(&ts);
  CHECK(ts.empty());
  return static_cast<int>(cases.size());
}

// ---------------------------------------------------------------------------
// Real /proc.

void test_live() {
  g_context = "live: no such pid";
  {
    ProcSampler s("/proc", 0x7fffffff, 4096);  // above any pid_max
    CHECK(s.open() == ENOENT);
  }
  g_context = "live: self";
  {
    double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    ProcSampler s("/proc", getpid(), page);
    CHECK(s.open() == 0);
    // Some work between samples, so the second one reads fresh text at offset 0.
    std::vector<std::vector<char>> keep;
    for (int round = 0; round < 2; round++) {
      ProcSample ps;
      s.sample(&ps);
      CHECK(ps.err[PF_STAT] == 0);
      CHECK(ps.err[PF_STATM] == 0);
      CHECK(ps.err[PF_STATUS] == 0);
      CHECK(ps.err[PF_IO] == 0);  // one's own io is always readable
      CHECK(!std::isnan(ps.v[F_UTIME]) && ps.v[F_UTIME] >= 0);
      CHECK(!std::isnan(ps.v[F_STIME]));
      CHECK(!std::isnan(ps.v[F_RSS_BYTES]) && ps.v[F_RSS_BYTES] > 0);
      CHECK(!std::isnan(ps.v[F_VSIZE]) && ps.v[F_VSIZE] > 0);
      CHECK(ps.v[F_STATE] == 'R');  // it is running: it is reading its own stat
      CHECK(ps.v[F_NUM_THREADS] >= 1);
      CHECK(!std::isnan(ps.v[F_RSS_PEAK_BYTES]) && ps.v[F_RSS_PEAK_BYTES] >= ps.v[F_RSS_BYTES] * 0.5);
      CHECK(!std::isnan(ps.v[F_VOL_CTXT]));
      CHECK(!std::isnan(ps.v[F_IO_RCHAR]));
      std::vector<ThreadSample> ts;
      s.sample_threads(&ts);
      bool found = false;
      for (const ThreadSample& t : ts) {
        if (t.tid != getpid()) continue;
        found = true;
        CHECK(t.err == 0);
        CHECK(t.comm == "core_tests");
        CHECK(!std::isnan(t.v[F_UTIME]));
        CHECK(t.v[F_STATE] == 'R');
      }
      CHECK(found);
      keep.emplace_back(4 << 20, 'x');  // grows rss a little
    }
  }
  g_context = "live: a child that exits while sampled";
  {
    pid_t child = fork();
    if (child == 0) {
      pause();
      _exit(0);
    }
    CHECK(child > 0);
    if (child > 0) {
      ProcSampler s("/proc", child, 4096);
      CHECK(s.open() == 0);
      ProcSample ps;
      s.sample(&ps);
      CHECK(ps.err[PF_STAT] == 0);
      kill(child, SIGKILL);
      int st = 0;
      CHECK(waitpid(child, &st, 0) == child);
      s.sample(&ps);  // the pinned descriptors now fail instead of reading a stranger
      CHECK(ps.err[PF_STAT] == ESRCH || ps.err[PF_STAT] == ENOENT);
      for (int f = 0; f < PF_COUNT; f++) CHECK(ps.err[f] == ps.err[PF_STAT]);
      for (int f = 0; f < F_COUNT; f++) CHECK(std::isnan(ps.v[f]));
      std::vector<ThreadSample> ts;
      s.sample_threads(&ts);
      CHECK(ts.empty());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <fixtures dir, e.g. test/fixtures/proc>\n", argv[0]);
    return 2;
  }
  test_parse_stat();
  test_parse_statm();
  test_parse_status();
  test_parse_io();
  test_json_reader();
  int cases = run_fixtures(argv[1]);
  test_live();
  std::printf("core_tests: %d fixture cases, %d checks, %d failed\n", cases, g_checks, g_failures);
  return g_failures ? 1 : 0;
}
