#include "proc_sampler.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <unistd.h>

#include "proc_parse.h"

namespace labtel {

ProcSampler::ProcSampler(std::string proc_root, int pid, double page_size, bool sched_info)
    : root_(std::move(proc_root)), pid_(pid), page_size_(page_size), sched_info_(sched_info), buf_(8192) {
  for (int i = 0; i < PF_COUNT; i++) { fds_[i] = -1; open_err_[i] = EBADF; }
}

ProcSampler::~ProcSampler() { close(); }

int ProcSampler::open() {
  close();
  std::string dir = root_ + "/" + std::to_string(pid_);
  dir_fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ < 0) return errno;
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
  drop_sched();
  sched_starttime_ = NAN;
  if (task_dir_) closedir(task_dir_);
  task_dir_ = nullptr;
  if (dir_fd_ >= 0) ::close(dir_fd_);
  dir_fd_ = -1;
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

void ProcSampler::sample(ProcSample* out) {
  for (int i = 0; i < F_COUNT; i++) out->v[i] = NAN;
  out->err[PE_SCHED] = 0;
  out->err[PE_SCHED_TID] = 0;
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
    // Once the process is gone every other file says the same: stop early.
    if (f == PF_STAT && (e == ESRCH || e == ENOENT)) {
      for (int g = 1; g < PF_COUNT; g++) out->err[g] = e;
      out->err[PE_SCHED] = e;
      return;
    }
  }
  sample_sched(out);
}

