// safe-file's openForWrite() with a message that says what was in the way.
// A symlink planted where labtel creates a file fails with EEXIST (O_EXCL
// comes first), one planted where it rewrites or appends fails with ELOOP
// (O_NOFOLLOW): either way the message says "symlink" and names the errno,
// so the person reading it knows the write was refused, not lost.
import fs from 'node:fs';
import { openForWrite, type WriteHow } from './safe-file.js';

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
