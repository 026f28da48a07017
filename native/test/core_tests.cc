// Plain C++ tests of native/core, no framework:
//   core_tests <fixtures dir>      (test/fixtures/proc)
// (a) unit tests of the parsers on inline text, hostile text included;
// (b) for every case folder under the fixtures dir, ProcSampler over
//     <case>/proc compared with <case>/expected.json (also read by the TS
//     tests; its values were computed by hand from the fixture text);
// (c) the parsers and the batch loop's row text against a frozen copy of
//     what they were before they were rewritten for speed (proc_legacy.h),
//     on real files, the fixtures and mutated text;
// (d) the sampler on real /proc: a pid that does not exist, this process,
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
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/taskstats.h>

#include "../core/proc_batch.h"
#include "../core/proc_fields.h"
#include "../core/proc_parse.h"
#include "../core/proc_row_json.h"
#include "../core/proc_sampler.h"
#include "../core/taskstats.h"
#include "proc_legacy.h"

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

struct ParsedSched {
  bool ok;
  SchedStat v;
};
ParsedSched schedstat_of(const std::string& s) {
  ParsedSched r;
  r.v = {kSentinel, kSentinel, kSentinel};
  auto b = exact_copy(s);
  r.ok = parse_schedstat(b.get(), s.size(), &r.v);
  return r;
}

void test_parse_schedstat() {
  g_context = "parse_schedstat";
  {
    ParsedSched r = schedstat_of("54920992 10250362 99\n");  // a real thread's line
    CHECK(r.ok);
    CHECK_NUM(r.v.cpu_time_ns, 54920992);
    CHECK_NUM(r.v.run_delay_ns, 10250362);
    CHECK_NUM(r.v.run_periods, 99);
  }
  {
    ParsedSched r = schedstat_of("0 0 0\n");  // a thread never run: reported raw, the caller decides
    CHECK(r.ok);
    CHECK_NUM(r.v.cpu_time_ns, 0);
    CHECK_NUM(r.v.run_delay_ns, 0);
    CHECK_NUM(r.v.run_periods, 0);
  }
  {
    // The largest values: 2^64 - 1 rounds to 2^64; past 2^53 the nearest double, ties to even.
    ParsedSched r = schedstat_of("18446744073709551615 9007199254740993 9007199254740995\n");
    CHECK(r.ok);
    CHECK_NUM(r.v.cpu_time_ns, 18446744073709551616.0);
    CHECK_NUM(r.v.run_delay_ns, 9007199254740992.0);
    CHECK_NUM(r.v.run_periods, 9007199254740996.0);
  }
  {
    // Leading zeros: the kernel never prints them, but they are still a number (20 digits at most).
    ParsedSched r = schedstat_of("007 00000000000000000001 01844674407370955161\n");
    CHECK(r.ok);
    CHECK_NUM(r.v.cpu_time_ns, 7);
    CHECK_NUM(r.v.run_delay_ns, 1);
    CHECK_NUM(r.v.run_periods, 1844674407370955161.0);
  }
  const std::string bad[] = {
      "", "\n", "1 2 3", "1 2\n", "1 2 3 4\n", "1 2 3\n\n", "1 2 3\nx", "1  2 3\n", " 1 2 3\n", "1 2 3 \n",
      "1\t2 3\n", "-1 2 3\n", "+1 2 3\n", "1 -0 3\n", "18446744073709551616 2 3\n", "1 2 99999999999999999999\n",
      "000000000000000000001 2 3\n", "1 2 " + kDigits30 + "\n", "1 2 3\r\n", "1 2 0x3\n", "1 2 3.0\n", "1 2 3e2\n",
      std::string("1 2 3\n\0", 7), std::string("1 2\0 3\n", 7), std::string("\0\0\0\0\0\0", 6), std::string(1 << 20, '7'),
      std::string(1 << 20, '7') + " 1 1\n"};
  for (const std::string& s : bad) {
    g_context = "parse_schedstat: hostile " + (s.size() > 40 ? s.substr(0, 40) + "..." : s);
    ParsedSched r = schedstat_of(s);
    CHECK(!r.ok);
    CHECK(std::isnan(r.v.cpu_time_ns) && std::isnan(r.v.run_delay_ns) && std::isnan(r.v.run_periods));
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
      // schedstat: its values, or its errno by name and no values.
      g_context = name + " round " + std::to_string(round) + " thread " + std::to_string(ts[i].tid) + " schedstat";
      double want = 0;
      CHECK(expected_num(&et, "cpu_time_ns", &want));
      CHECK_NUM(ts[i].sched.cpu_time_ns, want);
      CHECK(expected_num(&et, "run_delay_ns", &want));
      CHECK_NUM(ts[i].sched.run_delay_ns, want);
      CHECK(expected_num(&et, "run_periods", &want));
      CHECK_NUM(ts[i].sched.run_periods, want);
      const Json* se = et.get("sched_error");
      const char* got_se = errno_name(ts[i].sched_err);
      CHECK(se && (se->kind == Json::NUL ? got_se == nullptr : se->kind == Json::STR && got_se && se->s == got_se));
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
  CHECK(missing.sample_threads(&ts) == EBADF);  // not opened: no task/ to list
  CHECK(ts.empty());
  return static_cast<int>(cases.size());
}

// ---------------------------------------------------------------------------
// The parsers and the row text, rewritten for speed (issue 19), against the
// frozen copy of what they were (proc_legacy.h): the same values, errors,
// comm and bytes on real files, the fixtures, every prefix of them, and
// mutations that aim at what the rewrite changed (line starts, keys glued or
// repeated, separators, 19- and 20-digit numbers, NUL and high bytes).

struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  uint64_t below(uint64_t n) { return next() % n; }
};