bool ProcSampler::list_task_dir() {
  if (dir_fd_ < 0) {
    errno = EBADF;
    return false;
  }
  if (task_dir_) {
    rewinddir(task_dir_);
    return true;
  }
  int tfd = ::openat(dir_fd_, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (tfd < 0) return false;
  task_dir_ = fdopendir(tfd);
  if (!task_dir_) {
    int e = errno;
    ::close(tfd);
    errno = e;
    return false;
  }
  return true;
}

void ProcSampler::carry(const SchedThread& t) {
  if (!t.read) return;
  for (int i = 0; i < 3; i++) carry_[i] += static_cast<unsigned __int128>(t.last[i]);
}

void ProcSampler::drop_sched() {
  for (auto& t : sched_) {
    if (t.second.fd >= 0) ::close(t.second.fd);
  }
  sched_.clear();
  carry_[0] = carry_[1] = carry_[2] = 0;
}

// One thread's schedstat into t (opened first when it is not open): 0 and
// its values in t.last, an errno, or kThreadExited.
int ProcSampler::read_thread(int tid, SchedThread* t, unsigned __int128* sum) {
  int e = 0;
  char path[32];
  if (t->fd < 0) {
    std::snprintf(path, sizeof path, "task/%d/schedstat", tid);
    t->fd = ::openat(dir_fd_, path, O_RDONLY | O_CLOEXEC);
    if (t->fd < 0) e = errno;
  }
  SchedStat s{NAN, NAN, NAN};
  if (e == 0) {
    e = read_file(t->fd, 0);
    if (e == 0 && !parse_schedstat(buf_.data(), len_, &s)) e = EBADMSG;
  }
  // ESRCH: the thread exited. ENOENT too, when its directory is gone with it
  // (a schedstat missing beside a live thread's stat is a failure to read).
  if (e == ENOENT) std::snprintf(path, sizeof path, "task/%d", tid);
  if (e == ESRCH || (e == ENOENT && faccessat(dir_fd_, path, F_OK, 0) != 0)) return kThreadExited;
  if (e != 0) return e;
  // A counter below its last reading is another thread under the tid (a
  // thread that exec()s takes the leader's): the old one's figures carried.
  if (t->read && (s.cpu_time_ns < t->last[0] || s.run_delay_ns < t->last[1] || s.run_periods < t->last[2])) {
    carry(*t);
    for (int i = 0; i < 3; i++) sum[i] += static_cast<unsigned __int128>(t->last[i]);
  }
  t->read = true;
  t->last[0] = s.cpu_time_ns;
  t->last[1] = s.run_delay_ns;
  t->last[2] = s.run_periods;
  return 0;
}

void ProcSampler::sample_sched(ProcSample* out) {
  if (!sched_info_) {
    out->err[PE_SCHED] = kSchedNone;
    return;
  }
  // Another process under the same descriptors (a fixture rewritten; the
  // kernel's would fail with ESRCH instead): its threads' figures start over.
  double st = out->v[F_STARTTIME];
  if (!std::isnan(st) && st != sched_starttime_) {
    if (!std::isnan(sched_starttime_)) drop_sched();
    sched_starttime_ = st;
  }
  unsigned __int128 sum[3];
  int fail_err = 0, fail_tid = 0, read = 0;
  auto exited = [&](std::map<int, SchedThread>::iterator it) {
    const SchedThread& t = it->second;
    carry(t);
    if (t.read)
      for (int i = 0; i < 3; i++) sum[i] += static_cast<unsigned __int128>(t.last[i]);
    if (t.fd >= 0) ::close(t.fd);
    return sched_.erase(it);
  };
  auto tally = [&](int tid, const SchedThread& t, int e) {
    if (e != 0) {
      if (fail_tid == 0 || tid < fail_tid) {
        fail_tid = tid;
        fail_err = e;
      }
      return;
    }
    for (int i = 0; i < 3; i++) sum[i] += static_cast<unsigned __int128>(t.last[i]);
    read++;
  };
  // The threads the last listing found, when stat's num_threads still counts
  // as many and none of them has exited: no listing of task/ this time (a
  // thread born since would make num_threads larger, or one gone be found).
  double nt = out->v[F_NUM_THREADS];
  bool known = sched_listed_ && !sched_.empty() && nt == static_cast<double>(sched_.size());
  if (known) {
    for (int i = 0; i < 3; i++) sum[i] = carry_[i];
    for (auto& it : sched_) {
      int e = read_thread(it.first, &it.second, sum);
      if (e == kThreadExited) {
        known = false;  // the listing below takes it from here
        break;
      }
      tally(it.first, it.second, e);
    }
  }
  if (!known) {
    if (!list_task_dir()) {
      sched_listed_ = false;
      out->err[PE_SCHED] = errno ? errno : EIO;
      return;
    }
    sched_listed_ = true;
    for (int i = 0; i < 3; i++) sum[i] = carry_[i];
    fail_err = fail_tid = read = 0;
    // Kept in place: no allocation per thread per sample once the threads are known.
    sched_gen_++;
    while (struct dirent* de = readdir(task_dir_)) {
      char* endp = nullptr;
      long tid = strtol(de->d_name, &endp, 10);
      // Only canonical names (at most 10 digits), as the TS twin reads them.
      if (*de->d_name < '1' || *de->d_name > '9' || *endp || tid > 0x7fffffff) continue;
      auto it = sched_.find(static_cast<int>(tid));
      if (it == sched_.end()) it = sched_.emplace(static_cast<int>(tid), SchedThread{}).first;
      if (it->second.gen == sched_gen_) continue;  // listed twice: counted once
      int e = read_thread(static_cast<int>(tid), &it->second, sum);
      if (e == kThreadExited) {
        exited(it);
        continue;
      }
      it->second.gen = sched_gen_;
      tally(static_cast<int>(tid), it->second, e);
    }
    // Threads not listed any more exited since the last sample: their last values stay in the sum.
    for (auto it = sched_.begin(); it != sched_.end();) {
      if (it->second.gen != sched_gen_) it = exited(it);
      else ++it;
    }
  }
  if (fail_tid != 0) {
    out->err[PE_SCHED] = fail_err;
    out->err[PE_SCHED_TID] = fail_tid;
  } else if (read == 0) {
    out->err[PE_SCHED] = ESRCH;  // no thread left to read
  } else {
    out->v[F_CPU_TIME_NS] = static_cast<double>(sum[0]);
    out->v[F_RUN_DELAY_NS] = static_cast<double>(sum[1]);
    out->v[F_RUN_PERIODS] = static_cast<double>(sum[2]);
  }
}

void ProcSampler::sample_threads(std::vector<ThreadSample>* out) {
  out->clear();
  if (!list_task_dir()) return;
  std::map<int, ThreadFds> seen;
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
      std::string path = std::string("task/") + de->d_name + "/stat";
      fds.stat = ::openat(dir_fd_, path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fds.stat < 0) continue;  // exited between readdir and open
    }
    if (fds.sched < 0) {
      // Opened again at every sample until it opens: a failure (EMFILE, a
      // file not there yet) must not cost the thread its figures for life.
      std::string path = std::string("task/") + de->d_name + "/schedstat";
      fds.sched = ::openat(dir_fd_, path.c_str(), O_RDONLY | O_CLOEXEC);
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
    seen[t.tid] = fds;
    out->push_back(std::move(t));
  }
  for (auto& gone : thread_fds_) close_thread(gone.second);
  thread_fds_.swap(seen);
}

}  // namespace labtel
