#include "peer_cred.h"

#include <cerrno>
#include <csignal>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77  // Linux 6.5
#endif

namespace labtel {

int peer_cred(int fd, PeerCred* out) {
  struct ucred c {};
  socklen_t len = sizeof c;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len) != 0) return errno;
  if (len != sizeof c) return EINVAL;
  // SO_PEERCRED keeps the pid of the process that called listen() after it
  // has exited (its listening socket passed on or inherited), and that pid
  // may since name another process. The peer's pidfd tells: no pidfd (before
  // 6.16, for an exited peer) or a pidfd that signal 0 cannot reach (6.16
  // hands one out for a reaped peer) means it has exited. While it lives, its
  // pid names it and no one else.
  int pidfd = -1;
  socklen_t plen = sizeof pidfd;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &plen) == 0) {
    const bool gone = syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) != 0 && errno == ESRCH;
    close(pidfd);
    if (gone) return ESRCH;
  } else if (errno == EINVAL || errno == ESRCH) {
    return ESRCH;
  }  // else (ENOPROTOOPT: a kernel before 6.5) the pid is all there is
  out->pid = c.pid;
  out->uid = c.uid;
  out->gid = c.gid;
  return 0;
}

}  // namespace labtel
