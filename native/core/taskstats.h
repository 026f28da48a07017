// The kernel's taskstats of a whole thread group, asked over generic netlink
// (TASKSTATS_CMD_GET with TASKSTATS_CMD_ATTR_TGID). The kernel answers with
// the sum over the group's live threads plus what its exited threads left in
// signal->stats, so exited threads count and nothing counts twice (not even
// across an exec() from another thread than the leader). Asking needs
// CAP_NET_ADMIN in the initial user namespace; the pid is read in the
// caller's pid namespace.
#pragma once
#include <cstddef>
#include <cstdint>
#include <sys/types.h>

namespace labtel {

struct TgidDelays {
  double run_delay_ns = 0;  // cpu_delay_total: time runnable, waiting for a CPU
  double run_periods = 0;   // cpu_count: times given a CPU
  double cpu_ns = 0;        // cpu_run_virtual_total: time on a CPU (sum_exec_runtime)
};

// Reads an answer to TASKSTATS_CMD_GET for tgid (the netlink message, n
// bytes): 0, or EBADMSG when it is not one (a nested attribute running past
// its parent, no stats, stats shorter than version 1's, another tgid).
int parse_taskstats_answer(const unsigned char* msg, size_t n, uint32_t tgid, TgidDelays* out);

class TaskStats {
 public:
  TaskStats() = default;
  ~TaskStats();
  TaskStats(const TaskStats&) = delete;
  TaskStats& operator=(const TaskStats&) = delete;

  // Opens the netlink socket and looks the TASKSTATS family up. Returns 0 or
  // an errno: ENOENT where the kernel has no taskstats (CONFIG_TASKSTATS).
  int open();
  // The group tgid's figures. Returns 0 or an errno: EPERM without
  // CAP_NET_ADMIN, ESRCH when there is no such group, EBADMSG for an answer
  // not of taskstats' format, EAGAIN when the kernel did not answer.
  int query(pid_t tgid, TgidDelays* out);
  void close();
  bool is_open() const { return fd_ >= 0; }

 private:
  int send(uint16_t type, uint8_t cmd, uint16_t attr, const void* data, uint16_t len);
  // Receives the kernel's answer to the last request, a message of this type
  // or an error, into buf_ (anything else is skipped); returns its length or
  // -errno.
  int receive(uint16_t type);

  int fd_ = -1;
  uint16_t family_ = 0;
  uint32_t seq_ = 0;
  alignas(8) unsigned char buf_[2048];
};

}  // namespace labtel
