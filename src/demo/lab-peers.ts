// What `labtel demo` starts so that more collectors have something real to
// observe on this host: a test network with traffic (pcap, netflow; root
// only), a paused QEMU (qmp), and a qemu-guest-agent on the host
// (guest_agent, protocol qga). Each is started only when its program is
// here; otherwise it says why, and the demo runs without that collector.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { canMakeNetns, createGuestNet, type GuestNet } from '../lab/guest-net.js';
import { which } from '../util/which.js';

export interface LabPeers {
  /** Collector configs the peers make possible. */
  collectors: Record<string, object>;
  /** Collectors not set up, with why. */
  notRun: Record<string, string>;
  stop(): Promise<void>;
}

/** UDP to the peer, 200 per second: traffic for the capture (only to the namespace's own 10.x address). */
const TRAFFIC = `const s = require('dgram').createSocket('udp4'); const b = Buffer.alloc(32);
setInterval(() => s.send(b, 9, process.argv[1]), 5);`;

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (cond()) return true;
  return cond();
}

/** Children die with the demo, even when it is killed (setpriv's parent-death signal; none of these change user, which would clear it). */
function spawnTied(setpriv: string, cmd: string, args: string[]): ChildProcess {
  return spawn(setpriv, ['--pdeathsig', 'KILL', '--', cmd, ...args], { stdio: 'ignore' });
}

/** Without setpriv nothing is started: it could outlive a demo that is killed. */
const NO_SETPRIV = 'setpriv is not installed (Debian: util-linux): what the demo starts for it could outlive a killed demo';

export async function startLabPeers(): Promise<LabPeers> {
  const collectors: Record<string, object> = {};
  const notRun: Record<string, string> = {};
  const children: ChildProcess[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-demo-'));
  let net: GuestNet | null = null;
  const setpriv = which('setpriv');

  if (!setpriv) notRun.pcap = notRun.netflow = NO_SETPRIV;
  else if (!canMakeNetns()) notRun.pcap = notRun.netflow = 'the demo makes a test network in namespaces for them, which needs root and iproute2';
  else if (!which('tcpdump')) notRun.pcap = notRun.netflow = 'tcpdump is not installed (Debian: apt-get install tcpdump)';
  else {
    try {
      net = await createGuestNet();
      children.push(spawnTied(setpriv, 'ip', ['netns', 'exec', net.guestNs, process.execPath, '-e', TRAFFIC, net.peerIp]));
      collectors.pcap = { iface: net.tap, interval_ms: 500, optional: true };
      collectors.netflow = { bucket_ms: 100, guest_ip: net.guestIp, optional: true };
    } catch (err) {
      notRun.pcap = notRun.netflow = `the test network could not be made: ${(err as Error).message}`;
    }
  }

  if (!setpriv) notRun.qmp = NO_SETPRIV;
  else if (!which('qemu-system-x86_64')) notRun.qmp = 'QEMU is not installed (Debian: apt-get install qemu-system-x86)';
  else {
    const qmp = path.join(dir, 'qmp.sock');
    const q = spawnTied(setpriv, 'qemu-system-x86_64', ['-machine', 'pc,accel=tcg', '-S', '-nodefaults', '-display', 'none', '-m', '64', '-qmp', `unix:${qmp},server=on,wait=off`]);
    children.push(q);
    if (await until(() => fs.existsSync(qmp), 5000)) collectors.qmp = { socket: qmp, interval_ms: 500, optional: true };
    else notRun.qmp = 'a paused QEMU did not open its QMP socket within 5 s';
  }

  if (!setpriv) notRun.guest_agent = NO_SETPRIV;
  else if (!which('qemu-ga')) notRun.guest_agent = 'qemu-guest-agent is not installed (Debian: apt-get install qemu-guest-agent), and no guest channel was given';
  else {
    const sock = path.join(dir, 'qga.sock');
    fs.mkdirSync(path.join(dir, 'qga-state'));
    children.push(spawnTied(setpriv, 'qemu-ga', ['-m', 'unix-listen', '-p', sock, '-t', path.join(dir, 'qga-state')]));
    if (await until(() => fs.existsSync(sock), 5000)) collectors.guest_agent = { socket: sock, protocol: 'qga', interval_ms: 1000, optional: true };
    else notRun.guest_agent = 'qemu-ga did not open its socket within 5 s';
  }

  return {
    collectors,
    notRun,
    async stop() {
      for (const c of children) c.kill('SIGTERM');
      await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : null)));
      await net?.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
      spawnSync('true');
    },
  };
}
