// A transient, paused TCG libvirt domain that runs no guest, for measuring and
// testing QMP through libvirt: 2 vCPUs, a 1 MiB raw virtio disk, a balloon
// whose statistics period libvirt sets (<stats period='1'/>), and a QMP
// socket of QEMU's own beside libvirt's monitor (<qemu:commandline>), so that
// what comes through libvirt can be held to what QEMU answers directly.
// (libvirt marks such a domain tainted, "custom-argv"; it is a lab domain.)
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_LIBVIRT_URI } from '../libvirt/ref.js';

export interface ProbeDomain {
  name: string;
  uri: string;
  /** QEMU's pid, from libvirt's pidfile. */
  pid: number;
  /** QEMU's own QMP socket beside libvirt's monitor. */
  qmp: string;
  /** `virsh -q -c URI ...args`, its stdout. */
  virsh(...args: string[]): string;
  /** `virsh destroy` (nothing when the domain is gone already) and its files removed. */
  destroy(): void;
  /** Destroys the domain and starts it again from the same XML under the same name (another QEMU: a new id and pid). */
  restart(): Promise<void>;
}

/** `name`: the domain's name (default: `prefix` and a random suffix). */
export async function startProbeDomain(o: { prefix?: string; name?: string; uri?: string } = {}): Promise<ProbeDomain> {
  const uri = o.uri ?? DEFAULT_LIBVIRT_URI;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-lvd-'));
  fs.chmodSync(dir, 0o755);
  const name = o.name ?? `${o.prefix ?? 'labtel-probe-'}${crypto.randomBytes(4).toString('hex')}`;
  const qmp = path.join(dir, 'qmp.sock');
  const disk = path.join(dir, 'disk.raw');
  fs.writeFileSync(disk, Buffer.alloc(1 << 20));
  fs.writeFileSync(
    path.join(dir, 'domain.xml'),
    `<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>
    <memballoon model='virtio'><stats period='1'/></memballoon>
  </devices>
  <qemu:commandline><qemu:arg value='-qmp'/><qemu:arg value='unix:${qmp},server=on,wait=off'/></qemu:commandline>
</domain>
`,
  );
  const virsh = (...args: string[]) => execFileSync('virsh', ['-q', '-c', uri, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const destroy = () => {
    spawnSync('virsh', ['-q', '-c', uri, 'destroy', name], { stdio: 'ignore' });
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const started = async (): Promise<number> => {
    virsh('create', path.join(dir, 'domain.xml'), '--paused');
    for (let i = 0; !fs.existsSync(qmp); i++) {
      if (i > 500) throw new Error(`the domain ${name} started, but its QMP socket ${qmp} did not appear`);
      await sleep(10);
    }
    return Number(fs.readFileSync(`/run/libvirt/qemu/${name}.pid`, 'utf8').trim());
  };
  try {
    const d: ProbeDomain = {
      name,
      uri,
      pid: await started(),
      qmp,
      virsh,
      destroy,
      async restart() {
        virsh('destroy', name);
        fs.rmSync(qmp, { force: true });
        d.pid = await started();
      },
    };
    return d;
  } catch (err) {
    destroy();
    throw err;
  }
}
