#include "proc_sampler.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "proc_parse.h"

namespace labtel {

size_t kept_thread_bound() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return kMaxKeptThreads;
  rlim_t b = rl.rlim_cur / 16;
  return b < kMaxKeptThreads ? static_cast<size_t>(b) : kMaxKeptThreads;
}

namespace {
// Whether /proc is this process's pid namespace's: /proc/self names getpid().
// Under `unshare -pf` without --mount-proc it names another pid (or none).
bool proc_is_own_pid_ns() {
  char link[32];
  ssize_t n = readlink("/proc/self", link, sizeof link - 1);
  if (n <= 0) return false;
  link[n] = 0;
  char* end = nullptr;
  long self = strtol(link, &end, 10);
  return *end == 0 && self == static_cast<long>(getpid());
}
}  // namespace

ProcSampler::ProcSampler(std::string proc_root, int pid, double page_size)
    : root_(std::move(proc_root)), pid_(pid), page_size_(page_size), buf_(8192) {
  for (int i = 0; i < PF_COUNT; i++) { fds_[i] = -1; open_err_[i] = EBADF; }
}

ProcSampler::~ProcSampler() { close(); }

int ProcSampler::open() {
  close();
  std::string dir = root_ + "/" + std::to_string(pid_);
  dir_fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ < 0) {
    int e = errno;
    clock_err_ = taskstats_err_ = root_ == "/proc" ? e : kClockNotProc;
    return e;
  }
  // The CPU clock and taskstats go by pid number in this process's pid
  // namespace: only /proc, and only when /proc is that namespace's, names the
  // same pids. The clock's id is taken once, here, and the netlink socket
  // opened (asking needs CAP_NET_ADMIN: the first refusal is kept).
  clock_err_ = taskstats_err_ = kClockNotProc;
  if (root_ == "/proc") {
    if (!proc_is_own_pid_ns()) {
      clock_err_ = taskstats_err_ = kClockOtherPidNs;
    } else {
      clock_err_ = clock_getcpuclockid(static_cast<pid_t>(pid_), &clock_id_);
      taskstats_err_ = taskstats_.open();
    }
  }
  for (int i = 0; i < PF_COUNT; i++) {
    fds_[i] = ::openat(dir_fd_, kProcFileNames[i], O_RDONLY | O_CLOEXEC);
    open_err_[i] = fds_[i] < 0 ? errno : 0;
  }
  return 0;
}

void ProcSampler::close() {
  for (int i = 0; i < PF_COUNT; i++) {
    if (fds_[i] >= 0) ::close(fds_[i]);
    fds_[i] = -1;
  }
  for (auto& t : thread_fds_) close_thread(t.second);
  thread_fds_.clear();
  if (task_dir_) closedir(task_dir_);
  task_dir_ = nullptr;
  if (dir_fd_ >= 0) ::close(dir_fd_);
  dir_fd_ = -1;
  taskstats_.close();
  last_delay_ns_ = last_periods_ = min_lead_ns_ = NAN;
}

void ProcSampler::close_thread(const ThreadFds& t) {
  ::close(t.stat);
  if (t.sched >= 0) ::close(t.sched);
}

// Reads the whole file at offset 0 into buf_ (growing it for a long status).
// Returns 0 or an errno.
int ProcSampler::read_file(int fd, int open_err) {
  if (fd < 0) return open_err ? open_err : EBADF;
  len_ = 0;
  for (;;) {
    ssize_t r = pread(fd, buf_.data() + len_, buf_.size() - len_, static_cast<off_t>(len_));
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    len_ += static_cast<size_t>(r);
    if (r == 0 || len_ < buf_.size()) return 0;
    if (buf_.size() >= (1u << 20)) return 0;  // no /proc file we read is this long
    buf_.resize(buf_.size() * 2);
  }
}

// The kernel's CPU clock of the whole process pid_: every thread's time,
// those exited included, in ns. Returns 0 or an errno.
// Its id was taken at open(), or clock_err_ says why there is none.
int ProcSampler::read_cpu_clock(double* ns) const {
  if (clock_err_ != 0) return clock_err_;
  struct timespec ts;
  if (clock_gettime(clock_id_, &ts) != 0) return errno;
  *ns = static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
  return 0;
}

