#include "taskstats.h"

#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/taskstats.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace labtel {

namespace {

struct Request {
  struct nlmsghdr n;
  struct genlmsghdr g;
  unsigned char attrs[64];
};

// The attributes in [p, end): calls f(type, payload, payload_len) for each
// well-formed one; returns false at the first malformed header.
template <typename F>
bool each_attr(const unsigned char* p, const unsigned char* end, F f) {
  while (p < end) {
    if (static_cast<size_t>(end - p) < NLA_HDRLEN) return false;
    struct nlattr a;
    std::memcpy(&a, p, sizeof a);
    if (a.nla_len < NLA_HDRLEN || a.nla_len > end - p) return false;
    f(a.nla_type & NLA_TYPE_MASK, p + NLA_HDRLEN, static_cast<size_t>(a.nla_len - NLA_HDRLEN));
    size_t step = NLA_ALIGN(a.nla_len);
    if (step >= static_cast<size_t>(end - p)) break;
    p += step;
  }
  return true;
}

inline double u64_at(const unsigned char* stats, size_t off) {
  uint64_t x;
  std::memcpy(&x, stats + off, sizeof x);
  return static_cast<double>(x);
}

}  // namespace

TaskStats::~TaskStats() { close(); }

void TaskStats::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  family_ = 0;
}

