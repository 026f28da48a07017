// Files and directories labtel writes, created without following a symlink
// and without giving other local users a look: episode files hold the
// guest's traffic and telemetry, so directories are 0750 and files 0640.
// O_NOFOLLOW guards the last component of a path; a directory labtel is
// told to write into is refused when it is itself a symlink.
import fs from 'node:fs';
import path from 'node:path';

export const DIR_MODE = 0o750;
export const FILE_MODE = 0o640;

const { O_WRONLY, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_NOFOLLOW } = fs.constants;

/** create: must not exist yet; truncate: replaced in place; append: written at its end. */
export type WriteHow = 'create' | 'truncate' | 'append';

// (libuv opens every file close-on-exec.)
const FLAGS: Record<WriteHow, number> = {
  create: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
  truncate: O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW,
  append: O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW,
};

/**
 * Opens `file` for writing; a symlink there is an error (ELOOP), never
 * followed. The file is FILE_MODE whatever the umask and whatever mode an
 * older file there had (set through the descriptor: no path is followed).
 */
export function openForWrite(file: string, how: WriteHow): number {
  let fd: number;
  try {
    fd = fs.openSync(file, FLAGS[how], FILE_MODE);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ELOOP') throw new Error(`${file} is a symlink; labtel does not write through one (ELOOP)`, { cause: err });
    throw err;
  }
  try {
    fs.fchmodSync(fd, FILE_MODE);
  } catch (err) {
    fs.closeSync(fd);
    throw new Error(`cannot set the mode of ${file}: ${(err as Error).message}`, { cause: err });
  }
  return fd;
}

/** Writes a whole file without following a symlink at its path. */
export function writeFileNoFollow(file: string, data: string | Uint8Array, how: WriteHow = 'truncate'): void {
  const fd = openForWrite(file, how);
  try {
    fs.writeFileSync(fd, data);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Replaces `file` atomically: written to a fresh temporary file beside it
 * (O_EXCL, so nothing planted there is followed), made durable, then renamed
 * over it (rename replaces a symlink at `file` itself, never its target).
 */
export function replaceFileNoFollow(file: string, data: string | Uint8Array): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openForWrite(tmp, 'create');
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}

/**
 * Makes `dir` (and missing parents) DIR_MODE, and refuses a `dir` that is a
 * symlink or not a directory. What `what` names the directory in the message
 * (e.g. "output_dir").
 */
export function makeDirNoFollow(dir: string, what = 'directory'): void {
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (st?.isSymbolicLink()) throw new Error(`${what} ${dir} is a symlink; labtel does not write through one (name the directory it points to)`);
  if (st && !st.isDirectory()) throw new Error(`${what} ${dir} exists and is not a directory`);
  if (!st) fs.mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  // mkdir honours the umask: the mode is set as asked whatever it is.
  if (!st) fs.chmodSync(dir, DIR_MODE);
  // Between the lstat and the mkdir a symlink can have been planted: checked once more.
  if (fs.lstatSync(dir).isSymbolicLink()) throw new Error(`${what} ${dir} became a symlink while labtel created it`);
}
