// What a libvirt domain's XML fills in of the collectors' configs when the
// manifest names only the domain: pcap's iface (its one tap), netflow's
// guest_mac (that tap's MAC), guest_agent's socket (jsonl: the
// org.labtel.telemetry.0 channel's unix socket, in a directory no one but
// root, labtel's user and QEMU's can change) or its
// libvirt reference (qga: libvirt's org.qemu.guest_agent.0 channel), and
// qmp's libvirt reference (libvirtd owns the monitor). A value the manifest
// names is kept as it is. What cannot be filled is that collector's problem,
// said with the domain named: an optional collector is then skipped, another
// refuses the episode.
import type { CollectorName, Manifest } from '../manifest/schema.js';
import type { LibvirtDomain } from './domain.js';
import { whereDomain } from './domain.js';
import { libvirtPidfile } from './pidfile-path.js';
import { uidOf } from '../util/executable.js';
import { readPidfile } from '../util/pidfile.js';
import { unsafeServedSocketDir } from '../util/unix-listen.js';

/** labtel's own virtio-serial port (docs/libvirt.md shows the channel's XML). */
export const TELEMETRY_CHANNEL = 'org.labtel.telemetry.0';
/** The stock guest agent's port, as libvirt names it. */
export const QGA_CHANNEL = 'org.qemu.guest_agent.0';

export interface FilledValue {
  /** The manifest key filled, e.g. collectors.pcap.iface. */
  key: string;
  value: unknown;
  /** Where in the domain it came from. */
  source: string;
}

export interface Filling {
  collectors: Manifest['collectors'];
  filled: FilledValue[];
  /** Why a collector could not be filled: it is then unavailable, with this reason. */
  problems: Partial<Record<CollectorName, string>>;
}

/** The uid of the process libvirt's pidfile names (the domain's QEMU; resolveTarget holds it to the domain's uuid later), when it can be read. */
function qemuUidHint(d: LibvirtDomain): { uid: number; who: string } | undefined {
  try {
    const uid = uidOf(readPidfile(libvirtPidfile(d)).pid);
    return uid === null ? undefined : { uid, who: "the domain's QEMU" };
  } catch {
    return undefined;
  }
}

