// The credentials of the process at the other end of a connected unix
// socket (SO_PEERCRED): for a client, the process that called listen() on
// the server's socket. Plain C++, no napi.h.
#pragma once

namespace labtel {

struct PeerCred {
  int pid;
  unsigned uid;
  unsigned gid;
};

// 0 and *out filled, or the errno of getsockopt (EBADF, ENOTSOCK, ENOTCONN, ...);
// ESRCH when the process that listened has exited (kernels with SO_PEERPIDFD).
int peer_cred(int fd, PeerCred* out);

}  // namespace labtel