// The thread group's run delay and run periods from taskstats: every
// thread's, those exited included. Returns 0, an errno, or a kTaskstats*
// code. clock_ns is the process's CPU clock read just before (when
// clock_err is 0).
//
// The kernel adds an exiting thread to the group's exited total before it
// stops counting it among the live ones, so an answer in that window counts
// that thread twice, its CPU time included (and the next answer falls back).
// The process's CPU clock never counts a thread twice: it adds an exited
// thread's time when the thread leaves the group, a little after taskstats
// took its figures, so the clock's lead over taskstats' CPU time (what
// exiting threads ran after that) only grows. Read just before the answer,
// the clock leads it by at most that; read just after, by at least that,
// unless the answer counted a thread twice. So an answer that the clock read
// after it leads by less than the largest lead seen before is one
// (kTaskstatsTwice). The lead also grows by what other exiting threads ran
// since that largest lead was seen, so a double-counted thread that ran less
// than that (a short-lived one, among many) is not caught: its answer is
// written, too high, and the next answer falls below it. That one is null
// (kTaskstatsFell: the figure before it was too high), and the figures start
// again from it: a written figure falls only across such a null.
int ProcSampler::read_taskstats(TgidDelays* d, int clock_err, double clock_ns) {
  if (taskstats_err_ != 0) return taskstats_err_;
  int e = taskstats_.query(static_cast<pid_t>(pid_), d);
  if (e == EPERM) {  // no CAP_NET_ADMIN: it will not come back; ask no more
    taskstats_err_ = EPERM;
    taskstats_.close();
  }
  if (e != 0) return e;
  if (d->cpu_ns == 0) return kTaskstatsNoDelayAcct;
  double after_ns = NAN;
  if (clock_err == 0 && read_cpu_clock(&after_ns) == 0) {
    if (after_ns - d->cpu_ns < min_lead_ns_ - 1000) return kTaskstatsTwice;
    double lead = clock_ns - d->cpu_ns;  // at most the lead now: never above it, if this answer counts no thread twice
    if (!(lead <= min_lead_ns_)) min_lead_ns_ = lead;
  }
  if (d->run_delay_ns < last_delay_ns_ || d->run_periods < last_periods_) {
    last_delay_ns_ = d->run_delay_ns;
    last_periods_ = d->run_periods;
    return kTaskstatsFell;
  }
  return 0;
}

void ProcSampler::sample(ProcSample* out) {
  for (int i = 0; i < F_COUNT; i++) out->v[i] = NAN;
  // The clock and taskstats go by pid number, not by the descriptors opened
  // at open(): they are read first, and stat read through its descriptor
  // afterwards. That descriptor stays bound to the process it was opened on,
  // so a successful read proves that process still held the pid at the
  // reads before (a pid is not reused before its process is reaped), i.e.
  // the figures were its own.
  double clock_ns = NAN;
  int clock_err = read_cpu_clock(&clock_ns);
  out->err[PE_CLOCK] = clock_err;
  TgidDelays delays;
  int ts_err = read_taskstats(&delays, clock_err, clock_ns);
  out->err[PE_TASKSTATS] = ts_err;
  for (int f = 0; f < PF_COUNT; f++) {
    int e = read_file(fds_[f], open_err_[f]);
    if (e == 0) {
      bool ok = false;
      switch (f) {
        case PF_STAT: ok = parse_stat(buf_.data(), len_, out->v, nullptr); break;
        case PF_STATM: ok = parse_statm(buf_.data(), len_, page_size_, out->v); break;
        case PF_STATUS: ok = parse_status(buf_.data(), len_, out->v); break;
        case PF_IO: ok = parse_io(buf_.data(), len_, out->v); break;
      }
      if (!ok) e = EBADMSG;  // readable but not the format proc(5) documents
    }
    out->err[f] = e;
    if (f == PF_STAT) {
      bool there = e == 0 || e == EBADMSG;  // read: the process was still there
      if (clock_err == 0) {
        if (there) out->v[F_CPU_TIME_NS] = clock_ns;
        else out->err[PE_CLOCK] = kClockUnconfirmed;
      }
      if (ts_err == 0) {
        if (there) {
          out->v[F_RUN_DELAY_NS] = last_delay_ns_ = delays.run_delay_ns;
          out->v[F_RUN_PERIODS] = last_periods_ = delays.run_periods;
        } else {
          out->err[PE_TASKSTATS] = kClockUnconfirmed;
        }
      }
    }
    // Once the process is gone every other file says the same: stop early.
    if (f == PF_STAT && (e == ESRCH || e == ENOENT)) {
      for (int g = 1; g < PF_COUNT; g++) out->err[g] = e;
      return;
    }
  }
}