export function fillFromDomain(collectors: Manifest['collectors'], d: LibvirtDomain): Filling {
  const out = { ...collectors };
  const filled: FilledValue[] = [];
  const problems: Filling['problems'] = {};
  const where = whereDomain(d);
  // Held to the domain's uuid: a domain created again under its name with another uuid is not asked in its place.
  const ref = { domain: d.domain, uri: d.uri, uuid: d.uuid };

  const pcap = out.pcap;
  if (pcap?.enabled && pcap.iface === undefined) {
    const taps = d.interfaces.filter((i) => i.dev !== null);
    if (taps.length === 1) {
      const t = taps[0]!;
      out.pcap = { ...pcap, iface: t.dev! };
      // An interface with no host device (user, vhostuser, hostdev) is not captured: said, not left for "its one interface".
      const others = d.interfaces.filter((i) => i.dev === null);
      const mac = `(mac ${t.mac ?? 'unknown'}${t.bridge ? `, bridge ${t.bridge}` : ''})`;
      const source = others.length
        ? `${where}: the <target dev> of its one interface with a host device ${mac}; not captured: its ${others.length === 1 ? 'other interface' : `${others.length} other interfaces`} (${others.map((i) => `type ${i.type ?? '?'} mac ${i.mac ?? 'unknown'}`).join(', ')}), with no host device`
        : `${where}: its one interface's <target dev> ${mac}`;
      filled.push({ key: 'collectors.pcap.iface', value: t.dev, source });
    } else if (taps.length === 0) {
      problems.pcap = `${where} has no network interface with a host device (<target dev>): name collectors.pcap.iface`;
    } else {
      problems.pcap = `${where} has ${taps.length} interfaces (${taps.map((t) => `${t.dev}${t.mac ? ` mac ${t.mac}` : ''}`).join(', ')}): name the one to capture on in collectors.pcap.iface`;
    }
  }

  // netflow's direction: the captured interface's MAC is the guest's side of it (without one, every packet is unmatched).
  const nf = out.netflow;
  if (nf?.enabled && nf.guest_ip === undefined && nf.guest_mac === undefined && nf.bridge_ip === undefined) {
    const iface = out.pcap?.iface;
    const i = iface === undefined ? undefined : d.interfaces.find((x) => x.dev === iface);
    if (i?.mac) {
      out.netflow = { ...nf, guest_mac: i.mac };
      filled.push({ key: 'collectors.netflow.guest_mac', value: i.mac, source: `${where}: the <mac address> of the interface pcap captures (${iface})` });
    }
  }

  const qmp = out.qmp;
  if (qmp?.enabled && qmp.socket === undefined && qmp.libvirt === undefined) {
    out.qmp = { ...qmp, libvirt: ref };
    filled.push({ key: 'collectors.qmp.libvirt', value: ref, source: `${where}: libvirtd owns its monitor (virsh qemu-monitor-command)` });
  }

  const ga = out.guest_agent;
  // The channel's socket is where the domain's XML says; its directory may be QEMU's (libvirt's qemu user) besides root's.
  const unsafeDir = (socket: string) => unsafeServedSocketDir(socket, qemuUidHint(d));
  if (ga?.enabled && ga.socket === undefined && ga.libvirt === undefined) {
    if (ga.protocol === 'qga') {
      if (d.channels.some((c) => c.name === QGA_CHANNEL)) {
        out.guest_agent = { ...ga, libvirt: ref };
        filled.push({ key: 'collectors.guest_agent.libvirt', value: ref, source: `${where}: its ${QGA_CHANNEL} channel, which libvirtd owns (virsh qemu-agent-command)` });
      } else {
        problems.guest_agent = `${where} has no ${QGA_CHANNEL} channel for protocol qga: add one to its XML, or name collectors.guest_agent.socket`;
      }
    } else {
      const tel = d.channels.filter((c) => c.name === TELEMETRY_CHANNEL);
      const c = tel[0];
      if (c === undefined) {
        problems.guest_agent = `${where} has no ${TELEMETRY_CHANNEL} channel (docs/libvirt.md shows the XML to add): name collectors.guest_agent.socket`;
      } else if (tel.length > 1) {
        problems.guest_agent = `${where} has ${tel.length} ${TELEMETRY_CHANNEL} channels: name collectors.guest_agent.socket`;
      } else if (c.type !== 'unix' || c.path === null) {
        problems.guest_agent = `${where}'s ${TELEMETRY_CHANNEL} channel is of type ${c.type ?? '(none)'}, not a unix socket: name collectors.guest_agent.socket`;
      } else if (c.mode !== 'bind') {
        problems.guest_agent = `${where}'s ${TELEMETRY_CHANNEL} channel has source mode ${c.mode ?? '(none)'} (QEMU connects to ${c.path}); labtel fills only mode bind, where QEMU listens: name collectors.guest_agent.socket and mode`;
      } else if (ga.mode !== 'connect') {
        problems.guest_agent = `${where}'s ${TELEMETRY_CHANNEL} channel is bound by QEMU (${c.path}), so labtel connects to it, but collectors.guest_agent.mode is ${ga.mode}`;
      } else if (unsafeDir(c.path)) {
        problems.guest_agent = `${where}'s ${TELEMETRY_CHANNEL} socket ${c.path}: ${unsafeDir(c.path)}`;
      } else {
        out.guest_agent = { ...ga, socket: c.path };
        filled.push({ key: 'collectors.guest_agent.socket', value: c.path, source: `${where}: its ${TELEMETRY_CHANNEL} channel's <source path> (mode bind: QEMU listens, labtel connects)` });
      }
    }
  }
  return { collectors: out, filled, problems };
}
