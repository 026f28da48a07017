// Follows a pidfile target across restarts, for every collector that watches
// the target (proc, perf): once the followed process is gone, the next one is
// the live process a rewritten pidfile names, with a new identity (pid +
// starttime). A pidfile that was not rewritten is never followed: its pid may
// have been reused by a stranger. A process taken on from a rewrite is
// settled at the next read: if the pidfile changed again meanwhile (a write
// caught mid-way, "1" of "1234", or a second restart at once), the follower
// moves on to what it names now instead of staying on a process it misread.
import { readPidfile, type PidfileReading } from './pidfile.js';
import { processIdentity, sameProcess, type ProcessIdentity } from './process-identity.js';

/** The pidfile's reading, or null when it cannot be read or holds no pid. */
function tryPidfile(file: string): PidfileReading | null {
  try {
    return readPidfile(file);
  } catch {
    return null;
  }
}

export class PidfileFollower {
  /** The pidfile's content when the current process was taken on. */
  private version: string | null;
  private current: ProcessIdentity | null;
  /** The current process was taken on from a rewrite not yet read back unchanged. */
  private settling = false;

  /**
   * `pid`: the process followed now, as read from the pidfile when the target
   * was resolved. If the pidfile has been rewritten since, to name another
   * pid, that rewrite is the next process to follow.
   */
  constructor(
    readonly file: string,
    pid: number,
    private readonly procRoot = '/proc',
  ) {
    this.current = processIdentity(pid, procRoot);
    const r = tryPidfile(file);
    this.version = r !== null && r.pid === pid ? r.version : null;
  }

  /**
   * The next process to follow, taken on as the current one: named by the
   * pidfile since it was rewritten, alive, and not the current one. null while
   * there is none (no pidfile, not rewritten, or naming no live process yet).
   * For when the current process is gone.
   */
  next(): ProcessIdentity | null {
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
    this.version = r.version;
    if (sameProcess(id, this.current)) {
      this.settling = false; // rewritten, naming the same process: read back as it was taken on
      return null;
    }
    this.current = id;
    this.settling = true;
    return id;
  }
}
