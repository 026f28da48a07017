// Resolves the manifest's target to a live pid before any collector starts:
// a pid, a pidfile, QEMU's QMP socket, or a libvirt domain (libvirt/: its
// pidfile, held to the domain's uuid, and its vCPU threads through libvirt).
// No peer chooses what labtel watches: a QMP socket's target is the process at its other end (its peer
// credentials), owning every vCPU thread QEMU names and running QEMU's
// executable (or one target.executables accepts); a pidfile target is held
// to the same when the qmp collector's socket is there to check it against.
// A pidfile a user other than root wrote names only a process of that uid.
// A named pid is the researcher's choice: it is never refused for its
// executable or its QMP socket, which then only names its vCPU threads. When a QMP socket is known, its vCPU thread ids come along, so
// that the proc collector's thread rows name their vCPU whatever QEMU called
// the threads.
import fs from 'node:fs';
import type { Manifest } from '../manifest/schema.js';
import type { ResolvedTarget } from '../collectors/types.js';
import { nativePeerPid } from '../native/peer-cred.js';
import { qmpTarget } from '../qmp/target.js';
import { executableOf, uidOf } from '../util/executable.js';
import { readPidfile } from '../util/pidfile.js';
import { DEFAULT_LIBVIRT_URI, type LibvirtRef } from '../libvirt/ref.js';
import { describeDomain, type LibvirtDomain } from '../libvirt/domain.js';
import { domainPid } from '../libvirt/domain-pid.js';
import { domainThreads } from '../libvirt/domain-threads.js';
import { libvirtPidfile } from '../libvirt/pidfile-path.js';
import { processIdentity } from '../util/process-identity.js';

export class TargetError extends Error {
  override name = 'TargetError';
}

function fileOwner(file: string): number | null {
  try {
    return fs.lstatSync(file).uid;
  } catch {
    return null;
  }
}

/** The target's libvirt domain (name and connection), when it names one. */
export function targetDomain(t: Manifest['target']): LibvirtRef | null {
  return t.libvirt_domain === undefined ? null : { domain: t.libvirt_domain, uri: t.libvirt_uri ?? DEFAULT_LIBVIRT_URI };
}

/** The target's libvirt domain as virsh dumpxml describes it; a TargetError when it does not exist or does not run. */
export async function describeTargetDomain(ref: LibvirtRef): Promise<LibvirtDomain> {
  try {
    return await describeDomain(ref);
  } catch (err) {
    throw new TargetError(`target.libvirt_domain: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * `domain`: the target's domain as described before the collectors were planned (run and check describe it
 * first, to fill the collectors' configs), so that both read the same description; else described here.
 */
export async function resolveTarget(t: Manifest['target'], opts: { procRoot?: string; qmpSocket?: string; domain?: LibvirtDomain } = {}): Promise<ResolvedTarget> {
  const procRoot = opts.procRoot ?? '/proc';
  const ref = targetDomain(t);
  const r = ref ? await resolveDomain(opts.domain ?? (await describeTargetDomain(ref)), t.executables ?? [], procRoot, opts.qmpSocket) : await resolve(t, procRoot, opts.qmpSocket);
  // Read once the checks are done: which process they vouched for, should its pid be reused before the collectors start.
  const id = processIdentity(r.pid, procRoot);
  if (id === null) throw new TargetError(`target: pid ${r.pid} exited while it was being checked`);
  return { ...r, starttime: id.starttime };
}

/** `qmpSocket`: collectors.qmp.socket, when the manifest names one of its own beside the domain: it must be the domain's QEMU's. */
async function resolveDomain(d: LibvirtDomain, executables: string[], procRoot: string, qmpSocket: string | undefined): Promise<ResolvedTarget> {
  try {
    const pidfile = libvirtPidfile(d);
    const p = domainPid(d, pidfile, executables, procRoot);
    const threads = await domainThreads(d, p.pid, pidfile, procRoot);
    if (qmpSocket !== undefined) {
      // As for a pidfile target: the qmp collector's rows must describe the process proc and perf watch.
      const q = await qmpTarget(qmpSocket, procRoot, { executables, peerOf: nativePeerPid }).catch((err: Error) => {
        throw new Error(`checked against collectors.qmp.socket: ${err.message}`, { cause: err });
      });
      if (q.pid !== p.pid) {
        throw new Error(`the QMP socket ${qmpSocket} (collectors.qmp.socket) belongs to pid ${q.pid} (${q.exe}), not to the domain's QEMU, pid ${p.pid} (from ${pidfile}); refusing to watch it`);
      }
    }
    return {
      ...(qmpSocket !== undefined ? { qmp_socket: qmpSocket } : {}),
      pid: p.pid,
      pidfile,
      exe: p.exe,
      vcpu_threads: threads.vcpuThreads,
      io_threads: threads.ioThreads,
      ...(executables.length ? { executables } : {}),
      libvirt: { domain: d.domain, uri: d.uri, id: d.id, uuid: d.uuid, pidfile, interfaces: d.interfaces, channels: d.channels },
    };
  } catch (err) {
    throw new TargetError(`target.libvirt_domain: ${(err as Error).message}`, { cause: err });
  }
}

