// Which executable a process runs (/proc/PID/exe), and whether it looks like
// QEMU: a hostile QEMU or pidfile may name any process, so labtel watches only
// a process whose executable is QEMU's, or one the manifest accepts.
import fs from 'node:fs';

/**
 * QEMU by its file name: qemu-system-<arch> (Debian, upstream builds) or
 * qemu-kvm (RHEL's /usr/libexec/qemu-kvm). Names, not directories: QEMU lives
 * in /usr/bin, /usr/libexec, /usr/local/bin or a Nix store path alike.
 */
export const QEMU_EXECUTABLES: readonly string[] = ['qemu-system-*', 'qemu-kvm'];

/** The executable's path, without the " (deleted)" of a replaced binary; null when unreadable (gone, a kernel thread, no right). */
export function executableOf(pid: number, procRoot = '/proc'): string | null {
  try {
    return fs.readlinkSync(`${procRoot}/${pid}/exe`).replace(/ \(deleted\)$/, '');
  } catch {
    return null;
  }
}

/** The real uid of a process, or null. */
export function uidOf(pid: number, procRoot = '/proc'): number | null {
  try {
    const m = /^Uid:\s*(\d+)/m.exec(fs.readFileSync(`${procRoot}/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * A glob as a RegExp: `*` and `?` stay within one path component, `**` crosses
 * '/'. A pattern without '/' matches the file name only, one with '/' the whole path.
 */
export function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

export function matchesExecutable(exe: string, patterns: readonly string[]): boolean {
  const base = exe.slice(exe.lastIndexOf('/') + 1);
  return patterns.some((p) => globRegExp(p).test(p.includes('/') ? exe : base));
}

/** QEMU's names, widened by the manifest's target.executables. */
export const acceptedExecutables = (extra: readonly string[] = []): string[] => [...QEMU_EXECUTABLES, ...extra];

/** What the accepted executables are, for messages. */
export const describeAccepted = (extra: readonly string[] = []): string =>
  `an executable named ${QEMU_EXECUTABLES.join(' or ')}${extra.length ? ` or matching target.executables (${extra.join(', ')})` : ', or one matching target.executables'}`;