std::string escaped(const std::string& s) {
  std::string o;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') o.push_back(static_cast<char>(c));
    else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      o += b;
    }
  }
  return o;
}

// Equal as rows would spell them: NaN to NaN, and -0 apart from 0.
bool same_double(double a, double b) { return (std::isnan(a) && std::isnan(b)) || (a == b && std::signbit(a) == std::signbit(b)); }

// The first parser whose result differs between the two versions on s, or nullptr.
const char* parse_difference(const std::string& s) {
  auto b = exact_copy(s);  // ASan sees any read past the end
  const char* p = b.get();
  size_t n = s.size();
  double a[F_COUNT], l[F_COUNT];
  auto fresh = [&] {
    for (int i = 0; i < F_COUNT; i++) a[i] = l[i] = kSentinel;
  };
  auto differ = [&](bool ra, bool rl) {
    if (ra != rl) return true;
    for (int i = 0; i < F_COUNT; i++)
      if (!same_double(a[i], l[i])) return true;
    return false;
  };
  std::string ca = "sentinel", cl = "sentinel";
  fresh();
  if (differ(parse_stat(p, n, a, &ca), labtel_legacy::parse_stat(p, n, l, &cl)) || ca != cl) return "stat";
  fresh();
  if (differ(parse_stat(p, n, a, nullptr), labtel_legacy::parse_stat(p, n, l, nullptr))) return "stat (no comm)";
  fresh();
  if (differ(parse_statm(p, n, 4096, a), labtel_legacy::parse_statm(p, n, 4096, l))) return "statm";
  fresh();
  if (differ(parse_status(p, n, a), labtel_legacy::parse_status(p, n, l))) return "status";
  fresh();
  if (differ(parse_io(p, n, a), labtel_legacy::parse_io(p, n, l))) return "io";
  return nullptr;
}

