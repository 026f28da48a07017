// Follows a pidfile target across restarts, for every collector that watches
// the target (proc, perf): once the followed process is gone, the next one is
// the live process a rewritten pidfile names, with a new identity (pid +
// starttime). A pidfile that was not rewritten is never followed: its pid may
// have been reused by a stranger. A process taken on from a rewrite is
// settled at the next read: if the pidfile changed again meanwhile (a write
// caught mid-way, "1" of "1234", or a second restart at once), the follower
// moves on to what it names now instead of staying on a process it misread.
// The pidfile is QEMU's to write, and QEMU may be compromised: a rewrite may
// name any process. One is taken on only if it is not pid 1, not labtel
// itself, runs an executable (not a kernel thread), the same one as the first
// target or one that looks like QEMU (target.executables widens it), under the
// first target's uid; and, when the qmp collector reads a QMP socket, is
// the process listening on it (a compromised QEMU could otherwise name a
// neighbour's QEMU of the same executable and uid, and exit). Else it is
// refused, counted and reported once per rewrite, and the follower keeps
// waiting for the next rewrite. While no one listens on that socket (QEMU
// writes its pidfile before it listens) the follower waits without a refusal.
// The socket's listener is read from /proc/net/unix (this runs synchronously,
// beside the sampling): one in another network namespace is not seen there,
// so such a restart is not followed (the target's exit is recorded). For a
// libvirt domain, a process taken on must also carry the domain's -uuid; the
// pidfile names libvirtd's (or virtqemud's) forked child until it execs QEMU,
// which is waited for, not refused.
import path from 'node:path';
import { acceptedExecutables, executableOf, matchesExecutable, uidOf } from './executable.js';
import { readPidfile, type PidfileReading } from './pidfile.js';
import { processIdentity, sameProcess, type ProcessIdentity } from './process-identity.js';
import { anyListener, listenerPids } from './socket-peer.js';
import { cmdlineUuid, describeUuid } from './cmdline-uuid.js';

export interface PidfileFollowerOptions {
  /** The first target's executable as the agent resolved it; else read from /proc when the follower starts. */
  exe?: string | null;
  /** target.executables: accepted besides QEMU's names and the first target's executable. */
  executables?: readonly string[];
  /** collectors.qmp.socket, when the target was checked against it: a process taken on must be its listener. */
  qmpSocket?: string;
  /** A libvirt domain's uuid (target.libvirt_domain): a process taken on must carry it as `-uuid` in its command line. */
  uuid?: string;
  /** A rewrite named a process the follower will not take on: why, once per rewrite. */
  onRefused?: (message: string) => void;
}

/** The pidfile's reading, or null when it cannot be read or holds no pid. */
function tryPidfile(file: string): PidfileReading | null {
  try {
    return readPidfile(file);
  } catch {
    return null;
  }
}

const WAIT = Symbol('no listener on the QMP socket yet, or libvirt\'s child not yet QEMU');
/** The daemons that start a libvirt domain's QEMU (monolithic, and the modular QEMU driver's). */
const LIBVIRT_DAEMONS = new Set(['libvirtd', 'virtqemud']);

export class PidfileFollower {
  /** The pidfile's content when the current process was taken on. */
  private version: string | null;
  private current: ProcessIdentity | null;
  /** The current process was taken on from a rewrite not yet read back unchanged. */
  private settling = false;
  /** Rewrites naming a process the follower refused to take on. */
  refused = 0;
  /** Why the last one was refused. */
  lastRefusal: string | null = null;
  private refusedVersion: string | null = null;
  /** The executable and uid every process taken on must share (unless it looks like QEMU); null until known. */
  private exe: string | null;
  private uid: number | null;

  /**
   * `pid`: the process followed now, as read from the pidfile when the target
   * was resolved. If the pidfile has been rewritten since, to name another
   * pid, that rewrite is the next process to follow.
   */
  constructor(
    readonly file: string,
    pid: number,
    private readonly procRoot = '/proc',
    private readonly opts: PidfileFollowerOptions = {},
  ) {
    this.current = processIdentity(pid, procRoot);
    const r = tryPidfile(file);
    this.version = r !== null && r.pid === pid ? r.version : null;
    this.exe = opts.exe ?? executableOf(pid, procRoot);
    this.uid = this.current ? uidOf(pid, procRoot) : null;
  }

  /**
   * The reference executable, read again while the followed process lives: read at the
   * start, it may have been a wrapper's (a shell before its exec). Once it is QEMU's, or
   * the agent's resolved one, it stays: a process that execs away from QEMU does not
   * widen what the follower takes on. The uid likewise, while it is root's.
   */
  private refresh(): void {
    if (this.current === null) return;
    const exeSettled = this.opts.exe != null || (this.exe !== null && matchesExecutable(this.exe, acceptedExecutables(this.opts.executables)));
    // The uid too, from root only: QEMU writes its pidfile before it drops to its user (-run-with user=), and a
    // uid read before the drop would make every restart "another uid"; never towards root.
    if (exeSettled && this.uid !== 0) return;
    if (!sameProcess(processIdentity(this.current.pid, this.procRoot), this.current)) return;
    if (this.uid === 0) this.uid = uidOf(this.current.pid, this.procRoot) ?? this.uid;
    if (!exeSettled) this.exe = executableOf(this.current.pid, this.procRoot) ?? this.exe;
  }

