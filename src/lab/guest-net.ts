// A small, silent lab network for labtel demo, the live-capture tests and
// bench:capture: a "guest" and a "peer",
// each in its own network namespace, joined by a bridge in the root namespace.
// The guest's bridge port (`tap`) stands where a QEMU guest's tap would, so a
// collector in the root namespace captures on it exactly as in a lab.
//
// Silent means: the only frames on the wire are the ones sendPackets() sends
// and the kernel's deterministic replies, so tests can assert exact counts.
// Left alone, a fresh bridge and veths emit IPv6 DAD/MLD/RS, ARP (and ARP
// re-probes seconds later) and the bridge's IGMP join of 224.0.0.106 (snooping).
// Hence: IPv6 disabled everywhere before anything goes up, static neighbours,
// multicast snooping and STP off.
//
// Addresses live only inside the namespaces made here (10.N.0.0/24); nothing
// in the root namespace gets an address. Every name carries a random suffix,
// so parallel test files do not collide.
import { execFile, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface GuestNet {
  /** The guest's bridge port in the root namespace: capture here, as on a QEMU tap. */
  tap: string;
  bridge: string;
  guestNs: string;
  peerNs: string;
  guestIp: string;
  peerIp: string;
  guestMac: string;
  peerMac: string;
  /** Runs argv inside namespace `ns` (`ip netns exec`); rejects on a non-zero exit. */
  exec(ns: string, argv: string[], opts?: ExecOpts): Promise<{ stdout: string; stderr: string }>;
  /** Deletes the namespaces, the bridge and its ports; safe to call twice. */
  destroy(): Promise<void>;
}

export interface ExecOpts {
  timeout?: number;
  env?: NodeJS.ProcessEnv;
}

/** Root and iproute2 present (`ip` has no --version, so programs.ts's has() does not fit). */
export function canMakeNetns(): boolean {
  return process.getuid?.() === 0 && spawnSync('ip', ['-V'], { stdio: 'ignore' }).status === 0;
}

const ip = (args: string[]) => execFileP('ip', args, { encoding: 'utf8' });
const inNs = (ns: string, argv: string[], opts: ExecOpts = {}) =>
  execFileP('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8', timeout: 30_000, ...opts });
/** A per-interface sysctl in the root namespace: never `default`/`all` there, that is the host's. */
const rootSysctl = (key: string, value: string) => fs.writeFileSync(`/proc/sys/${key.replaceAll('.', '/')}`, value);

/** Makes the network; the caller destroys it (tests: makeGuestNet() in netns.ts, which does it for them). */
export async function createGuestNet(): Promise<GuestNet> {
  const p = `lt${crypto.randomBytes(2).toString('hex')}`;
  const n = 200 + crypto.randomInt(51);
  const hex = n.toString(16);
  const [guestNs, peerNs, bridge, tap, peerPort] = [`${p}-g`, `${p}-p`, `${p}-br`, `${p}-vg`, `${p}-vp`];
  // Fixed, locally administered MACs that spell the address: easy to read in a capture.
  const guestMac = `02:00:0a:${hex}:00:0a`;
  const peerMac = `02:00:0a:${hex}:00:01`;

  const namespaces: string[] = []; // made, to delete
  const links: string[] = [];
  const net: GuestNet = {
    tap,
    bridge,
    guestNs,
    peerNs,
    guestIp: `10.${n}.0.10`,
    peerIp: `10.${n}.0.1`,
    guestMac,
    peerMac,
    exec: inNs,
    async destroy() {
      // Only what this call made: should a random name already exist (another
      // file's), setup fails there and this must not delete the other's.
      for (const ns of namespaces) {
        // Anything still running inside would keep the namespace alive after its name is gone.
        const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
        for (const pid of pids.split('\n').filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      // Links first, synchronously: `ip netns del` frees the namespace's veths only
      // later, in a kernel work queue, and `ip link show` must be clean on return.
      for (const dev of links.splice(0).reverse()) spawnSync('ip', ['link', 'del', dev], { stdio: 'ignore' });
      for (const ns of namespaces.splice(0)) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    },
  };
  try {
    for (const ns of [guestNs, peerNs]) {
      await ip(['netns', 'add', ns]);
      namespaces.push(ns);
      // Interfaces created in or moved into the namespace inherit `default`.
      await inNs(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    }
    // STP off: no BPDUs. Snooping off: no IGMP/MLD joins or queries from the bridge.
    await ip(['link', 'add', bridge, 'type', 'bridge', 'stp_state', '0', 'mcast_snooping', '0']);
    links.push(bridge);
    rootSysctl(`net.ipv6.conf.${bridge}.disable_ipv6`, '1');
    const pairs = [
      { port: tap, ns: guestNs, dev: 'g0', mac: guestMac, addr: net.guestIp, other: net.peerIp, otherMac: peerMac },
      { port: peerPort, ns: peerNs, dev: 'p0', mac: peerMac, addr: net.peerIp, other: net.guestIp, otherMac: guestMac },
    ];
    for (const x of pairs) {
      await ip(['link', 'add', x.port, 'type', 'veth', 'peer', 'name', x.dev, 'address', x.mac, 'netns', x.ns]);
      links.push(x.port);
      rootSysctl(`net.ipv6.conf.${x.port}.disable_ipv6`, '1');
      await inNs(x.ns, ['sysctl', '-qw', `net.ipv6.conf.${x.dev}.disable_ipv6=1`]);
      await ip(['link', 'set', x.port, 'master', bridge]);
      await ip(['-n', x.ns, 'addr', 'add', `${x.addr}/24`, 'dev', x.dev]);
    }
    await ip(['link', 'set', bridge, 'up']);
    for (const x of pairs) {
      await ip(['link', 'set', x.port, 'up']);
      await ip(['-n', x.ns, 'link', 'set', 'lo', 'up']);
      await ip(['-n', x.ns, 'link', 'set', x.dev, 'up']);
      // Permanent neighbours: no ARP request, and no re-probe when an entry would go stale.
      // Added after `up`, because taking a device down flushes even permanent entries.
      await ip(['-n', x.ns, 'neigh', 'replace', x.other, 'lladdr', x.otherMac, 'dev', x.dev, 'nud', 'permanent']);
    }
  } catch (err) {
    await net.destroy();
    throw err;
  }
  return net;
}