std::string read_file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void test_parsers_match_legacy(const std::string& fixtures) {
  std::vector<std::string> seeds;
  for (const char* c : {"qemu-like/proc/3728", "no-io/proc/3803", "kernel-thread/proc/2", "garbage/proc/4242"})
    for (const char* f : {"stat", "statm", "status", "io"}) {
      std::string t = read_file_text(fixtures + "/" + c + "/" + f);
      if (!t.empty()) seeds.push_back(t);
    }
  g_context = "legacy differential: seeds";
  CHECK(seeds.size() >= 14);  // a wrong fixtures path must not pass with nothing compared
  for (const char* f : {"/proc/self/stat", "/proc/self/statm", "/proc/self/status", "/proc/self/io", "/proc/1/stat", "/proc/1/status"}) {
    std::string t = read_file_text(f);
    if (!t.empty()) seeds.push_back(t);
  }
  seeds.push_back(stat_line("(qemu) x)"));
  seeds.push_back(stat_line(std::string("a\0b\nc", 5), "18446744073709551615", "18446744073709551616"));
  seeds.push_back("VmHWM:\nVmHWM:\t12 kB\nxVmSwap: 1\nVmSwap:\t-0 kB\nvoluntary_ctxt_switches: 99999999999999999999\n"
                  "voluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:12abc\n");
  seeds.push_back("rchar: 1\nrchar: 2\n wchar: 3\nwchar:\t\t000000000000000000001\nread_bytes:\nread_bytes: 18446744073709551615\nwrite_bytes: -7");
  seeds.push_back("12 34 56 78 90 11 0\n");
  seeds.push_back("1234567890123456789 12345678901234567890 18446744073709551615 18446744073709551616 0 1 2");

  long compared = 0, mismatched = 0;
  auto compare = [&](const std::string& s) {
    compared++;
    const char* which = parse_difference(s);
    if (which && ++mismatched <= 5) std::fprintf(stderr, "legacy differential: %s differs on \"%s\"\n", which, escaped(s).c_str());
  };
  // Every seed, and every prefix of it (a read cut anywhere).
  for (const std::string& s : seeds)
    for (size_t n = 0; n <= s.size(); n++) compare(s.substr(0, n));
  const std::string pieces[] = {"\n", " ", "\t", "(", ")", "-", "0", "9", ":", "V", "v", "n", "r", "w", "x", std::string(1, '\0'),
                                "\xff", "\x0b", "VmHWM:", "VmSwap:", "Vm", "voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:",
                                "rchar:", "wchar:", "read_bytes:", "write_bytes:", "18446744073709551615", "18446744073709551616",
                                "99999999999999999999", "000000000000000000001", "1234567890123456789", "12345678901234567890",
                                "\nVmHWM:\t12 kB\n", "\nrchar: 5\n", " kB", "\n\n", "\t\t", ") ", " ("};
  const size_t np = sizeof pieces / sizeof pieces[0];
  Rng rng{0x9e3779b97f4a7c15ULL};
  for (int i = 0; i < 60000; i++) {
    std::string s = seeds[rng.below(seeds.size())];
    for (int m = 1 + static_cast<int>(rng.below(4)); m > 0; m--) {
      size_t at = s.empty() ? 0 : rng.below(s.size() + 1);
      switch (rng.below(6)) {
        case 0:  // one byte replaced: by a piece's first byte, or any byte
          if (at < s.size()) s[at] = rng.below(3) ? pieces[rng.below(np)][0] : static_cast<char>(rng.below(256));
          break;
        case 1:
        case 2: s.insert(at, pieces[rng.below(np)]); break;
        case 3: s.erase(at, rng.below(24)); break;
        case 4: s.resize(at); break;
        case 5: {  // a stretch of the text copied elsewhere (repeated lines and keys)
          size_t from = s.empty() ? 0 : rng.below(s.size());
          std::string part = s.substr(from, rng.below(64));
          s.insert(at, part);
          break;
        }
      }
    }
    compare(s);
  }
  g_context = "legacy differential: parsers";
  CHECK(compared > 60000);
  CHECK(mismatched == 0);
}

