// SO_PEERCRED through the addon: the process at the other end of a connected
// unix socket (for a client, the process that called listen()). The pure-TS
// answer is src/util/socket-peer.ts's listenerPid().
import { errnoName } from '../util/errno.js';
import { nativeAddon } from './addon.js';

/** The peer's pid; null when no addon with peerCred is loaded. Throws, naming `what`, when getsockopt fails. */
export function nativePeerPid(fd: number, what: string): number | null {
  const addon = nativeAddon();
  if (!addon?.peerCred) return null;
  const c = addon.peerCred(fd);
  if ('errno' in c) throw new Error(`SO_PEERCRED on ${what}: ${errnoName(c.errno)}`);
  if (c.pid <= 0) throw new Error(`SO_PEERCRED on ${what}: the peer is in a PID namespace this one cannot see (pid ${c.pid})`);
  return c.pid;
}
