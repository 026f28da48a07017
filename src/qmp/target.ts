// QEMU's pid from its QMP socket, trusted only as far as the kernel vouches
// for it: the process at the other end of the socket (its peer credentials)
// is the target, the vCPU threads query-cpus-fast names must all be its own,
// and its executable must look like QEMU. A compromised QEMU can name any
// thread; it cannot change who holds its socket. The same answers map thread
// ids to vCPU indexes (query-cpus-fast) and to iothread ids (query-iothreads)
// for the roles of the proc collector's thread rows; an iothread QEMU names
// must be its own thread too.
import fs from 'node:fs';
import { acceptedExecutables, describeAccepted, executableOf, matchesExecutable } from '../util/executable.js';
import { socketPeer, type PeerOfFd, type SocketPeer } from '../util/socket-peer.js';
import { QmpClient } from './client.js';

export interface QmpTarget {
  /** The socket's peer: the process labtel watches. */
  pid: number;
  /** Its executable, as /proc/PID/exe reads. */
  exe: string | null;
  /** How the peer was found. */
  via: SocketPeer['via'];
  /** Host thread id -> vCPU index. */
  vcpuThreads: Record<string, number>;
  /** Host thread id -> iothread id (query-iothreads; none when QEMU has none or refuses the command). */
  ioThreads: Record<string, string>;
}

/** QEMU's own ceiling (x86 max_cpus is 4096 at most): more names than this is a flood, not a machine. */
export const MAX_VCPUS = 4096;
/** As many iothreads as vCPUs at most: each is a thread QEMU runs. */
export const MAX_IOTHREADS = 4096;
/** An iothread id is kept up to this many characters. */
export const MAX_IOTHREAD_ID = 128;

function tgid(tid: number, procRoot: string, as: string): number {
  let status: string;
  try {
    status = fs.readFileSync(`${procRoot}/${tid}/status`, 'latin1');
  } catch {
    throw new Error(`QEMU names thread ${tid} as ${as}, and there is no such thread on this host (is QEMU in another PID namespace?)`);
  }
  const m = /^Tgid:\s*(\d+)$/m.exec(status);
  if (!m) throw new Error(`${procRoot}/${tid}/status has no Tgid`);
  return Number(m[1]);
}

const named = (pid: number, procRoot: string): string => `${pid} (${executableOf(pid, procRoot) ?? 'executable unreadable'})`;

/**
 * Refuses a process whose executable does not look like QEMU (nor like one target.executables accepts).
 * `owner`: how the process was found, as the message's subject ("the socket S belongs to", "libvirt's pidfile F names").
 */
export function checkQemuExecutableOf(owner: string, pid: number, executables: readonly string[], procRoot = '/proc'): string {
  const exe = executableOf(pid, procRoot);
  if (exe === null) throw new Error(`${owner} pid ${pid}, whose executable cannot be read (${procRoot}/${pid}/exe); refusing to watch it`);
  if (!matchesExecutable(exe, acceptedExecutables(executables))) {
    throw new Error(`${owner} pid ${pid} (${exe}), which does not look like QEMU (${describeAccepted(executables)}); refusing to watch it`);
  }
  return exe;
}

/** Refuses a socket peer whose executable does not look like QEMU (nor like one target.executables accepts). */
export function checkQemuExecutable(socket: string, pid: number, executables: readonly string[], procRoot = '/proc'): string {
  return checkQemuExecutableOf(`the socket ${socket} belongs to`, pid, executables, procRoot);
}

export interface OwnedThreads {
  vcpuThreads: Record<string, number>;
  ioThreads: Record<string, string>;
}

/**
 * The vCPU and iothread ids QEMU named (query-cpus-fast's and query-iothreads' answers), each held to
 * `pid`: a thread that is another process's is refused. `label` prefixes what QEMU said wrong (the socket,
 * or the domain); `owner` says how pid was found ("the socket S belongs to").
 */
export function ownedThreads(cpus: unknown, iothreads: unknown, pid: number, procRoot: string, label: string, owner: string): OwnedThreads {
  const vcpuThreads: Record<string, number> = Object.create(null);
  let any = false;
  const list = (Array.isArray(cpus) ? cpus : []) as Array<{ 'cpu-index'?: unknown; 'thread-id'?: unknown }>;
  if (list.length > MAX_VCPUS) throw new Error(`${label}: query-cpus-fast names ${list.length} vCPUs, more than the ${MAX_VCPUS} labtel accepts; refusing to watch it`);
  const owners = new Map<number, number>(); // each thread read once, however often it is named
  /** Refuses a thread QEMU named (`as`: "vCPU 0", 'iothread "x"') that is not pid's own. */
  const mustOwn = (tid: number, as: string): void => {
    const o = owners.get(tid) ?? tgid(tid, procRoot, as);
    owners.set(tid, o);
    if (o !== pid) {
      throw new Error(`QEMU named thread ${tid} (process ${named(o, procRoot)}) as ${as}, but ${owner} pid ${named(pid, procRoot)}; refusing to watch it`);
    }
  };
  for (const x of list) {
    if (!Number.isSafeInteger(x['thread-id']) || !Number.isSafeInteger(x['cpu-index']) || (x['thread-id'] as number) <= 0) continue;
    const tid = x['thread-id'] as number;
    mustOwn(tid, `vCPU ${x['cpu-index'] as number}`);
    vcpuThreads[String(tid)] = x['cpu-index'] as number;
    any = true;
  }
  if (!any) throw new Error(`${label}: query-cpus-fast named no vCPU thread`);
  const ioThreads: Record<string, string> = Object.create(null);
  const ios = (Array.isArray(iothreads) ? iothreads : []) as Array<{ id?: unknown; 'thread-id'?: unknown }>;
  if (ios.length > MAX_IOTHREADS) throw new Error(`${label}: query-iothreads names ${ios.length} iothreads, more than the ${MAX_IOTHREADS} labtel accepts; refusing to watch it`);
  for (const x of ios) {
    if (!Number.isSafeInteger(x['thread-id']) || (x['thread-id'] as number) <= 0 || typeof x.id !== 'string') continue;
    const tid = x['thread-id'] as number;
    const id = x.id.slice(0, MAX_IOTHREAD_ID);
    mustOwn(tid, `iothread ${JSON.stringify(id)}`);
    ioThreads[String(tid)] = id;
  }
  return { vcpuThreads, ioThreads };
}

/** `peerOf`: SO_PEERCRED on the connection (the addon's, handed in by the caller); without it, or when it is not loaded, /proc/net/unix. */
export async function qmpTarget(socket: string, procRoot = '/proc', opts: { executables?: readonly string[]; peerOf?: PeerOfFd } = {}): Promise<QmpTarget> {
  const c = await QmpClient.connect({ path: socket });
  let cpus: unknown;
  let iothreads: unknown = [];
  let peer: SocketPeer;
  try {
    // While connected: the peer is whoever answers now.
    peer = socketPeer(c.fd, socket, procRoot, opts.peerOf);
    cpus = await c.execute('query-cpus-fast');
    // A QEMU that refuses it (an error answer) has no iothreads to name: the threads are then 'io' by name only.
    iothreads = await c.execute('query-iothreads').catch(() => []);
  } finally {
    c.close();
  }
  const { vcpuThreads, ioThreads } = ownedThreads(cpus, iothreads, peer.pid, procRoot, socket, `the socket ${socket} belongs to`);
  const exe = checkQemuExecutable(socket, peer.pid, opts.executables ?? [], procRoot);
  return { pid: peer.pid, exe, via: peer.via, vcpuThreads, ioThreads };
}