// What the batch loop writes for a row against the frozen copy, on values
// JS spells in every way (exponent forms, -0, 2^53 and up, Infinity), every
// state byte, nulls, long formats and reasons, and intervals of any sign and
// size.
void test_rows_match_legacy() {
  const double interesting[] = {0.0, -0.0, 1, -1, 7, 4096, 123456789, 9007199254740991.0, 9007199254740992.0,
                                9007199254740994.0, 18446744073709551615.0, 1e21, 999999999999999868928.0, 1e20, 123.456,
                                0.1, 1e-6, 1e-7, 0.000001234567890123456, 5e-324, 1.7976931348623157e308, -2.5e-7,
                                INFINITY, -INFINITY, NAN};
  const size_t ni = sizeof interesting / sizeof interesting[0];
  Rng rng{0x243f6a8885a308d3ULL};
  auto any_double = [&]() -> double {
    switch (rng.below(4)) {
      case 0: return interesting[rng.below(ni)];
      case 1: return static_cast<double>(rng.below(1ULL << (1 + rng.below(63))));
      case 2: return -static_cast<double>(rng.below(1000000));
      default: {
        uint64_t bits = rng.next();
        double x;
        std::memcpy(&x, &bits, sizeof x);
        return x;  // NaN now and then: a null
      }
    }
  };
  const int64_t scales[] = {1, 10, 1000, 999999, 1000000, 1000001, 1000000000, 1000000000000000LL};
  long compared = 0, mismatched = 0;
  for (int i = 0; i < 60000; i++) {
    ProcBatchFormat f;
    f.head = "{\"source\":\"host_proc\",\"t_mono_ns\":";
    f.seq_key = ",\"seq\":";
    f.after_seq = rng.below(2) ? ",\"available_in_deployment\":true" : ",\"available_in_deployment\":false";
    if (rng.below(50) == 0) f.after_seq += std::string(3000, 'x');  // past the row's stack buffer
    ProcRowSignature sig;
    sig.set = true;
    switch (rng.below(4)) {
      case 0: sig.reasons = "{\"io_rchar\":\"EACCES reading /proc/1/io\"}"; break;
      case 1:
        if (rng.below(10) == 0) sig.reasons = "{\"a\":\"" + std::string(2500, 'r') + "\"}";
        break;
      default: break;
    }
    ProcSample s;
    for (int k = 0; k < F_COUNT; k++) s.v[k] = any_double();
    s.v[F_STATE] = rng.below(8) ? static_cast<double>(rng.below(256)) : NAN;
    // The loop formats only rows whose starttime is the identity it holds: never NaN.
    if (std::isnan(s.v[F_STARTTIME])) s.v[F_STARTTIME] = 31750;
    for (int k = 0; k < PF_COUNT; k++) s.err[k] = 0;
    int64_t t = static_cast<int64_t>(rng.below(1ULL << 62)) - (1LL << 61);
    int64_t d;
    switch (rng.below(4)) {
      case 0: d = static_cast<int64_t>(rng.below(2000001)); break;
      case 1: d = scales[rng.below(8)] * static_cast<int64_t>(1 + rng.below(999)) + static_cast<int64_t>(rng.below(3)) - 1; break;
      case 2: d = static_cast<int64_t>(rng.below(1ULL << 60)) - (1LL << 59); break;
      default: d = 1000000000000000LL + static_cast<int64_t>(rng.below(5)) - 2; break;
    }
    double seq = rng.below(4) ? static_cast<double>(rng.below(1ULL << 40)) : any_double();
    int pid = static_cast<int>(rng.below(1ULL << 31));
    std::string a = "keep ", l = "keep ";  // appended to, never replaced
    append_proc_row(&a, f, sig, pid, t, std::isnan(seq) ? 0 : seq, t - d, s);
    labtel_legacy::append_proc_row(&l, f, sig, pid, t, std::isnan(seq) ? 0 : seq, t - d, s);
    compared++;
    if (a != l && ++mismatched <= 5) std::fprintf(stderr, "legacy differential: row differs:\n  new %s  old %s", a.c_str(), l.c_str());
  }
  g_context = "legacy differential: rows";
  CHECK(compared == 60000);
  CHECK(mismatched == 0);
}

