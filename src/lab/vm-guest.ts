// A real guest for `labtel demo --vm` and the end-to-end test: the tiny
// guest of scripts/build-test-guest.sh booted by QEMU (TCG; KVM with
// LABTEL_VM_ACCEL=kvm) in a network namespace of its own, on a bridge whose
// host side (10.N.0.1, inside the namespace) is the only peer the guest
// talks to. QEMU starts paused (-S) with a QMP socket for labtel, a second
// one to drive it (cont), the telemetry channel org.labtel.telemetry.0, and
// a virtio balloon (balloon0) whose guest memory statistics qmp records.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { QmpClient } from '../qmp/client.js';
import { parseMountinfo } from '../collectors/proc/cgroup-parse.js';
import { which } from '../util/which.js';

export interface VmGuest {
  ns: string;
  bridge: string;
  guestIp: string;
  peerIp: string;
  /** labtel's QMP socket, the telemetry channel's host end. */
  qmp: string;
  telemetry: string;
  qemu: ChildProcess;
  pid: number;
  accel: 'kvm' | 'tcg';
  /** QEMU's own cgroup (a directory under the cgroup v2 mount, removed by destroy()), or why QEMU stayed where it started. */
  cgroup: { dir: string } | { why: string };
  /** QEMU's exit (the guest powers itself off after `seconds`). */
  exited: Promise<void>;
  /** Lets the paused guest run. */
  cont(): Promise<void>;
  /** Kills QEMU if it still runs, removes the namespace and the files. */
  destroy(): Promise<void>;
}

/**
 * The accelerator: TCG, unless LABTEL_VM_ACCEL=kvm says KVM works here.
 * /dev/kvm can open and still not run a guest: on nested lab VMs (these
 * machines among them) the guest hangs under KVM and a killed QEMU takes a
 * minute and more to go, so probing it costs more than TCG's boot (~10 s).
 */
function accelerator(): 'kvm' | 'tcg' {
  if (process.env.LABTEL_VM_ACCEL !== 'kvm') return 'tcg';
  try {
    fs.closeSync(fs.openSync('/dev/kvm', 'r+'));
    return 'kvm';
  } catch {
    return 'tcg';
  }
}

/** Builds the guest (cached by the script) and returns its kernel and initramfs. */
export function buildGuest(root: string, out = path.join(root, 'build-guest')): { kernel: string; initrd: string } {
  execFileSync('bash', [path.join(root, 'scripts', 'build-test-guest.sh'), out], { stdio: ['ignore', 'ignore', 'inherit'] });
  return { kernel: path.join(out, 'vmlinuz'), initrd: path.join(out, 'initramfs.gz') };
}

/**
 * A cgroup of QEMU's own, `labtel-demo-<random>` under the cgroup v2 mount, with `pid` moved into it: so that proc's
 * host_cgroup rows are QEMU's, not the root cgroup's (the whole host's). Or why not (no v2 mount, not allowed, ...).
 */
function ownCgroup(pid: number): { dir: string } | { why: string } {
  let v2;
  try {
    v2 = parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8')).v2;
  } catch (e) {
    return { why: `/proc/self/mountinfo: ${(e as Error).message}` };
  }
  if (!v2) return { why: 'no cgroup v2 hierarchy is mounted here' };
  if (v2.root !== '/') return { why: `the cgroup v2 mount ${v2.mountPoint} shows the cgroup ${v2.root}, not the root` };
  const dir = path.join(v2.mountPoint, `labtel-demo-${crypto.randomBytes(4).toString('hex')}`);
  try {
    fs.mkdirSync(dir);
  } catch (e) {
    return { why: `cannot make ${dir}: ${(e as Error).message}` };
  }
  try {
    fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
  } catch (e) {
    removeCgroup(dir);
    return { why: `cannot move QEMU (pid ${pid}) into ${dir}: ${(e as Error).message}` };
  }
  return { dir };
}

/** Removes a cgroup once its processes are gone (a killed QEMU may take a moment to leave it). */
async function removeCgroupWhenEmpty(dir: string): Promise<void> {
  for (let i = 0; i < 100 && fs.existsSync(dir); i++) {
    if (removeCgroup(dir)) return;
    await sleep(20);
  }
}