async function resolve(t: Manifest['target'], procRoot: string, qmpSocket: string | undefined): Promise<ResolvedTarget> {
  const opts = { qmpSocket };
  const executables = t.executables ?? [];
  const widened = executables.length ? { executables } : {};
  if (t.qmp_socket !== undefined) {
    try {
      const q = await qmpTarget(t.qmp_socket, procRoot, { executables, peerOf: nativePeerPid });
      const r: ResolvedTarget = { pid: q.pid, qmp_socket: t.qmp_socket, vcpu_threads: q.vcpuThreads, io_threads: q.ioThreads, exe: q.exe, peer_via: q.via, ...widened };
      if (opts.qmpSocket !== undefined && opts.qmpSocket !== t.qmp_socket) {
        // The qmp collector may read another socket than the target's: say so when it is another process's.
        const other = await qmpTarget(opts.qmpSocket, procRoot, { executables, peerOf: nativePeerPid }).then(
          (o) => (o.pid === q.pid ? null : `belongs to pid ${o.pid} (${o.exe})`),
          (e: Error) => `could not be checked: ${e.message}`,
        );
        if (other) r.vcpu_note = `collectors.qmp.socket ${opts.qmpSocket} ${other}, not to the target ${q.pid} (target.qmp_socket ${t.qmp_socket}): the qmp collector's rows may describe another process than proc and perf watch`;
      }
      return r;
    } catch (err) {
      throw new TargetError(`target.qmp_socket: ${(err as Error).message}`, { cause: err });
    }
  }
  let pid: number;
  let pidfile: string | undefined;
  if (t.pid !== undefined) {
    pid = t.pid;
  } else {
    pidfile = t.pidfile!;
    try {
      pid = readPidfile(pidfile).pid;
    } catch (err) {
      throw new TargetError(`target.pidfile: ${(err as Error).message}`, { cause: err });
    }
  }
  if (!fs.existsSync(`${procRoot}/${pid}/stat`)) {
    throw new TargetError(`target: no process with pid ${pid}${pidfile ? ` (from ${pidfile})` : ''}`);
  }
  const exe = executableOf(pid, procRoot);
  const key = pidfile ? 'target.pidfile' : 'target.pid';
  if (pidfile) {
    // The pidfile is QEMU's to write: it may name anything. A named pid is the researcher's choice.
    if (pid === 1) throw new TargetError(`${key}: ${pidfile} names pid 1 (${exe ?? 'init'}), never a QEMU; refusing to watch it`);
    if (pid === process.pid) throw new TargetError(`${key}: ${pidfile} names pid ${pid}, labtel itself; refusing to watch it`);
    if (exe === null) throw new TargetError(`${key}: ${pidfile} names pid ${pid}, whose executable cannot be read (a kernel thread?); refusing to watch it`);
    // A QEMU that runs as its own user and writes its pidfile names only itself, a process of that uid.
    const writer = fileOwner(pidfile);
    const uid = uidOf(pid, procRoot);
    if (writer !== null && writer !== 0 && uid !== writer) {
      throw new TargetError(`${key}: ${pidfile} names pid ${pid} (${exe}), which runs as uid ${uid ?? '(unreadable)'}, but the pidfile was written by uid ${writer}, whose QEMU runs as that uid; refusing to watch it`);
    }
  }
  const r: ResolvedTarget = { pid, ...(pidfile ? { pidfile } : {}), exe, ...widened };
  if (opts.qmpSocket && pidfile) {
    // What QEMU wrote is held to what the kernel says of QEMU's socket.
    let q;
    try {
      q = await qmpTarget(opts.qmpSocket, procRoot, { executables, peerOf: nativePeerPid });
    } catch (err) {
      throw new TargetError(`${key}: checked against collectors.qmp.socket: ${(err as Error).message}`, { cause: err });
    }
    if (q.pid !== pid) {
      throw new TargetError(
        `${key}: ${pidfile} names pid ${pid} (${exe ?? 'executable unreadable'}), but the QMP socket ${opts.qmpSocket} (collectors.qmp.socket) belongs to pid ${q.pid} (${q.exe}); refusing to watch it`,
      );
    }
    r.vcpu_threads = q.vcpuThreads;
    r.io_threads = q.ioThreads;
    r.peer_via = q.via;
    r.qmp_socket = opts.qmpSocket; // a pidfile follower holds each restart to it too
  } else if (opts.qmpSocket) {
    // A named pid is the researcher's choice, and may be another process than the QEMU the
    // qmp collector reads (labtel demo): its thread rows take vCPU names only from a QMP
    // socket that passes the checks and is its own.
    try {
      const q = await qmpTarget(opts.qmpSocket, procRoot, { executables, peerOf: nativePeerPid });
      if (q.pid === pid) {
        r.vcpu_threads = q.vcpuThreads;
        r.io_threads = q.ioThreads;
        r.peer_via = q.via;
      } else {
        r.vcpu_note = `the QMP socket ${opts.qmpSocket} belongs to pid ${q.pid} (${q.exe}), not to the target ${pid}: the qmp collector's rows describe pid ${q.pid}, proc and perf watch pid ${pid}; vCPU threads not named from it`;
      }
    } catch (err) {
      r.vcpu_note = `vCPU threads not read from ${opts.qmpSocket}: ${(err as Error).message}`;
    }
  }
  return r;
}