// interval_s: write_js_seconds_of_ns(ns) against the legacy String(ns / 1e9),
// every ns up to 2 ms and a million across all magnitudes and edges.
void test_seconds_match_legacy() {
  long compared = 0, mismatched = 0;
  auto compare = [&](int64_t ns) {
    char buf[kJsNumberMax];
    std::string a(buf, write_js_seconds_of_ns(buf, ns));
    std::string l;
    labtel_legacy::append_js_number(&l, static_cast<double>(ns) / 1e9);
    compared++;
    if (a != l && ++mismatched <= 5) std::fprintf(stderr, "legacy differential: %lld ns gives %s, not %s\n", static_cast<long long>(ns), a.c_str(), l.c_str());
  };
  for (int64_t ns = -1000; ns <= 2000000; ns++) compare(ns);
  Rng rng{0x13198a2e03707344ULL};
  for (int i = 0; i < 1000000; i++) {
    int64_t mag = 1;
    for (int k = static_cast<int>(rng.below(18)); k > 0; k--) mag *= 10;
    int64_t ns = static_cast<int64_t>(rng.below(static_cast<uint64_t>(mag) * 9)) + mag;  // [mag, 10 mag)
    compare(rng.below(16) ? ns : -ns);
  }
  for (int64_t edge : std::initializer_list<int64_t>{999999999999999LL, 1000000000000000LL, 1000000000000001LL, 9007199254740993LL, INT64_MAX, INT64_MIN + 1})
    compare(edge);
  g_context = "legacy differential: interval_s";
  CHECK(compared > 3000000);
  CHECK(mismatched == 0);
}

// ---------------------------------------------------------------------------
// Real /proc.

// Spins until this thread has used `ms` of CPU.
void burn_cpu_ms(int ms) {
  struct timespec a, b;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
  volatile unsigned long x = 0;
  do {
    for (int i = 0; i < 100000; i++) x = x + i;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
  } while ((b.tv_sec - a.tv_sec) * 1000.0 + (b.tv_nsec - a.tv_nsec) / 1e6 < ms);
}

// An answer to TASKSTATS_CMD_GET as the kernel spells it: nlmsghdr,
// genlmsghdr, AGGR_TGID { [NULL padding], TGID, STATS }.
std::vector<unsigned char> taskstats_answer(uint32_t tgid, bool pad, size_t stats_len) {
  std::vector<unsigned char> m(NLMSG_LENGTH(GENL_HDRLEN), 0);
  auto attr = [](std::vector<unsigned char>* out, uint16_t type, const void* data, size_t len) {
    struct nlattr a = {static_cast<uint16_t>(NLA_HDRLEN + len), type};
    size_t at = out->size();
    out->resize(at + NLA_ALIGN(NLA_HDRLEN + len), 0);
    std::memcpy(out->data() + at, &a, sizeof a);
    if (len) std::memcpy(out->data() + at + NLA_HDRLEN, data, len);
  };
  std::vector<unsigned char> inner;
  if (pad) attr(&inner, TASKSTATS_TYPE_NULL, nullptr, 0);
  attr(&inner, TASKSTATS_TYPE_TGID, &tgid, sizeof tgid);
  struct taskstats st;
  std::memset(&st, 0, sizeof st);
  st.version = TASKSTATS_VERSION;
  st.cpu_count = 137;
  st.cpu_delay_total = 24173865;
  st.cpu_run_virtual_total = (1ULL << 53) + 2;  // past 2^53: the nearest double
  std::vector<unsigned char> stats(stats_len, 0);
  std::memcpy(stats.data(), &st, std::min(stats_len, sizeof st));
  attr(&inner, TASKSTATS_TYPE_STATS, stats.data(), stats.size());
  attr(&m, TASKSTATS_TYPE_AGGR_TGID, inner.data(), inner.size());
  struct nlmsghdr h = {};
  h.nlmsg_len = static_cast<uint32_t>(m.size());
  std::memcpy(m.data(), &h, sizeof h);
  return m;
}

void test_parse_taskstats() {
  g_context = "taskstats answer";
  TgidDelays d;
  for (bool pad : {false, true}) {
    auto m = taskstats_answer(4242, pad, sizeof(struct taskstats));
    CHECK(parse_taskstats_answer(m.data(), m.size(), 4242, &d) == 0);
    CHECK(d.run_periods == 137 && d.run_delay_ns == 24173865 && d.cpu_ns == 9007199254740994.0);
    // Another group's answer, or cut anywhere: refused, never read past the end.
    CHECK(parse_taskstats_answer(m.data(), m.size(), 4243, &d) == EBADMSG);
    for (size_t cut = 0; cut < m.size(); cut++) {
      std::vector<unsigned char> c(m.begin(), m.begin() + static_cast<long>(cut));
      CHECK(parse_taskstats_answer(c.data(), c.size(), 4242, &d) == EBADMSG);
    }
  }
  // Version 1's stats end past cpu_run_virtual_total: shorter ones are refused.
  auto shortm = taskstats_answer(4242, false, offsetof(struct taskstats, cpu_run_virtual_total) + 4);
  CHECK(parse_taskstats_answer(shortm.data(), shortm.size(), 4242, &d) == EBADMSG);
  // A nested length running past its parent.
  auto m = taskstats_answer(4242, false, sizeof(struct taskstats));
  struct nlattr inner;
  size_t at = NLMSG_LENGTH(GENL_HDRLEN) + NLA_HDRLEN;
  std::memcpy(&inner, m.data() + at, sizeof inner);
  inner.nla_len = 0xffff;
  std::memcpy(m.data() + at, &inner, sizeof inner);
  CHECK(parse_taskstats_answer(m.data(), m.size(), 4242, &d) == EBADMSG);
}

