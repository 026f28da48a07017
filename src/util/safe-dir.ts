// Directories labtel writes into (an episode's output_dir, pull --out and
// the pulled episodes, bucketize --out-dir), made DIR_MODE and never through
// a symlink; the same walk judges a listen socket's directory (unix-listen.ts). O_NOFOLLOW guards only a path's last component, so the
// directories on the way must be ones no other user can change: whoever can
// write one could move ours away mid-run and put a symlink in its place, and
// every file labtel creates after that would go where the symlink points.
import fs from 'node:fs';
import path from 'node:path';
import { DIR_MODE } from './safe-file.js';

/** Why `dir` (named `what` in the message, e.g. output_dir) cannot be a directory labtel writes into (a symlink, not a directory, or a way others can change), or null. */
export function dirProblem(given: string, what: string): string | null {
  const dir = path.resolve(given);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return dirChainProblem(dir, what); // made by makeDirNoFollow
    return `${what} ${dir}: ${(err as Error).message}`;
  }
  if (st.isSymbolicLink()) {
    let to = '';
    try {
      to = ` (to ${fs.readlinkSync(dir)})`;
    } catch {
      // named without its target
    }
    return `${what} ${dir} is a symlink${to}; labtel does not write through one: name the directory itself`;
  }
  if (!st.isDirectory()) return `${what} ${dir} exists and is not a directory`;
  return dirChainProblem(dir, what);
}

const modeOf = (st: fs.Stats) => (st.mode & 0o7777).toString(8).padStart(4, '0');
const writers = (st: fs.Stats) => (st.mode & 0o002 ? 'every user' : 'its group');

/** How dirChainProblem() judges a way, and what its messages say another user could do. */
export interface DirRules {
  /**
   * The directory itself must be writable by no one else, sticky or not, even
   * labtel's own (a socket's directory: in a sticky one another user can still
   * take the name first), and must exist. Otherwise (a directory labtel writes
   * files into) it may be labtel's own and writable by others, since
   * makeDirNoFollow tightens it, and missing directories are made.
   */
  strictLast: boolean;
  /** What another user who owns or can write a directory on the way could do: "put a symlink in place of the episode directory". */
  harm: string;
  /** What another user who owns the directory itself could do. */
  lastHarm: string;
  /** Appended to "use a directory only root (or labtel's user) can write" when another user owns the directory itself. */
  wayOut?: string;
  /** One more owner trusted beside root and labtel's user: the peer's own uid, which could replace what it serves anyway (QEMU's, for a channel socket it listens on). */
  alsoTrusted?: { uid: number; who: string };
}

/** A directory labtel makes and writes files into (output_dir, pull --out, bucketize --out-dir). */
export const OUTPUT_DIR_RULES: DirRules = {
  strictLast: false,
  harm: 'put a symlink in place of the episode directory',
  lastHarm: "read, move or replace the episode's files",
};

const USE = "use a directory only root (or labtel's user) can write";

/**
 * Why another user could change the way to `dir` (resolved), or null. Walked
 * as the kernel walks it, symlinks included: every directory passed through
 * (the ones a symlink lies in too) is owned by root or labtel's user and
 * writable by no one else unless sticky (like /tmp: there no one else can
 * move what is ours); every symlink followed is owned by root or labtel's
 * user (one planted by someone else in a sticky directory is refused, as
 * fs.protected_symlinks would); a symlink in a directory others can write
 * (not sticky) is refused with that directory named, since it can be
 * replaced. The directory itself is owned by root or labtel's user, and
 * judged by `rules.strictLast` (see DirRules). Missing directories are fine
 * unless strictLast: labtel creates them, inside one only it can change.
 */
