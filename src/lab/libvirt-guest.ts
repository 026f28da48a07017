// The test guest of scripts/build-test-guest.sh as a libvirt-managed guest:
// a TRANSIENT domain (`virsh create --paused`, gone when it stops) under TCG,
// as a lab host's libvirt would run it. libvirtd owns QEMU, its monitor and
// the guest agent's channel (org.qemu.guest_agent.0, which the guest's real
// qemu-ga answers on); labtel's telemetry channel (org.labtel.telemetry.0) is
// the <channel> docs/libvirt.md shows, a socket QEMU listens on.
//
// Network: a bridge in the host's namespace with no address (libvirt puts the
// domain's tap on it), joined by a veth pair to a namespace of its own whose
// end holds 10.N.0.1/24, the guest's only peer: the 10.N addresses exist only
// in that namespace and in the guest.
import { execFile, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { QGA_CHANNEL, TELEMETRY_CHANNEL } from '../libvirt/fill-configs.js';
import { DEFAULT_LIBVIRT_URI, LIBVIRT_DOMAIN } from '../libvirt/ref.js';

const execFileP = promisify(execFile);

export interface LibvirtGuest {
  /** The domain's name. */
  name: string;
  uri: string;
  /** QEMU's pid, from libvirt's pidfile (/run/libvirt/qemu/NAME.pid). */
  pid: number;
  /** The domain's tap (the <target dev> of its interface), on `bridge`. */
  tap: string;
  /** The host bridge (no address) the tap and the namespace's veth join. */
  bridge: string;
  /** The network namespace holding the peer's end (peerIp). */
  ns: string;
  guestIp: string;
  peerIp: string;
  /** labtel's telemetry channel: the unix socket QEMU listens on (connect to it). */
  telemetry: string;
  /** The guest's serial console, a file. */
  console: string;
  /** The domain XML it was created from. */
  xml: string;
  /** Lets the paused guest run (`virsh resume`). */
  resume(): Promise<void>;
  /** `virsh destroy` if the domain is still there; removes the bridge, the veth, the namespace and the files. Idempotent. */
  destroy(): Promise<void>;
  /** Resolves once QEMU has exited and the domain has vanished (the guest powers itself off after `seconds`, or destroy()). */
  exited: Promise<void>;
}

export interface LibvirtGuestOptions {
  kernel: string;
  initrd: string;
  /** labtel.seconds: the guest powers itself off after this long. */
  seconds: number;
  /** Default qemu:///system. */
  uri?: string;
  /** The domain name's prefix (a random hex suffix follows). */
  prefix?: string;
}

/** Text for an XML attribute or element. */
export function xmlText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');
}

/**
 * labtel's telemetry channel as docs/libvirt.md shows it (a test holds the two to the same lines, the path
 * aside): a virtio-serial port named org.labtel.telemetry.0 whose host end is a unix socket QEMU binds.
 */
export function telemetryChannelXml(socketPath: string): string {
  return [
    "<channel type='unix'>",
    `  <source mode='bind' path='${xmlText(socketPath)}'/>`,
    `  <target type='virtio' name='${TELEMETRY_CHANNEL}'/>`,
    '</channel>',
  ].join('\n');
}

/** libvirt's own guest agent channel: no path, libvirt picks the socket and connects to it itself. */
export function qgaChannelXml(): string {
  return ["<channel type='unix'>", `  <target type='virtio' name='${QGA_CHANNEL}'/>`, '</channel>'].join('\n');
}

const indent = (xml: string, by: string) => xml.split('\n').map((l) => by + l).join('\n');

export interface DomainXmlInput {
  name: string;
  kernel: string;
  initrd: string;
  cmdline: string;
  disk: string;
  bridge: string;
  tap: string;
  mac: string;
  console: string;
  telemetry: string;
}

/** The transient domain: TCG (type='qemu'), ACPI (without it the guest's poweroff only halts, and the domain stays), 256 MiB, 1 vCPU, the test guest's kernel and initramfs, a raw virtio disk, a virtio NIC on `bridge`, both channels, a balloon with 1 s statistics. */
export function domainXml(d: DomainXmlInput): string {
  return `<domain type='qemu'>
  <name>${xmlText(d.name)}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${xmlText(d.kernel)}</kernel>
    <initrd>${xmlText(d.initrd)}</initrd>
    <cmdline>${xmlText(d.cmdline)}</cmdline>
  </os>
  <features>
    <acpi/>
  </features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='${xmlText(d.disk)}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='bridge'>
      <mac address='${d.mac}'/>
      <source bridge='${xmlText(d.bridge)}'/>
      <target dev='${xmlText(d.tap)}'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='${xmlText(d.console)}'/>
      <target port='0'/>
    </serial>
${indent(qgaChannelXml(), '    ')}
${indent(telemetryChannelXml(d.telemetry), '    ')}
    <memballoon model='virtio'>
      <stats period='1'/>
    </memballoon>
  </devices>
</domain>
`;
}

/** virsh on `uri`; rejects with virsh's own message. */
export async function virsh(uri: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileP('virsh', ['-c', uri, ...args], { encoding: 'utf8', timeout: 60_000 });
    return stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`virsh -c ${uri} ${args.join(' ')}: ${(err.stderr ?? '').trim() || err.message}`, { cause: e });
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Whether the domain is known to libvirt (running, paused, or shutting down). */
async function domainExists(uri: string, name: string): Promise<boolean> {
  try {
    await execFileP('virsh', ['-c', uri, 'domstate', name], { encoding: 'utf8', timeout: 60_000 });
    return true;
  } catch (e) {
    const err = e as Error & { stderr?: string };
    if (/failed to get domain|Domain not found/i.test(err.stderr ?? '')) return false;
    throw new Error(`virsh -c ${uri} domstate ${name}: ${(err.stderr ?? '').trim() || err.message}`, { cause: e });
  }
}

