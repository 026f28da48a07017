// safe-file's openForWrite() with a message that says what was in the way.
// A symlink planted where labtel creates a file fails with EEXIST (O_EXCL
// comes first), one planted where it rewrites or appends fails with ELOOP
// (O_NOFOLLOW): either way the message says "symlink" and names the errno,
// so the person reading it knows the write was refused, not lost.
import fs from 'node:fs';
import { FILE_MODE, openForWrite, type WriteHow } from './safe-file.js';

/** The errno code of `err`, or of its cause (safe-file keeps the original ELOOP as the cause). */
export function errCode(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  return e?.code ?? e?.cause?.code;
}

function isSymlink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

/** A write labtel refused or could not make; `reason` is the message without the path (for callers that name the file their own way). */
export class WriteRefused extends Error {
  override name = 'WriteRefused';
  constructor(
    readonly file: string,
    readonly reason: string,
    how: WriteHow,
    cause: unknown,
  ) {
    super(`cannot ${how === 'create' ? 'create' : 'write'} ${file}: ${reason}`, { cause });
  }
}

/** `cannot create FILE: it is a symlink; labtel does not write through one (EEXIST)`, and so on. */
export function writeRefusal(file: string, how: WriteHow, err: unknown): WriteRefused {
  const code = errCode(err);
  let why: string;
  if (code === 'ELOOP' || (code === 'EEXIST' && isSymlink(file))) why = `it is a symlink; labtel does not write through one (${code})`;
  else if (code === 'EEXIST') why = 'it already exists (EEXIST)';
  else why = (err as Error).message;
  return new WriteRefused(file, why, how, err);
}

/**
 * Opens `file` for writing without following a symlink (see safe-file), the
 * error naming the path, a symlink in the way and the errno (safe-file sets
 * the mode, FILE_MODE whatever the umask).
 */
export function openNoFollow(file: string, how: WriteHow): number {
  try {
    return openForWrite(file, how);
  } catch (err) {
    throw writeRefusal(file, how, err);
  }
}

function kindOf(st: fs.Stats): string {
  if (st.isFIFO()) return 'a fifo';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}

/**
 * Opens `file` to rewrite (`truncate`) or extend (`append`) only when it is
 * labtel's to write: new, or a regular file labtel's user owns with no
 * other name. Never through a symlink (ELOOP); never blocking on a fifo
 * (O_NONBLOCK: no reader is ENXIO, a reader is refused like any fifo); a
 * file another user owns (they would read what labtel wrote) or one with a
 * hard link (writing it would change the file under its other name) is
 * refused before anything in it changes: it is truncated only after these
 * checks, through the descriptor. 0640, set through the descriptor.
 */
export function openOwnNoFollow(file: string, how: 'truncate' | 'append'): number {
  const { O_WRONLY, O_CREAT, O_NOFOLLOW, O_NONBLOCK, O_APPEND } = fs.constants;
  let fd: number;
  try {
    fd = fs.openSync(file, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | (how === 'append' ? O_APPEND : 0), FILE_MODE);
  } catch (err) {
    if (errCode(err) === 'ENXIO') throw new WriteRefused(file, 'it is a fifo; labtel writes only regular files (ENXIO)', how, err);
    throw writeRefusal(file, how, err);
  }
  try {
    const st = fs.fstatSync(fd);
    const me = process.geteuid?.() ?? st.uid;
    let why: string | null = null;
    if (!st.isFile()) why = `it is ${kindOf(st)}; labtel writes only regular files`;
    else if (st.uid !== me) why = `it is owned by uid ${st.uid}, not by labtel's user (${me}), who could read what labtel writes; remove it or name another file`;
    else if (st.nlink > 1) why = `it has ${st.nlink} hard links, and writing it would change the file under its other names; remove it or name another file`;
    if (why) throw new WriteRefused(file, why, how, undefined);
    if (how === 'truncate') fs.ftruncateSync(fd, 0);
    fs.fchmodSync(fd, FILE_MODE);
    return fd;
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}