  /** Why the process a rewrite names must not be taken on, null when it may be, WAIT while the QMP socket has no listener. */
  private refusal(pid: number, explain: boolean): string | null | typeof WAIT {
    if (pid === 1) return 'pid 1 (init), never a QEMU';
    if (pid === process.pid) return 'labtel itself';
    const exe = executableOf(pid, this.procRoot);
    if (exe === null) return 'its executable cannot be read (a kernel thread?)';
    const qemu = matchesExecutable(exe, acceptedExecutables(this.opts.executables));
    if (!qemu && this.exe !== null && exe !== this.exe) {
      // libvirt's daemon writes a domain's pidfile from the child it forks, which execs QEMU only once libvirt has set
      // it up (its handshake): that child is the QEMU to come, not a refusal (a real restart was reported as one).
      if (this.opts.uuid !== undefined && LIBVIRT_DAEMONS.has(path.basename(exe))) return WAIT;
      return `it runs ${exe}, neither the first target's ${this.exe} nor QEMU`;
    }
    const uid = uidOf(pid, this.procRoot);
    if (this.uid !== null && uid !== this.uid) return `it runs as uid ${uid ?? '(unreadable)'}, not the first target's uid ${this.uid}`;
    if (this.opts.uuid !== undefined) {
      // Another domain's QEMU has the same executable and uid: only its -uuid tells it apart.
      const u = cmdlineUuid(pid, this.procRoot);
      if (u !== this.opts.uuid) return `it carries ${describeUuid(u)}, not the domain's -uuid ${this.opts.uuid}`;
    }
    const socket = this.opts.qmpSocket;
    if (socket !== undefined) {
      // Read at every interval while a rewrite waits: /proc/net/unix and the named process's fds only;
      // every process's fds (to name the owner) only for a refusal about to be reported.
      try {
        if (!anyListener(socket, this.procRoot)) return WAIT;
        if (listenerPids(socket, this.procRoot, [pid]).length === 0) {
          if (!explain) return 'not the QMP socket\'s listener'; // reported already
          const owners = listenerPids(socket, this.procRoot);
          if (owners.length === 0) return WAIT;
          const who = owners.map((o) => `${o} (${executableOf(o, this.procRoot) ?? 'executable unreadable'})`).join(', ');
          return `the QMP socket ${socket} (collectors.qmp.socket) belongs to pid${owners.length > 1 ? 's' : ''} ${who}, not to it`;
        }
      } catch (err) {
        return `the QMP socket ${socket} (collectors.qmp.socket): ${(err as Error).message}`;
      }
    }
    return null;
  }

  /**
   * The next process to follow, taken on as the current one: named by the
   * pidfile since it was rewritten, alive, and not the current one. null while
   * there is none (no pidfile, not rewritten, or naming no live process yet).
   * For when the current process is gone.
   */
  next(): ProcessIdentity | null {
    this.refresh();
    const r = tryPidfile(this.file);
    if (r === null || r.version === this.version) return null;
    return this.takeOn(r);
  }

  /**
   * For while the current process lives, every interval: the process that
   * replaces it, taken on as the current one, when the current one was taken
   * on from a rewrite the pidfile no longer holds; else null. Reads the
   * pidfile only until a read shows it as it was at the take-on.
   */
  superseded(): ProcessIdentity | null {
    this.refresh();
    if (!this.settling) return null;
    const r = tryPidfile(this.file);
    if (r === null) return null; // emptied mid-rewrite, or removed: read again next time
    if (r.version === this.version) {
      this.settling = false;
      return null;
    }
    return this.takeOn(r);
  }

  private takeOn(r: PidfileReading): ProcessIdentity | null {
    const id = processIdentity(r.pid, this.procRoot);
    if (id === null) return null;
    if (sameProcess(id, this.current)) {
      this.version = r.version;
      this.settling = false; // rewritten, naming the same process: read back as it was taken on
      return null;
    }
    const why = this.refusal(r.pid, this.refusedVersion !== r.version);
    if (why === WAIT) return null; // not a refusal: read again at the next interval
    if (why !== null) {
      // Checked again at every read (a process named before its exec into QEMU, as a wrapper
      // script that writes the pidfile and then execs QEMU does, passes a moment later), but
      // counted and reported once per rewrite.
      if (this.refusedVersion !== r.version) {
        this.refusedVersion = r.version;
        this.refused++;
        this.lastRefusal = `pidfile ${this.file} was rewritten to name pid ${r.pid}: ${why}; not followed (refusal ${this.refused}), waiting for the next rewrite`;
        this.opts.onRefused?.(this.lastRefusal);
      }
      return null;
    }
    this.version = r.version;
    if (this.exe === null) this.exe = executableOf(r.pid, this.procRoot);
    if (this.uid === null) this.uid = uidOf(r.pid, this.procRoot);
    this.current = id;
    this.settling = true;
    return id;
  }
}
