// Follows a pidfile target across restarts, for every collector that watches
// the target (proc, perf): once the followed process is gone, the next one is
// the live process a rewritten pidfile names, with a new identity (pid +
// starttime). A pidfile that was not rewritten is never followed: its pid may
// have been reused by a stranger.
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
   */
  next(): ProcessIdentity | null {
    const r = tryPidfile(this.file);
    if (r === null || r.version === this.version) return null;
    const id = processIdentity(r.pid, this.procRoot);
    if (id === null || sameProcess(id, this.current)) return null;
    this.version = r.version;
    this.current = id;
    return id;
  }
}
