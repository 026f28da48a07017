// The domain's vCPU and iothread ids, asked of QEMU through libvirt
// (virsh qemu-monitor-command: libvirt owns the monitor and adds its own
// "id" to each command), each held to the domain's pid with the checks a QMP
// socket target gets (qmp/target.ts ownedThreads).
import { ownedThreads, type OwnedThreads } from '../qmp/target.js';
import { whereDomain } from './domain.js';
import { virshDomain, type LibvirtRef } from './ref.js';
import { runVirsh } from './run-virsh.js';

/** `execute`'s answer (its "return"), read from virsh's one line `{"return":...,"id":"libvirt-N"}`. */
export async function monitorCommand(ref: LibvirtRef, execute: string, opts: { timeoutMs?: number } = {}): Promise<unknown> {
  const out = await runVirsh(ref, ['qemu-monitor-command', '--domain', virshDomain(ref), '--cmd', JSON.stringify({ execute })], { what: `virsh qemu-monitor-command ${execute}`, ...opts });
  let reply: unknown;
  try {
    reply = JSON.parse(out);
  } catch {
    throw new Error(`virsh qemu-monitor-command ${execute} (${whereDomain(ref)}) printed no JSON: ${JSON.stringify(out.slice(0, 200))}`);
  }
  const r = reply as { return?: unknown; error?: { desc?: unknown } } | null;
  if (r && typeof r === 'object' && 'return' in r) return r.return;
  const desc = r && typeof r === 'object' && r.error && typeof r.error.desc === 'string' ? r.error.desc.slice(0, 200) : JSON.stringify(out.slice(0, 200));
  throw new Error(`virsh qemu-monitor-command ${execute} (${whereDomain(ref)}): ${desc}`);
}

export async function domainThreads(ref: LibvirtRef, pid: number, pidfile: string, procRoot = '/proc'): Promise<OwnedThreads> {
  const cpus = await monitorCommand(ref, 'query-cpus-fast');
  // A QEMU that refuses it has no iothreads to name, as with a socket.
  const ios = await monitorCommand(ref, 'query-iothreads').catch(() => []);
  return ownedThreads(cpus, ios, pid, procRoot, whereDomain(ref), `libvirt's pidfile ${pidfile} names`);
}
