// Files labtel writes, created without following a symlink and without
// giving other local users a look: episode files hold the guest's traffic
// and telemetry, so files are 0640 (and directories 0750: safe-dir.ts).
// O_NOFOLLOW guards the last component of a path; safe-dir.ts guards the
// directories on the way.
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
