// A stock qemu-guest-agent in a libvirt domain: libvirtd holds its channel
// (org.qemu.guest_agent.0) and syncs with the agent itself, so each command
// goes through `virsh qemu-agent-command` in one long-lived shell
// (src/libvirt/virsh-shell.ts) and is answered by one line, judged as a line
// from the channel is (guest-line.ts): the agent is in the guest, and libvirt
// relays what it says without vouching for it.
import { linkWhere, type LibvirtRef } from '../../libvirt/ref.js';
import { DOMAIN_NOT_THERE, runningDomainId, VirshError, VirshShell } from '../../libvirt/virsh-shell.js';
import { QapiError } from '../../util/qapi-error.js';
import { judgeLine } from './guest-line.js';
import type { QgaAnswer } from './qga-session.js';
import { rawMember } from './raw-member.js';

/** Seconds libvirt waits for the agent's answer (qemu-agent-command --timeout); virsh gets 2 s more. */
export const LIBVIRT_QGA_TIMEOUT_S = 5;

/**
 * The agent's refusal as libvirt reports it on stderr ("internal error: unable to execute QEMU agent command 'X': DESC"):
 * libvirt keeps the agent's description, not its class. qemu-ga's own words for a command it lacks or has disabled
 * (class CommandNotFound) are known, so that refusal is a QapiError as on the channel (the collector stops asking); any other
 * stays libvirt's error. The description is the guest's text, cut as on the channel.
 */
export function agentRefusal(command: string, err: VirshError): QapiError | null {
  const prefix = `${command}: internal error: unable to execute QEMU agent command '${command}': `;
  if (!err.message.startsWith(prefix)) return null;
  const desc = err.message.slice(prefix.length);
  if (desc !== `The command ${command} has not been found` && !desc.startsWith(`Command ${command} has been disabled`)) return null;
  return QapiError.fromReply(command, { class: 'CommandNotFound', desc }, 200);
}

export class LibvirtQga {
  private readonly shell: VirshShell;
  /** The running domain's id, which every command names: this run of the domain only (runningDomainId). */
  private target: Promise<string> | null = null;

  /** `onBytes`: the bytes of each answer line (the channel's byte counter). */
  constructor(
    readonly ref: LibvirtRef & { virsh?: string },
    maxAnswerBytes: number,
    private readonly onBytes: (n: number) => void = () => {},
  ) {
    this.shell = new VirshShell(ref, maxAnswerBytes, ref.virsh);
  }

  /** Resolves with why once the shell is gone (a timeout, virsh ended, or closed). */
  get closed(): Promise<string> {
    return this.shell.closed;
  }

  /** Finds the running domain's id (once), which every command names; rejects when the domain is not running. */
  pin(): Promise<string> {
    return (this.target ??= runningDomainId(this.shell, this.ref.domain, (LIBVIRT_QGA_TIMEOUT_S + 2) * 1000, this.ref.uuid));
  }

  async execute(command: string): Promise<QgaAnswer> {
    let out;
    try {
      const id = await this.pin();
      out = await this.shell.run(['qemu-agent-command', id, JSON.stringify({ execute: command }), '--timeout', String(LIBVIRT_QGA_TIMEOUT_S)], (LIBVIRT_QGA_TIMEOUT_S + 2) * 1000, command);
    } catch (err) {
      // The domain gone (destroyed, or started again under its name: another guest) ends this shell, as a closed channel
      // does; a paused one (libvirt: "domain is not running") only fails the question.
      if (DOMAIN_NOT_THERE.test((err as Error).message)) this.shell.close(`${linkWhere(this.ref)}: ${(err as Error).message}`);
      throw err instanceof VirshError ? (agentRefusal(command, err) ?? err) : err;
    }
    const lines = out.lines.filter((l) => l.trim() !== '');
    if (lines.length !== 1) throw new Error(`${command}: virsh printed ${lines.length} lines for the agent's one answer through libvirt`);
    const line = Buffer.from(lines[0]!, 'utf8');
    this.onBytes(line.length);
    const v = judgeLine(line);
    if (!v.ok) throw new Error(`${command}: the agent answered with a line that is not a JSON object (${v.why})`);
    if ('error' in v.value) throw QapiError.fromReply(command, v.value.error, 200);
    const raw = 'return' in v.value ? rawMember(v.text, 'return') : undefined;
    if (raw === undefined) throw new Error(`${command}: the agent answered with neither return nor error`);
    return { value: v.value.return, raw };
  }

  close(why?: string): void {
    this.shell.close(why);
  }
}
