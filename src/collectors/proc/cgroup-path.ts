// Where a cgroup named by /proc/<pid>/cgroup is on this host's cgroup v2
// mount, or why it is not followed. The path is the target's to choose (a
// root QEMU can move itself, or look from a cgroup namespace): only a
// path of plain names under the mount's root is followed.
import { quote } from './cgroup-parse.js';

/** The longest path the kernel can give (PATH_MAX less the mount point's). */
export const MAX_CGROUP_PATH = 4095;

/** Characters of a cgroup directory a reason quotes at most: the path is the target's to choose, up to PATH_MAX, and every null value's reason names it. */
export const MAX_SHOWN_DIR = 256;

/** A cgroup directory as a reason names it: cut to MAX_SHOWN_DIR characters, saying how many more there were. */
export const shownDir = (dir: string): string => (dir.length > MAX_SHOWN_DIR ? `${dir.slice(0, MAX_SHOWN_DIR)}...(${dir.length - MAX_SHOWN_DIR} more characters)` : dir);

/** The directory of cgroup `path` (as the "0::" line gives it) under `mount`, or why it is not followed; `file` names where the path was read. */
export function cgroupDir(mount: { mountPoint: string; root: string }, path: string, file: string): { dir: string } | { why: string } {
  const named = `${file} names ${quote(path)}`;
  if (path.endsWith(' (deleted)')) return { why: `${named}: the cgroup was removed` };
  if (path.length > MAX_CGROUP_PATH) return { why: `${file} names a path of ${path.length} characters, longer than PATH_MAX: not followed` };
  if (!path.startsWith('/')) return { why: `${named}, not an absolute path: not followed` };
  const names = path === '/' ? [] : path.slice(1).split('/');
  for (const name of names) {
    if (name === '..') return { why: `${named}, which leaves the cgroup v2 hierarchy labtel sees (a cgroup namespace's view, or a forged path): not followed` };
    if (name === '' || name === '.' || name.includes('\0')) return { why: `${named}, not a path of plain names: not followed` };
  }
  let rel = path;
  // Seen from a cgroup namespace whose root is below the mount's: where the namespace's "/" is on the mount is not known.
  if (mount.root.split('/').includes('..')) return { why: `${named}, and labtel is in a cgroup namespace whose root is not the mount's (/proc/self/mountinfo shows its root as ${quote(mount.root)}): not followed` };
  if (mount.root !== '/') {
    if (path !== mount.root && !path.startsWith(`${mount.root}/`)) return { why: `${named}, outside the cgroup ${quote(mount.root)} mounted at ${mount.mountPoint}: not followed` };
    rel = path.slice(mount.root.length) || '/';
  }
  return { dir: rel === '/' ? mount.mountPoint : `${mount.mountPoint.replace(/\/$/, '')}${rel}` };
}

/**
 * Why a value is absent from a cgroup's file: the controller that writes it is not enabled for the cgroup (and is on
 * cgroup v1 here, which labtel does not read), or the cgroup is the root, which has no such file.
 */
export function whyAbsent(what: string, controller: string | null, at: { root: boolean; controllers: string[] | { why: string }; v1: Map<string, string> }): string {
  if (controller === null) return what;
  const listed = Array.isArray(at.controllers) ? at.controllers : null;
  if (listed && !listed.includes(controller)) {
    const v1 = at.v1.get(controller);
    const on = `its cgroup.controllers ${listed.length ? `lists ${listed.join(' ')}` : 'is empty'}`;
    return `${what}: the ${controller} controller is not enabled for this cgroup (${on})${v1 ? `; ${controller} is on cgroup v1 here (${v1}), which labtel does not read` : ''}`;
  }
  if (at.root) return `${what}: the root cgroup has no ${controller} controller files (the kernel keeps them for the cgroups below it)`;
  if (!listed) return `${what} (and ${(at.controllers as { why: string }).why}, so whether the ${controller} controller is enabled is not known)`;
  return `${what}, although the ${controller} controller is enabled for this cgroup`;
}