int TaskStats::send(uint16_t type, uint8_t cmd, uint16_t attr, const void* data, uint16_t len) {
  Request r;
  std::memset(&r, 0, sizeof r);
  if (static_cast<size_t>(NLA_HDRLEN) + len > sizeof r.attrs) return EINVAL;
  r.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN) + NLA_ALIGN(NLA_HDRLEN + len);
  r.n.nlmsg_type = type;
  r.n.nlmsg_flags = NLM_F_REQUEST;
  r.n.nlmsg_seq = ++seq_;
  r.g.cmd = cmd;
  r.g.version = 1;
  struct nlattr a = {static_cast<uint16_t>(NLA_HDRLEN + len), attr};
  std::memcpy(r.attrs, &a, sizeof a);
  std::memcpy(r.attrs + NLA_HDRLEN, data, len);
  struct sockaddr_nl to;
  std::memset(&to, 0, sizeof to);
  to.nl_family = AF_NETLINK;
  for (;;) {
    ssize_t w = sendto(fd_, &r, r.n.nlmsg_len, 0, reinterpret_cast<struct sockaddr*>(&to), sizeof to);
    if (w >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

int TaskStats::receive(uint16_t type) {
  // The kernel answers within sendto(): the answer is queued when it returns,
  // so nothing here waits. Only the kernel's messages are read (the socket is
  // connected to it, and the sender is checked: another process with
  // CAP_NET_ADMIN could otherwise send this port answers of its own), and of
  // them only the answer to the last request, of the family asked.
  for (int tries = 0; tries < 8; tries++) {
    struct sockaddr_nl from;
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(fd_, buf_, sizeof buf_, MSG_DONTWAIT, reinterpret_cast<struct sockaddr*>(&from), &from_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (from_len < sizeof from || from.nl_family != AF_NETLINK || from.nl_pid != 0) continue;
    if (static_cast<size_t>(n) < NLMSG_HDRLEN) return -EBADMSG;
    struct nlmsghdr h;
    std::memcpy(&h, buf_, sizeof h);
    if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > static_cast<size_t>(n)) return -EBADMSG;
    if (h.nlmsg_seq != seq_ || (h.nlmsg_type != type && h.nlmsg_type != NLMSG_ERROR)) continue;
    if (h.nlmsg_type == NLMSG_ERROR) {
      struct nlmsgerr e;
      if (h.nlmsg_len < NLMSG_LENGTH(sizeof e)) return -EBADMSG;
      std::memcpy(&e, buf_ + NLMSG_HDRLEN, sizeof e);
      return e.error < 0 ? e.error : -EBADMSG;  // an ack (0) is not an answer
    }
    return static_cast<int>(h.nlmsg_len);
  }
  return -EAGAIN;
}

int TaskStats::open() {
  close();
  fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
  if (fd_ < 0) {
    int e = errno;
    fd_ = -1;
    return e;
  }
  // Connected to the kernel (port 0): a message another process sends this
  // port is refused (ECONNREFUSED to it) rather than queued here.
  struct sockaddr_nl kernel;
  std::memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  if (connect(fd_, reinterpret_cast<struct sockaddr*>(&kernel), sizeof kernel) != 0) {
    int e = errno;
    close();
    return e;
  }
  // The sequence starts where another process cannot guess it.
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  seq_ = static_cast<uint32_t>(ts.tv_nsec) ^ (static_cast<uint32_t>(getpid()) << 16);
  static const char kName[] = TASKSTATS_GENL_NAME;
  int e = send(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_NAME, kName, sizeof kName);
  int n = e ? -e : receive(GENL_ID_CTRL);
  if (n < 0) {
    close();
    return -n;
  }
  const unsigned char* p = buf_ + NLMSG_LENGTH(GENL_HDRLEN);
  if (static_cast<size_t>(n) < NLMSG_LENGTH(GENL_HDRLEN)) {
    close();
    return EBADMSG;
  }
  uint16_t family = 0;
  bool ok = each_attr(p, buf_ + n, [&](uint16_t type, const unsigned char* v, size_t len) {
    if (type == CTRL_ATTR_FAMILY_ID && len >= sizeof family) std::memcpy(&family, v, sizeof family);
  });
  if (!ok || family == 0) {
    close();
    return EBADMSG;
  }
  family_ = family;
  return 0;
}

int TaskStats::query(pid_t tgid, TgidDelays* out) {
  if (fd_ < 0) return EBADF;
  uint32_t id = static_cast<uint32_t>(tgid);
  int e = send(family_, TASKSTATS_CMD_GET, TASKSTATS_CMD_ATTR_TGID, &id, sizeof id);
  if (e) return e;
  int n = receive(family_);
  if (n < 0) return -n;
  return parse_taskstats_answer(buf_, static_cast<size_t>(n), id, out);
}

int parse_taskstats_answer(const unsigned char* msg, size_t n, uint32_t tgid, TgidDelays* out) {
  if (n < NLMSG_LENGTH(GENL_HDRLEN)) return EBADMSG;
  // TASKSTATS_TYPE_AGGR_TGID { TASKSTATS_TYPE_TGID, TASKSTATS_TYPE_STATS },
  // with TASKSTATS_TYPE_NULL padding where the kernel aligns the stats.
  const unsigned char* stats = nullptr;
  size_t stats_len = 0;
  bool tgid_ok = false;
  bool inner_ok = true;
  bool ok = each_attr(msg + NLMSG_LENGTH(GENL_HDRLEN), msg + n, [&](uint16_t type, const unsigned char* v, size_t len) {
    if (type != TASKSTATS_TYPE_AGGR_TGID) return;
    inner_ok = inner_ok && each_attr(v, v + len, [&](uint16_t t, const unsigned char* w, size_t l) {
      if (t == TASKSTATS_TYPE_TGID && l >= sizeof tgid) {
        uint32_t got;
        std::memcpy(&got, w, sizeof got);
        tgid_ok = got == tgid;
      } else if (t == TASKSTATS_TYPE_STATS) {
        stats = w;
        stats_len = l;
      }
    });
  });
  constexpr size_t kNeed = offsetof(struct taskstats, cpu_run_virtual_total) + sizeof(uint64_t);
  if (!ok || !inner_ok || !tgid_ok || stats == nullptr || stats_len < kNeed) return EBADMSG;
  out->run_periods = u64_at(stats, offsetof(struct taskstats, cpu_count));
  out->run_delay_ns = u64_at(stats, offsetof(struct taskstats, cpu_delay_total));
  out->cpu_ns = u64_at(stats, offsetof(struct taskstats, cpu_run_virtual_total));
  return 0;
}

}  // namespace labtel
