// Reads a pidfile as untrusted input: the QEMU user can rewrite it while labtel
// runs as root. Only a regular file (never through a symlink, never a FIFO that
// would block), at most 32 bytes, holding decimal digits and an optional newline.
import fs from 'node:fs';

export interface PidfileReading {
  pid: number;
  /** Identity of the file's content: a follower trusts only a rewritten pidfile. */
  version: string;
}

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

export function readPidfile(file: string): PidfileReading {
  const fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new Error(`${file} is not a regular file`);
    const buf = Buffer.alloc(32);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const text = buf.toString('latin1', 0, n);
    const m = /^([1-9]\d{0,9})\n?$/.exec(text);
    const pid = m ? Number(m[1]) : NaN;
    if (!(pid <= 2147483647)) throw new Error(`${file} does not hold a pid, got ${JSON.stringify(text)}`);
    // The pid too: file times are coarse on most kernels (one tick), so a rewrite in the same tick may keep inode, mtime and size.
    return { pid, version: `${st.ino}:${st.mtimeMs}:${st.size}:${pid}` };
  } finally {
    fs.closeSync(fd);
  }
}