export function dirChainProblem(dir: string, what: string, rules: DirRules = OUTPUT_DIR_RULES): string | null {
  const me = process.geteuid?.() ?? 0;
  const also = rules.alsoTrusted;
  const trusted = (uid: number) => uid === 0 || uid === me || uid === also?.uid;
  const notOurs = (uid: number) => `owned by uid ${uid}, neither root nor labtel's user (${me})${also ? ` nor ${also.who} (${also.uid})` : ''}`;
  const todo = dir.split('/').filter(Boolean);
  let cur = '/';
  let links = 0;
  for (;;) {
    const st = fs.lstatSync(cur);
    if (!todo.length) {
      const named = `${what} ${cur}${cur !== dir ? ` (${dir})` : ''}`;
      if (!st.isDirectory()) return rules.strictLast ? `${named} is not a directory` : null; // dirProblem() names it
      if (!trusted(st.uid)) return `${named} is ${notOurs(st.uid)}: that user could ${rules.lastHarm}; ${USE}${rules.wayOut ?? ''}`;
      if ((st.mode & 0o022) !== 0 && rules.strictLast) return `${named} is writable by ${writers(st)} (mode ${modeOf(st)}): another user could ${rules.harm}; ${USE}`;
      if ((st.mode & 0o022) !== 0 && st.uid !== me) return `${named} is writable by ${writers(st)} (mode ${modeOf(st)}) and not labtel's to tighten; ${USE}`;
      return null;
    }
    const name = todo.shift()!;
    const next = name === '.' || name === '..' ? null : path.join(cur, name);
    let l: fs.Stats | null = null;
    try {
      if (next) l = fs.lstatSync(next);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return `${next}, on the way to ${what} ${dir}: ${(err as Error).message}`;
    }
    // `cur` is passed through: whoever can change it can swap what comes next, a symlink included.
    const open = (st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0;
    if (!trusted(st.uid) || open) {
      const how = !trusted(st.uid) ? notOurs(st.uid) : `writable by ${writers(st)} (mode ${modeOf(st)}, not sticky)`;
      const who = !trusted(st.uid) ? 'that user' : 'another user';
      if (l?.isSymbolicLink()) return `${next}, a symlink on the way to ${what} ${dir}, is in ${cur}, ${how}: ${who} could replace it; name a directory without it`;
      return `${cur}, on the way to ${what} ${dir}, is ${how}: ${who} could ${rules.harm}; ${USE}`;
    }
    if (name === '.') continue;
    if (name === '..') {
      cur = path.dirname(cur);
      continue;
    }
    if (!l) return rules.strictLast ? `${what} ${dir} cannot be used: ENOENT` : null; // labtel creates the rest, in `cur`
    if (l.isSymbolicLink()) {
      if (!todo.length && !rules.strictLast) return null; // output_dir itself: dirProblem() refuses it
      const on = `${next}, a symlink on the way to ${what} ${dir},`;
      if (!trusted(l.uid)) return `${on} is ${notOurs(l.uid)}: that user could point it elsewhere; name a directory without it`;
      if (++links > 40) return `${on} leads through too many symlinks (ELOOP)`;
      const to = fs.readlinkSync(next!);
      todo.unshift(...to.split('/').filter(Boolean));
      if (path.isAbsolute(to)) cur = '/';
      continue;
    }
    if (!l.isDirectory() && todo.length) return `${next}, on the way to ${what} ${dir}, is not a directory`;
    cur = next!;
  }
}

/**
 * Takes group write and every bit for others off a directory labtel was
 * given (never loosens it), or sets one it just made to DIR_MODE whatever the
 * umask; through a descriptor, so no symlink is followed.
 */
function tighten(dir: string, made: boolean): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  try {
    const st = fs.fstatSync(fd);
    if (st.uid !== process.geteuid?.()) return;
    if (made) fs.fchmodSync(fd, DIR_MODE);
    else if ((st.mode & 0o7777 & ~DIR_MODE) !== 0) fs.fchmodSync(fd, st.mode & 0o7777 & DIR_MODE);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Makes the missing directories of `dir` one at a time (true when it made
 * `dir`): mkdir never follows a symlink at the name it makes (one planted
 * there is EEXIST), and nothing is chmod-ed through a path (parents are made
 * 0750 less the umask; the caller sets output_dir's mode through a descriptor).
 */
function makeMissing(dir: string): boolean {
  const missing: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    try {
      fs.lstatSync(d);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    missing.unshift(d);
  }
  for (const d of missing) {
    try {
      fs.mkdirSync(d, { mode: DIR_MODE });
    } catch (err) {
      // Someone made it first: judged by the check that follows.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return missing.length > 0;
}

/**
 * Makes `dir` (and its missing parents) for labtel to write into, refusing
 * what dirProblem() refuses, before and after making it (a name taken while
 * labtel made it is refused); a directory labtel made is DIR_MODE whatever
 * the umask, one it was given loses group write and every bit for others.
 * Returns whether it made `dir`.
 */
export function makeDirNoFollow(given: string, what: string): boolean {
  const dir = path.resolve(given);
  const before = dirProblem(dir, what);
  if (before) throw new Error(before);
  const made = makeMissing(dir);
  const after = dirProblem(dir, what);
  if (after) throw new Error(after);
  tighten(dir, made);
  return made;
}
