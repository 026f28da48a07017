// Samples one process's /proc files with descriptors kept open and re-read at
// offset 0, so a sample costs only the kernel's formatting of the files. The
// process directory's descriptor pins the identity: if the pid is reused,
// reads on the old descriptors fail (ESRCH) instead of describing a stranger.
#pragma once
#include <dirent.h>
#include <time.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "proc_fields.h"
#include "proc_parse.h"
#include "taskstats.h"

namespace labtel {

struct ProcSample {
  double v[F_COUNT];
  int err[PE_COUNT];  // errno per file for this sample, 0 when read; then the CPU clock's and taskstats' (proc_fields.h)
};

struct ThreadSample {
  int tid = 0;
  int err = 0;  // errno when the thread's stat could not be read
  std::string comm;
  double v[F_COUNT];  // only the stat fields are filled; the rest stay NaN
  // task/<tid>/schedstat: 0 when read and parsed, else the errno (ENOENT on a
  // kernel without it, EBADMSG when not its format) and all three NaN.
  int sched_err = 0;
  SchedStat sched = {NAN, NAN, NAN};
};

// Threads whose stat and schedstat stay open between samples (two descriptors
// each); past it a thread's files are opened, read and closed at each sample,
// so a target with thousands of threads cannot exhaust the agent's
// descriptors. The bound is also at most the soft RLIMIT_NOFILE / 16 (an
// eighth of the agent's descriptors), see kept_thread_bound().
constexpr size_t kMaxKeptThreads = 256;
// min(kMaxKeptThreads, soft RLIMIT_NOFILE / 16): 64 under a soft limit of
// 1024, 16 under 256; kMaxKeptThreads when the limit is unlimited.
size_t kept_thread_bound();

class ProcSampler {
 public:
  // proc_root is "/proc" in production and a fixture folder in tests.
  ProcSampler(std::string proc_root, int pid, double page_size);
  ~ProcSampler();
  ProcSampler(const ProcSampler&) = delete;
  ProcSampler& operator=(const ProcSampler&) = delete;

  // Opens the process directory and its files. Returns 0, or the errno of
  // the process directory (ENOENT: no such process). A file that cannot be
  // opened (io without permission) is reported by every sample instead.
  int open();
  void sample(ProcSample* out);
  // Rescans task/ and reads each thread's stat and schedstat. Threads that
  // vanished are dropped; new ones are opened. A thread whose stat reads but
  // whose schedstat does not still gives its sample, with sched_err set.
  // Returns 0, or the errno of listing task/ (then out is empty: the
  // threads could not be named). At EMFILE/ENFILE every kept thread's
  // descriptors are given back, and the open that failed is tried once more.
  int sample_threads(std::vector<ThreadSample>* out);
  void close();
  int pid() const { return pid_; }

 private:
  int read_file(int fd, int open_err);
  int read_cpu_clock(double* ns) const;
  int read_taskstats(TgidDelays* d, int clock_err, double clock_ns);


  // A thread's descriptors, kept open between samples like the process's.
  struct ThreadFds {
    int stat;
    int sched;           // -1 when schedstat could not be opened
    int sched_open_err;  // its errno then, reported by every sample
  };
  static void close_thread(const ThreadFds& t);
  // Closes every kept thread's descriptors (those of this sample and those
  // not reached yet); returns whether there were any.
  bool release_kept(std::map<int, ThreadFds>* seen);
  std::map<int, ThreadFds> seen_;  // this sample's kept threads, filled by sample_threads()

  std::string root_;
  int pid_;
  double page_size_;
  int dir_fd_ = -1;
  int fds_[PF_COUNT];
  // Set at open(): the CPU clock's id, or why there is none (clock_err_).
  clockid_t clock_id_ = 0;
  int clock_err_ = kClockNotProc;
  // Set at open() as clock_err_, and EPERM for good after the kernel refused
  // once (no CAP_NET_ADMIN): the taskstats socket, or why there is none.
  TaskStats taskstats_;
  int taskstats_err_ = kClockNotProc;
  // The run delay and run periods last written (NaN: none yet since open()),
  // or of the last answer below them (kTaskstatsFell, not written).
  double last_delay_ns_ = NAN;
  double last_periods_ = NAN;
  // The largest lead of the CPU clock, read before an answer, over its CPU
  // time (NaN: none yet): the least the clock read after an answer leads it
  // by, unless the answer counts an exiting thread twice.
  double min_lead_ns_ = NAN;
  int open_err_[PF_COUNT];
  DIR* task_dir_ = nullptr;
  std::map<int, ThreadFds> thread_fds_;
  std::vector<char> buf_;
  size_t len_ = 0;
};

}  // namespace labtel