function removeCgroup(dir: string): boolean {
  try {
    fs.rmdirSync(dir);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

export async function startVmGuest(o: { kernel: string; initrd: string; seconds: number }): Promise<VmGuest> {
  const id = crypto.randomBytes(2).toString('hex');
  const n = 200 + crypto.randomInt(51);
  const ns = `ltvm${id}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-vm-'));
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'ignore' });
  const inNs = (...argv: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...argv], { stdio: 'ignore' });
  const guestIp = `10.${n}.0.10`;
  const peerIp = `10.${n}.0.1`;
  let qemu: ChildProcess | null = null;
  let cgroup: { dir: string } | { why: string } = { why: 'QEMU did not start' };
  const destroy = async () => {
    if (qemu && qemu.exitCode === null && qemu.signalCode === null) {
      qemu.kill('SIGKILL');
      await new Promise((r) => qemu!.once('exit', r));
    }
    if ('dir' in cgroup) await removeCgroupWhenEmpty(cgroup.dir);
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    ip('netns', 'add', ns);
    inNs('sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
    ip('-n', ns, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'mcast_snooping', '0');
    ip('-n', ns, 'tuntap', 'add', 'tap0', 'mode', 'tap');
    ip('-n', ns, 'link', 'set', 'tap0', 'master', 'br0');
    ip('-n', ns, 'addr', 'add', `${peerIp}/24`, 'dev', 'br0');
    for (const dev of ['lo', 'br0', 'tap0']) ip('-n', ns, 'link', 'set', dev, 'up');

    const disk = path.join(dir, 'disk.raw');
    fs.writeFileSync(disk, Buffer.alloc(8 << 20));
    const qmp = path.join(dir, 'qmp.sock');
    const driver = path.join(dir, 'driver.sock');
    const telemetry = path.join(dir, 'telemetry.sock');
    const accel = accelerator();
    const accelArgs = ['-accel', accel];
    // Under setpriv's parent-death signal (ip netns exec and QEMU exec in place, neither changes user): a paused
    // QEMU would otherwise outlive a demo or test that is killed, for good.
    const setpriv = which('setpriv');
    if (!setpriv) throw new Error('setpriv is not installed (Debian: util-linux): without it QEMU could outlive the demo');
    qemu = spawn(
      setpriv,
      ['--pdeathsig', 'KILL', '--', 'ip', 'netns', 'exec', ns, 'qemu-system-x86_64', '-machine', 'pc', ...accelArgs, '-m', '256', '-nodefaults', '-display', 'none', '-S',
        '-serial', `file:${path.join(dir, 'console.log')}`, '-kernel', o.kernel, '-initrd', o.initrd,
        '-append', `console=ttyS0 quiet labtel.ip=${guestIp}/24 labtel.peer=${peerIp} labtel.seconds=${o.seconds}`,
        '-drive', `file=${disk},format=raw,if=virtio`,
        '-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no', '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56',
        '-device', 'virtio-serial', '-chardev', `socket,id=tel,path=${telemetry},server=on,wait=off`,
        '-device', 'virtserialport,chardev=tel,name=org.labtel.telemetry.0',
        // A balloon (id balloon0), so qmp records the guest's memory statistics (the guest loads virtio_balloon).
        '-device', 'virtio-balloon-pci,id=balloon0',
        '-qmp', `unix:${qmp},server=on,wait=off`, '-qmp', `unix:${driver},server=on,wait=off`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    // At once: QEMU's threads and its use so far go with it (cgroup.procs moves the whole process).
    if (qemu.pid !== undefined) cgroup = ownCgroup(qemu.pid);
    let stderr = '';
    qemu.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<void>((resolve) => qemu!.once('exit', () => resolve()));
    for (let i = 0; !(fs.existsSync(qmp) && fs.existsSync(driver) && fs.existsSync(telemetry)); i++) {
      if (qemu.exitCode !== null || i > 500) throw new Error(`QEMU did not start: ${stderr.trim()}`);
      await sleep(10);
    }
    return {
      ns, bridge: 'br0', guestIp, peerIp, qmp, telemetry, qemu, pid: qemu.pid!, accel, cgroup, exited, destroy,
      async cont() {
        const c = await QmpClient.connect({ path: driver });
        try {
          await c.execute('cont');
        } finally {
          c.close();
        }
      },
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}