bool ProcSampler::release_kept(std::map<int, ThreadFds>* seen) {
  bool any = !seen->empty() || !thread_fds_.empty();
  for (auto& t : *seen) close_thread(t.second);
  seen->clear();
  for (auto& t : thread_fds_) close_thread(t.second);
  thread_fds_.clear();
  return any;
}

int ProcSampler::sample_threads(std::vector<ThreadSample>* out) {
  out->clear();
  if (dir_fd_ < 0) return EBADF;
  if (!task_dir_) {
    int tfd = ::openat(dir_fd_, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (tfd < 0 && (errno == EMFILE || errno == ENFILE) && !thread_fds_.empty()) {
      std::map<int, ThreadFds> none;
      release_kept(&none);
      tfd = ::openat(dir_fd_, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (tfd < 0) return errno;
    task_dir_ = fdopendir(tfd);
    if (!task_dir_) {
      int e = errno;
      ::close(tfd);
      return e;
    }
  } else {
    rewinddir(task_dir_);
  }
  const size_t bound = kept_thread_bound();
  // Set at the first EMFILE/ENFILE of this sample: every kept descriptor has
  // been given back, and no thread keeps its files for the rest of it.
  bool starved = false;
  auto opens = [&](const std::string& path) {
    int fd = ::openat(dir_fd_, path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE) && !starved) {
      starved = true;
      if (release_kept(&seen_)) fd = ::openat(dir_fd_, path.c_str(), O_RDONLY | O_CLOEXEC);
    }
    return fd;
  };
  seen_.clear();
  errno = 0;
  while (struct dirent* de = readdir(task_dir_)) {
    char* endp = nullptr;
    long tid = strtol(de->d_name, &endp, 10);
    // Only canonical names ("0123" is not a tid), as the TS twin reads them.
    if (*de->d_name < '1' || *de->d_name > '9' || *endp || tid > 0x7fffffff) continue;
    ThreadFds fds{-1, -1, 0};
    auto it = thread_fds_.find(static_cast<int>(tid));
    if (it != thread_fds_.end()) {
      fds = it->second;
      thread_fds_.erase(it);
    } else {
      fds.stat = opens(std::string("task/") + de->d_name + "/stat");
      if (fds.stat < 0) {
        int e = errno;
        if (e == ENOENT || e == ESRCH) continue;  // exited between readdir and open
        // EMFILE, ENFILE, ...: the thread is there, its row says why it has no values.
        ThreadSample t;
        t.tid = static_cast<int>(tid);
        for (int i = 0; i < F_COUNT; i++) t.v[i] = NAN;
        t.err = e;
        t.sched_err = e;
        out->push_back(std::move(t));
        continue;
      }
    }
    if (fds.sched < 0) {
      // Opened again at every sample until it opens: a failure (EMFILE, a
      // file not there yet) must not cost the thread its figures for life.
      fds.sched = opens(std::string("task/") + de->d_name + "/schedstat");
      fds.sched_open_err = fds.sched < 0 ? errno : 0;
    }
    ThreadSample t;
    t.tid = static_cast<int>(tid);
    for (int i = 0; i < F_COUNT; i++) t.v[i] = NAN;
    t.err = read_file(fds.stat, 0);
    if (t.err == 0 && !parse_stat(buf_.data(), len_, t.v, &t.comm)) t.err = EBADMSG;
    if (t.err == ESRCH || t.err == ENOENT) {
      close_thread(fds);
      continue;  // the thread ended after the listing: not a row
    }
    t.sched_err = read_file(fds.sched, fds.sched_open_err);
    if (t.sched_err == 0 && !parse_schedstat(buf_.data(), len_, &t.sched)) t.sched_err = EBADMSG;
    // At most kept_thread_bound() threads keep their two descriptors between
    // samples (none after an EMFILE this sample); the others are opened, read
    // and closed at each sample.
    if (!starved && seen_.size() < bound) seen_[t.tid] = fds;
    else close_thread(fds);
    out->push_back(std::move(t));
  }
  for (auto& gone : thread_fds_) close_thread(gone.second);
  thread_fds_.swap(seen_);
  seen_.clear();
  return 0;
}

}  // namespace labtel
