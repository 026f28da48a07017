// Bounded reads of kernel files (/proc, sysfs, cgroupfs): up to `max` bytes
// and whether there was more, never an exception. Opened O_NOFOLLOW (a
// symlink put at the file's name is ELOOP, not followed elsewhere) and
// O_NONBLOCK (a FIFO put there fails or reads empty instead of blocking the
// collector's thread in open() for good); on kernel files neither changes
// anything, they matter where a path is a stand-in (procRoot, procNet in
// tests and fixtures) or not the filesystem expected. Reads are positional
// from offset 0, so an open descriptor can be read again and again: a
// /proc or sysfs file is generated anew by a read at offset 0.
import fs from 'node:fs';

export type Bounded = { text: string; cut: boolean } | { code: string };

/** How files are opened for readBounded (and for descriptors kept to pass to it). */
export const READ_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
/** The first buffer's size: most files fit; larger bounds (MiB) are grown into only as the file is that long. */
const FIRST_CHUNK = 64 << 10;

const codeOf = (e: unknown) => (e as NodeJS.ErrnoException)?.code ?? String(e);

/**
 * Up to `max` bytes of `file` (a path, or an open descriptor, read from offset 0 and left open), decoded (latin1 by
 * default), and whether there was more (`cut`: the text is the first `max` bytes); or the error's code (ENOENT,
 * ELOOP, EACCES, or the decoder's: ERR_ENCODING_INVALID_ENCODED_DATA).
 */
export function readBounded(file: string | number, max: number, decode: (b: Buffer) => string = (b) => b.toString('latin1')): Bounded {
  let fd: number;
  try {
    fd = typeof file === 'number' ? file : fs.openSync(file, READ_FLAGS);
  } catch (e) {
    return { code: codeOf(e) };
  }
  try {
    let buf = Buffer.allocUnsafe(Math.min(max + 1, FIRST_CHUNK));
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        const more = Buffer.allocUnsafe(Math.min(max + 1, buf.length * 2));
        buf.copy(more, 0, 0, n);
        buf = more;
      }
      const k = fs.readSync(fd, buf, n, buf.length - n, n);
      if (k === 0) break;
      n += k;
      if (n > max) break;
    }
    return { text: decode(buf.subarray(0, Math.min(n, max))), cut: n > max };
  } catch (e) {
    return { code: codeOf(e) };
  } finally {
    if (typeof file !== 'number') fs.closeSync(fd);
  }
}