// taskstats of this process as the kernel answers (as root: CAP_NET_ADMIN).
void test_taskstats_live() {
  g_context = "taskstats: live";
  TaskStats ts;
  CHECK(ts.open() == 0);
  TgidDelays before, after;
  int e = ts.query(getpid(), &before);
  if (geteuid() != 0) {
    CHECK(e == 0 || e == EPERM);
    if (e == EPERM) return;
  }
  CHECK(e == 0);
  CHECK(before.cpu_ns > 0 && before.run_periods > 0 && before.run_delay_ns >= 0);
  // A thread that burns CPU and exits: the group's figures keep what it did.
  double thread_ns = 0;
  std::thread t([&] {
    burn_cpu_ms(30);
    struct timespec c;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c);
    thread_ns = static_cast<double>(c.tv_sec) * 1e9 + static_cast<double>(c.tv_nsec);
  });
  t.join();
  CHECK(ts.query(getpid(), &after) == 0);
  CHECK(thread_ns > 0);
  CHECK(after.cpu_ns - before.cpu_ns >= thread_ns);
  CHECK(after.run_periods > before.run_periods);
  CHECK(after.run_delay_ns >= before.run_delay_ns);
  // No such group: ESRCH (a child reaped).
  pid_t child = fork();
  if (child == 0) _exit(0);
  int st = 0;
  CHECK(child > 0 && waitpid(child, &st, 0) == child);
  CHECK(ts.query(child, &after) == ESRCH);
}

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
    double cpu_ns_before = NAN;
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
      if (geteuid() == 0) {  // taskstats answers CAP_NET_ADMIN only
        CHECK(ps.err[PE_TASKSTATS] == 0);
        CHECK(ps.v[F_RUN_PERIODS] > 0 && ps.v[F_RUN_DELAY_NS] >= 0);
      }
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
        CHECK(t.sched_err == 0);  // this kernel has schedstat (CONFIG_SCHED_INFO)
        CHECK(t.sched.cpu_time_ns > 0);
        CHECK(t.sched.run_delay_ns >= 0);
        CHECK(t.sched.run_periods > 0);
        // The CPU burnt between the rounds shows (no bound on how much).
        if (round == 1) CHECK(t.sched.cpu_time_ns > cpu_ns_before);
        cpu_ns_before = t.sched.cpu_time_ns;
      }
      CHECK(found);
      keep.emplace_back(4 << 20, 'x');  // grows rss a little
      burn_cpu_ms(50);
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
      // taskstats by pid number: no such group now, or (had it been asked
      // before the reap) unconfirmed by stat: never a stranger's figures.
      CHECK(ps.err[PE_TASKSTATS] == ESRCH || ps.err[PE_TASKSTATS] == kClockUnconfirmed || (geteuid() != 0 && ps.err[PE_TASKSTATS] == EPERM));
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
  test_parse_schedstat();
  test_json_reader();
  test_parse_taskstats();
  int cases = run_fixtures(argv[1]);
  test_parsers_match_legacy(argv[1]);
  test_rows_match_legacy();
  test_seconds_match_legacy();
  test_live();
  test_taskstats_live();
  std::printf("core_tests: %d fixture cases, %d checks, %d failed\n", cases, g_checks, g_failures);
  return g_failures ? 1 : 0;
}
