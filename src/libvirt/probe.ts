// The qmp and guest_agent collectors' preflights when libvirtd owns QEMU's
// monitor or the guest agent's channel: one bounded virsh call each, saying
// what answered and through which connection, or virsh's reason.
import { monitorCommand } from './domain-threads.js';
import { virshDomain, type LibvirtRef } from './ref.js';
import { runVirsh } from './run-virsh.js';

export const POLLED_THROUGH_LIBVIRT = ['query-status', 'query-blockstats', 'query-cpus-fast', 'query-stats', 'query-balloon'] as const;

const via = (ref: LibvirtRef) => `through libvirt (${ref.uri}, domain ${JSON.stringify(ref.domain)})`;

/** QEMU's version through virsh qemu-monitor-command query-version, and the polled queries it lacks (query-commands). */
export async function monitorPreflight(ref: LibvirtRef): Promise<{ error: string } | { qemu: string; missing: string[]; reason: string }> {
  let v: unknown;
  try {
    v = await monitorCommand(ref, 'query-version');
  } catch (err) {
    return { error: `QEMU's monitor ${via(ref)}: ${(err as Error).message}` };
  }
  const q = (v as { qemu?: { major?: unknown; minor?: unknown; micro?: unknown } } | null)?.qemu;
  const qemu = q && [q.major, q.minor, q.micro].every(Number.isSafeInteger) ? `${q.major}.${q.minor}.${q.micro}` : '(version unknown)';
  const cmds = await monitorCommand(ref, 'query-commands').catch(() => null);
  const have = new Set((Array.isArray(cmds) ? cmds : []).map((x: { name?: unknown } | null) => x?.name));
  const missing = Array.isArray(cmds) ? POLLED_THROUGH_LIBVIRT.filter((c) => !have.has(c)) : [];
  return { qemu, missing, reason: `QEMU ${qemu} answers ${via(ref)}${missing.length ? `; it lacks ${missing.join(', ')}` : ''}` };
}

/** The guest agent through virsh qemu-agent-command guest-ping (5 s): whether it answers now. */
export async function agentPreflight(ref: LibvirtRef): Promise<{ available: boolean; reason: string }> {
  try {
    await runVirsh(ref, ['qemu-agent-command', '--domain', virshDomain(ref), '--cmd', '{"execute":"guest-ping"}', '--timeout', '5'], { what: 'virsh qemu-agent-command guest-ping' });
    return { available: true, reason: `the guest agent answers guest-ping ${via(ref)} (protocol qga)` };
  } catch (err) {
    return {
      available: false,
      reason: `the guest agent does not answer guest-ping through libvirt: ${(err as Error).message} (it may still come up: a guest that is booting starts qemu-ga late)`,
    };
  }
}
