// QEMU's pid from its QMP socket: query-cpus-fast names each vCPU's host
// thread, and a thread's Tgid is its process. The same answer maps thread
// ids to vCPU indexes for the proc collector's thread rows.
import fs from 'node:fs';
import { QmpClient } from './client.js';

export interface QmpTarget {
  pid: number;
  /** Host thread id -> vCPU index. */
  vcpuThreads: Record<string, number>;
}

function tgid(tid: number, procRoot: string): number {
  let status: string;
  try {
    status = fs.readFileSync(`${procRoot}/${tid}/status`, 'latin1');
  } catch {
    throw new Error(`QEMU names thread ${tid} as a vCPU, and there is no such thread on this host (is QEMU in another PID namespace?)`);
  }
  const m = /^Tgid:\s*(\d+)$/m.exec(status);
  if (!m) throw new Error(`${procRoot}/${tid}/status has no Tgid`);
  return Number(m[1]);
}

export async function qmpTarget(socket: string, procRoot = '/proc'): Promise<QmpTarget> {
  const c = await QmpClient.connect({ path: socket });
  let cpus: unknown;
  try {
    cpus = await c.execute('query-cpus-fast');
  } finally {
    c.close();
  }
  const vcpuThreads: Record<string, number> = Object.create(null);
  const pids = new Set<number>();
  for (const x of (Array.isArray(cpus) ? cpus : []) as Array<{ 'cpu-index'?: unknown; 'thread-id'?: unknown }>) {
    if (!Number.isSafeInteger(x['thread-id']) || !Number.isSafeInteger(x['cpu-index']) || (x['thread-id'] as number) <= 0) continue;
    vcpuThreads[String(x['thread-id'])] = x['cpu-index'] as number;
    pids.add(tgid(x['thread-id'] as number, procRoot));
  }
  if (pids.size === 0) throw new Error(`${socket}: query-cpus-fast named no vCPU thread`);
  if (pids.size > 1) throw new Error(`${socket}: query-cpus-fast names threads of several processes (${[...pids].join(', ')})`);
  return { pid: [...pids][0]!, vcpuThreads };
}
