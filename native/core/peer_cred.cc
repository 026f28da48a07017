#include "peer_cred.h"

#include <cerrno>
#include <sys/socket.h>

namespace labtel {

int peer_cred(int fd, PeerCred* out) {
  struct ucred c {};
  socklen_t len = sizeof c;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len) != 0) return errno;
  if (len != sizeof c) return EINVAL;
  out->pid = c.pid;
  out->uid = c.uid;
  out->gid = c.gid;
  return 0;
}

}  // namespace labtel
