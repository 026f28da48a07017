// SO_PEERCRED through the addon: the process at the other end of a connected
// unix socket (for a client, the process that called listen()). The pure-TS
// answer is src/util/socket-peer.ts's listenerPid().
import { errnoName } from '../util/errno.js';
import { processIdentity } from '../util/process-identity.js';
import { nativeAddon } from './addon.js';
import type { NativeAddon } from './types.js';

const ESRCH = 3;

/**
 * The peer's pid from `addon`; null when it has no peerCred, or when the process that
 * called listen() has exited, reaped or not (its listening socket passed on or inherited: its pid may
 * name another process by now), so that the caller asks /proc/net/unix who holds the
 * socket. Throws, naming `what`, when getsockopt fails otherwise.
 */
export function peerPidFrom(addon: NativeAddon | null | undefined, fd: number, what: string): number | null {
  if (!addon?.peerCred) return null;
  const c = addon.peerCred(fd);
  if ('errno' in c) {
    if (c.errno === ESRCH) return null;
    throw new Error(`SO_PEERCRED on ${what}: ${errnoName(c.errno)}`);
  }
  if (c.pid <= 0) throw new Error(`SO_PEERCRED on ${what}: the peer is in a PID namespace this one cannot see (pid ${c.pid})`);
  // Exited but not reaped yet (a zombie): it holds no socket any more, as for one that is gone.
  if (processIdentity(c.pid) === null) return null;
  return c.pid;
}

/** The peer's pid through the loaded addon (see peerPidFrom); null when no addon with peerCred is loaded. */
export function nativePeerPid(fd: number, what: string): number | null {
  return peerPidFrom(nativeAddon(), fd, what);
}
