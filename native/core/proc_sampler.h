// Samples one process's /proc files with descriptors kept open and re-read at
// offset 0, so a sample costs only the kernel's formatting of the files. The
// process directory's descriptor pins the identity: if the pid is reused,
// reads on the old descriptors fail (ESRCH) instead of describing a stranger.
#pragma once
#include <dirent.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "proc_fields.h"
#include "proc_parse.h"

namespace labtel {

struct ProcSample {
  double v[F_COUNT];
  // errno per file for this sample, 0 when read; then the scheduler sum's
  // errno and the tid it is about (ProcErrorSlot).
  int err[PE_COUNT];
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

class ProcSampler {
 public:
  // proc_root is "/proc" in production and a fixture folder in tests.
  // sched_info: whether the kernel keeps scheduler statistics (false: every
  // schedstat reads "0 0 0", and the process's sum is null with kSchedNone).
  ProcSampler(std::string proc_root, int pid, double page_size, bool sched_info = true);
  ~ProcSampler();
  ProcSampler(const ProcSampler&) = delete;
  ProcSampler& operator=(const ProcSampler&) = delete;

  // Opens the process directory and its files. Returns 0, or the errno of
  // the process directory (ENOENT: no such process). A file that cannot be
  // opened (io without permission) is reported by every sample instead.
  int open();
  // Reads the four files, then (unless the process is gone) every thread's
  // schedstat into F_CPU_TIME_NS..F_RUN_PERIODS: the sum over the threads
  // alive now plus the last values read of the threads that exited since the
  // first sample of this identity (a carry, so the sum never falls when a
  // thread exits). NaN with err[PE_SCHED] set when task/ cannot be read, no
  // thread could be, or any live thread's schedstat failed (err[PE_SCHED_TID]
  // names the lowest such tid): a sum missing a thread could fall.
  void sample(ProcSample* out);
  // Rescans task/ and reads each thread's stat and schedstat. Threads that
  // vanished are dropped; new ones are opened. A thread whose stat reads but
  // whose schedstat does not still gives its sample, with sched_err set.
  void sample_threads(std::vector<ThreadSample>* out);
  void close();
  int pid() const { return pid_; }

 private:
  int read_file(int fd, int open_err);

  // A thread's descriptors, kept open between samples like the process's.
  struct ThreadFds {
    int stat;
    int sched;           // -1 when schedstat could not be opened
    int sched_open_err;  // its errno then, reported by every sample
  };
  static void close_thread(const ThreadFds& t);

  // A thread in the process's scheduler sum: its schedstat, kept open, and
  // the last values read from it, carried into the sum when it exits.
  struct SchedThread {
    int fd = -1;
    bool read = false;
    double last[3] = {0, 0, 0};
    uint64_t gen = 0;  // the sample that last listed it
  };
  void sample_sched(ProcSample* out);
  static constexpr int kThreadExited = -2;
  int read_thread(int tid, SchedThread* t, unsigned __int128* sum);
  void carry(const SchedThread& t);
  void drop_sched();
  bool list_task_dir();  // task_dir_ opened or rewound; false when it cannot be

  std::string root_;
  int pid_;
  double page_size_;
  int dir_fd_ = -1;
  int fds_[PF_COUNT];
  int open_err_[PF_COUNT];
  DIR* task_dir_ = nullptr;
  std::map<int, ThreadFds> thread_fds_;
  bool sched_info_;
  std::map<int, SchedThread> sched_;
  uint64_t sched_gen_ = 0;
  bool sched_listed_ = false;  // sched_ is the last listing of task/ (and what has happened to it since)
  unsigned __int128 carry_[3] = {0, 0, 0};  // exact: the threads' values as integers
  double sched_starttime_ = NAN;            // the identity the carry belongs to
  std::vector<char> buf_;
  size_t len_ = 0;
};

}  // namespace labtel
