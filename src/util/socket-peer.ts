// The process at the other end of a unix socket: whom labtel is really
// talking to, whatever that process says about itself. Native: SO_PEERCRED on
// the connection (src/native/peer-cred.ts, handed in by the caller: util sits
// below the addon's loader). Pure TS, when the addon is not loaded: the
// listening socket bound to the path in /proc/net/unix, then the one process
// whose fds hold it. A differential test against a real QEMU holds both to the
// same answer.
import fs from 'node:fs';
import path from 'node:path';

export interface SocketPeer {
  pid: number;
  /** Which way it was found. */
  via: 'SO_PEERCRED' | '/proc/net/unix';
}

/** A connection's peer pid from its fd (SO_PEERCRED), or null when that way is not available. */
export type PeerOfFd = (fd: number, what: string) => number | null;

interface UnixEntry {
  inode: number;
  listening: boolean;
  path: string | null;
}

// "Num: RefCount Protocol Flags Type St Inode Path" (net/unix/af_unix.c, unix_seq_show).
const LINE = /^[0-9a-f]+: [0-9A-F]{8} [0-9A-F]{8} ([0-9A-F]{8}) [0-9A-F]{4} ([0-9A-F]{2}) +(\d+)(?: (.*))?$/;
const SO_ACCEPTCON = 0x10000;

function unixSockets(procRoot: string): UnixEntry[] {
  const text = fs.readFileSync(`${procRoot}/net/unix`, 'latin1');
  const out: UnixEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const m = LINE.exec(line);
    if (!m) continue; // the tail of a path holding a newline
    out.push({ inode: Number(m[3]), listening: (parseInt(m[1]!, 16) & SO_ACCEPTCON) !== 0 && m[2] === '01', path: m[4] ?? null });
  }
  return out;
}

/** A path with its directory's symlinks resolved (the socket itself is not followed). */
function canonical(p: string, base: string): string {
  const abs = path.resolve(base, p);
  try {
    return path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs));
  } catch {
    return abs;
  }
}

/** The path connect() reaches: every symlink resolved, the socket's own included (a bound path's own is not: see canonical). */
function connected(p: string): string {
  try {
    return fs.realpathSync(path.resolve(p));
  } catch {
    return canonical(p, process.cwd());
  }
}

/** Every process (thread group) holding one of these socket inodes, with the inode it holds. */
function holders(inodes: Set<number>, procRoot: string, among?: readonly number[]): Map<number, number[]> {
  const found = new Map<number, number[]>();
  if (inodes.size === 0) return found;
  for (const d of among?.map(String) ?? fs.readdirSync(procRoot)) {
    if (!/^\d+$/.test(d)) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`${procRoot}/${d}/fd`);
    } catch {
      continue; // gone, or a process whose fds this user cannot read
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = fs.readlinkSync(`${procRoot}/${d}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(Number(m[1]))) {
        const list = found.get(Number(d)) ?? [];
        if (!list.includes(Number(m[1]))) list.push(Number(m[1]));
        found.set(Number(d), list);
      }
    }
  }
  return found;
}

/** The listening sockets /proc/net/unix lists that may be bound to `want`; throws when it has been forged. */
function listenersNamed(want: string, socketPath: string, procRoot: string): UnixEntry[] {
  const all = unixSockets(procRoot);
  const seen = new Map<number, number>();
  for (const e of all) seen.set(e.inode, (seen.get(e.inode) ?? 0) + 1);
  const listeners = all.filter((e) => e.listening && e.path !== null && !e.path.startsWith('@'));
  // A relative bound path is relative to the binder's directory: keep every listener whose name ends like ours, resolve after.
  const base = path.basename(want);
  const candidates = listeners.filter((e) => path.basename(e.path!) === base);
  const forged = candidates.filter((e) => seen.get(e.inode)! > 1);
  if (forged.length) {
    throw new Error(`${procRoot}/net/unix lists socket inode ${forged[0]!.inode} more than once (a socket path holding a newline forges lines there); cannot tell who listens on ${socketPath}`);
  }
  return candidates;
}

/**
 * Whether a process may listen on `socketPath`, from /proc/net/unix alone (cheap): false when none
 * does; true also for a listener bound to a relative path of the same name, which only its
 * process's directory tells. Throws when /proc/net/unix has been forged.
 */
export function anyListener(socketPath: string, procRoot = '/proc'): boolean {
  const want = connected(socketPath);
  return listenersNamed(want, socketPath, procRoot).some((e) => !path.isAbsolute(e.path!) || canonical(e.path!, '/') === want);
}

/**
 * Every process holding a socket that listens on `socketPath` (none, one, or
 * several after a fork), from /proc/net/unix and /proc/PID/fd; only those of
 * `among` when given (a scan of a few processes, not of all). Throws when
 * /proc/net/unix has been forged (a socket path holding a newline).
 */
export function listenerPids(socketPath: string, procRoot = '/proc', among?: readonly number[]): number[] {
  const want = connected(socketPath);
  const candidates = listenersNamed(want, socketPath, procRoot);
  const held = holders(new Set(candidates.map((e) => e.inode)), procRoot, among);
  const pids = new Set<number>();
  for (const [pid, inodes] of held) {
    for (const inode of inodes) {
      const e = candidates.find((x) => x.inode === inode)!;
      let cwd = '/';
      if (!path.isAbsolute(e.path!)) {
        try {
          cwd = fs.readlinkSync(`${procRoot}/${pid}/cwd`);
        } catch {
          continue;
        }
      }
      if (canonical(e.path!, cwd) === want) pids.add(pid);
    }
  }
  return [...pids].sort((a, b) => a - b);
}

/**
 * The pid of the one process listening on the unix socket at `socketPath`,
 * from /proc: the listening sockets bound to that path, and the processes
 * whose fds hold them. Throws, saying why, when there is none or it is not one
 * process (a forged /proc/net/unix line, a listener shared after fork).
 */
export function listenerPid(socketPath: string, procRoot = '/proc'): number {
  const pids = listenerPids(socketPath, procRoot);
  if (pids.length === 0) {
    throw new Error(`no process listens on ${socketPath} in ${procRoot}/net/unix (a listener in another network namespace is not listed there; the native addon's SO_PEERCRED sees it)`);
  }
  if (pids.length > 1) throw new Error(`several processes hold a socket listening on ${socketPath} (pids ${pids.join(', ')}); cannot tell which one answers`);
  return pids[0]!;
}

/** The process at the other end of a connection to `socketPath` open on `fd`: `native` (SO_PEERCRED) when it answers, else /proc. */
export function socketPeer(fd: number | null, socketPath: string, procRoot = '/proc', native?: PeerOfFd): SocketPeer {
  if (fd !== null && native) {
    const pid = native(fd, socketPath);
    if (pid !== null) return { pid, via: 'SO_PEERCRED' };
  }
  return { pid: listenerPid(socketPath, procRoot), via: '/proc/net/unix' };
}