export async function startLibvirtGuest(o: LibvirtGuestOptions): Promise<LibvirtGuest> {
  const uri = o.uri ?? DEFAULT_LIBVIRT_URI;
  const id = crypto.randomBytes(3).toString('hex');
  const name = `${o.prefix ?? 'labtel-lv-'}${id}`;
  if (!LIBVIRT_DOMAIN.test(name)) throw new Error(`startLibvirtGuest: the prefix ${JSON.stringify(o.prefix)} makes ${JSON.stringify(name)}, not a domain name`);
  const n = 200 + crypto.randomInt(51);
  // Interface names are at most 15 characters: these are 8 and 9.
  const bridge = `lt${id}`;
  const tap = `lv${id}`;
  const veth = `lt${id}p`;
  const ns = `labtel-lv-${id}`;
  const guestIp = `10.${n}.0.10`;
  const peerIp = `10.${n}.0.1`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-lv-'));
  // libvirt runs QEMU as root here (start-libvirtd.sh); a lab host's libvirt-qemu user must reach the files too.
  fs.chmodSync(dir, 0o755);
  const disk = path.join(dir, 'disk.raw');
  const consoleLog = path.join(dir, 'console.log');
  const telemetry = path.join(dir, 'telemetry.sock');
  const xmlFile = path.join(dir, 'domain.xml');
  const ip = (...args: string[]) => execFileP('ip', args, { encoding: 'utf8' });
  const made = { domain: false, bridge: false, veth: false, ns: false };
  let pid = 0;

  let destroying: Promise<void> | null = null;
  const destroy = () =>
    (destroying ??= (async () => {
      const errors: string[] = [];
      if (made.domain) {
        try {
          if (await domainExists(uri, name)) await virsh(uri, ['destroy', name]);
        } catch (e) {
          // Gone between the two calls is fine; anything else is said below.
          if (await domainExists(uri, name).catch(() => true)) errors.push((e as Error).message);
        }
        for (let i = 0; i < 500 && pid > 0 && alive(pid); i++) await sleep(10);
      }
      // The tap is libvirt's and goes with the domain; deleted here only if libvirt left it.
      const del = (dev: string) => spawnSync('ip', ['link', 'del', dev], { stdio: 'ignore' });
      if (fs.existsSync(`/sys/class/net/${tap}`) && made.domain) del(tap);
      if (made.veth) del(veth);
      if (made.bridge) del(bridge);
      if (made.ns) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      fs.rmSync(dir, { recursive: true, force: true });
      if (errors.length) throw new Error(`destroying ${name}: ${errors.join('; ')}`);
    })());

  try {
    // The bridge: STP off (no BPDUs), snooping off (no IGMP/MLD joins), no IPv6 (no DAD/RS), no address.
    await ip('link', 'add', bridge, 'type', 'bridge', 'stp_state', '0', 'mcast_snooping', '0');
    made.bridge = true;
    fs.writeFileSync(`/proc/sys/net/ipv6/conf/${bridge}/disable_ipv6`, '1');
    await ip('netns', 'add', ns);
    made.ns = true;
    await execFileP('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    await ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'p0', 'netns', ns);
    made.veth = true;
    fs.writeFileSync(`/proc/sys/net/ipv6/conf/${veth}/disable_ipv6`, '1');
    await ip('link', 'set', veth, 'master', bridge);
    await ip('-n', ns, 'addr', 'add', `${peerIp}/24`, 'dev', 'p0');
    for (const dev of [bridge, veth]) await ip('link', 'set', dev, 'up');
    for (const dev of ['lo', 'p0']) await ip('-n', ns, 'link', 'set', dev, 'up');

    fs.writeFileSync(disk, Buffer.alloc(8 << 20));
    const mac = `52:54:00:${[0, 1, 2].map(() => crypto.randomInt(256).toString(16).padStart(2, '0')).join(':')}`;
    const xml = domainXml({
      name, kernel: o.kernel, initrd: o.initrd, disk, bridge, tap, mac, console: consoleLog, telemetry,
      cmdline: `console=ttyS0 quiet labtel.ip=${guestIp}/24 labtel.peer=${peerIp} labtel.seconds=${o.seconds}`,
    });
    fs.writeFileSync(xmlFile, xml);
    made.domain = true; // set before: a create that fails half-way is still looked for and destroyed
    await virsh(uri, ['create', xmlFile, '--paused']);
    const pidfile = `/run/libvirt/qemu/${name}.pid`;
    pid = Number(fs.readFileSync(pidfile, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) throw new Error(`${pidfile} names no live process: ${JSON.stringify(fs.readFileSync(pidfile, 'utf8'))}`);
    if (!fs.existsSync(telemetry)) throw new Error(`QEMU did not bind the telemetry channel's socket ${telemetry}`);

    const exited = (async () => {
      while (alive(pid)) await sleep(100);
      // QEMU is gone; libvirt then drops the transient domain.
      for (let i = 0; i < 300 && (await domainExists(uri, name).catch(() => false)); i++) await sleep(100);
    })();
    return {
      name, uri, pid, tap, bridge, ns, guestIp, peerIp, telemetry, console: consoleLog, xml, destroy, exited,
      async resume() {
        await virsh(uri, ['resume', name]);
      },
    };
  } catch (err) {
    await destroy().catch(() => {});
    throw err;
  }
}
