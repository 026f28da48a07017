// Resolves the manifest's target to a live pid before any collector starts:
// a pid, a pidfile, or QEMU's QMP socket (the pid of its vCPU threads). When
// a QMP socket is known, its vCPU thread ids come along, so that the proc
// collector's thread rows name their vCPU whatever QEMU called the threads.
import fs from 'node:fs';
import type { Manifest } from '../manifest/schema.js';
import type { ResolvedTarget } from '../collectors/types.js';
import { qmpTarget } from '../qmp/target.js';
import { readPidfile } from '../util/pidfile.js';

export class TargetError extends Error {
  override name = 'TargetError';
}

export async function resolveTarget(t: Manifest['target'], opts: { procRoot?: string; qmpSocket?: string } = {}): Promise<ResolvedTarget> {
  const procRoot = opts.procRoot ?? '/proc';
  if (t.qmp_socket !== undefined) {
    try {
      const q = await qmpTarget(t.qmp_socket, procRoot);
      return { pid: q.pid, qmp_socket: t.qmp_socket, vcpu_threads: q.vcpuThreads };
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
  const r: ResolvedTarget = pidfile ? { pid, pidfile } : { pid };
  if (opts.qmpSocket) {
    // Best effort: without it, vCPU threads are still named by their thread names.
    try {
      const q = await qmpTarget(opts.qmpSocket, procRoot);
      if (q.pid === pid) r.vcpu_threads = q.vcpuThreads;
      else r.vcpu_note = `the QMP socket ${opts.qmpSocket} belongs to pid ${q.pid}, not to the target ${pid}`;
    } catch (err) {
      r.vcpu_note = `vCPU threads not read from ${opts.qmpSocket}: ${(err as Error).message}`;
    }
  }
  return r;
}
