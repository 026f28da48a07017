// The running domain's QEMU process, from libvirt's pidfile, trusted only as
// far as the process itself vouches for being that domain: the pidfile is
// root's (libvirtd writes it), the process's command line carries
// `-uuid <the domain's uuid>` (libvirt passes it to every QEMU it starts), and
// its executable looks like QEMU (or one target.executables accepts). A
// pidfile naming another process is refused, naming the pidfile, the pid,
// its executable and both uuids.
import fs from 'node:fs';
import { checkQemuExecutableOf } from '../qmp/target.js';
import { executableOf } from '../util/executable.js';
import { readPidfile } from '../util/pidfile.js';
import { cmdlineUuid, describeUuid } from '../util/cmdline-uuid.js';
import type { LibvirtDomain } from './domain.js';
import { isSessionUri } from './ref.js';

export interface DomainPid {
  pid: number;
  pidfile: string;
  exe: string;
}

/** `pidfile`: libvirt's for the domain (libvirtPidfile). Throws with the reason. */
export function domainPid(d: LibvirtDomain, pidfile: string, executables: readonly string[], procRoot = '/proc'): DomainPid {
  let pid: number;
  try {
    pid = readPidfile(pidfile).pid;
  } catch (err) {
    throw new Error(`libvirt's pidfile for the running domain: ${(err as Error).message}`, { cause: err });
  }
  // The system libvirtd writes it as root; a session's libvirtd as its user, labtel's own.
  const owner = fs.lstatSync(pidfile).uid;
  const session = isSessionUri(d.uri);
  const me = process.getuid?.() ?? 0;
  if (owner !== 0 && !(session && owner === me)) {
    throw new Error(`libvirt's pidfile ${pidfile} is owned by uid ${owner}, not root${session ? ` nor labtel's uid ${me}` : ''} (libvirtd writes it); refusing to trust it`);
  }
  if (pid === 1 || pid === process.pid) throw new Error(`libvirt's pidfile ${pidfile} names pid ${pid} (${pid === 1 ? 'init' : 'labtel itself'}), never the domain's QEMU; refusing to watch it`);
  if (!fs.existsSync(`${procRoot}/${pid}/stat`)) throw new Error(`libvirt's pidfile ${pidfile} names pid ${pid}, and there is no such process`);
  const uuid = cmdlineUuid(pid, procRoot);
  if (uuid !== d.uuid) {
    const exe = executableOf(pid, procRoot) ?? 'executable unreadable';
    throw new Error(
      `libvirt's pidfile ${pidfile} names pid ${pid} (${exe}), which carries ${describeUuid(uuid)}, but the domain ${JSON.stringify(d.domain)} has uuid ${d.uuid}; refusing to watch it`,
    );
  }
  const exe = checkQemuExecutableOf(`libvirt's pidfile ${pidfile} names`, pid, executables, procRoot);
  return { pid, pidfile, exe };
}
