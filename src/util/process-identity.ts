// A process's identity on this boot: its pid and its starttime (clock ticks
// after boot, /proc/PID/stat field 22). A pid alone may be reused by a stranger.
import fs from 'node:fs';

export interface ProcessIdentity {
  pid: number;
  starttime: number;
}

/** The live process with this pid, or null when there is none (a zombie nobody has reaped counts as gone). */
export function processIdentity(pid: number, procRoot = '/proc'): ProcessIdentity | null {
  let stat: string;
  try {
    stat = fs.readFileSync(`${procRoot}/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // After the name, which may hold anything: state is field 3, starttime field 22.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return null;
  const starttime = Number(rest[19]);
  if (!/^\d+$/.test(rest[19] ?? '') || !Number.isSafeInteger(starttime)) return null;
  return { pid, starttime };
}

export const sameProcess = (a: ProcessIdentity | null, b: ProcessIdentity | null): boolean =>
  a !== null && b !== null && a.pid === b.pid && a.starttime === b.starttime;
