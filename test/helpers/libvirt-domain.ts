// A real libvirt domain for tests: a transient, paused TCG domain (no guest
// runs) on the local libvirtd, with a QMP socket of its own beside libvirt's
// monitor (<qemu:commandline>), so a test can hold what labtel reads through
// libvirt against what QEMU answers directly. Destroyed after each test.
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach } from 'vitest';
import { DEFAULT_LIBVIRT_URI } from '../../src/libvirt/ref.js';
import { tmpDir } from './tmp.js';

export { hasLibvirtd } from './libvirt.js';
export const TEST_URI = DEFAULT_LIBVIRT_URI;

export interface ProbeDomain {
  name: string;
  pid: number;
  /** QEMU's own QMP socket beside libvirt's monitor. */
  qmp: string;
  virsh(...args: string[]): string;
  destroy(): void;
}

const made: ProbeDomain[] = [];
afterEach(() => {
  for (const d of made.splice(0)) d.destroy();
});

export async function startProbeDomain(): Promise<ProbeDomain> {
  const dir = tmpDir('labtel-lvd-');
  fs.chmodSync(dir, 0o755);
  const name = `labtel-t-${crypto.randomBytes(4).toString('hex')}`;
  const qmp = path.join(dir, 'qmp.sock');
  const disk = path.join(dir, 'disk.raw');
  fs.writeFileSync(disk, Buffer.alloc(1 << 20));
  const xml = `<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
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
`;
  fs.writeFileSync(path.join(dir, 'domain.xml'), xml);
  const virsh = (...args: string[]) => execFileSync('virsh', ['-q', '-c', TEST_URI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  virsh('create', path.join(dir, 'domain.xml'), '--paused');
  const d: ProbeDomain = {
    name,
    pid: 0,
    qmp,
    virsh,
    destroy: () => {
      spawnSync('virsh', ['-q', '-c', TEST_URI, 'destroy', name], { stdio: 'ignore' });
    },
  };
  made.push(d);
  for (let i = 0; !fs.existsSync(qmp); i++) {
    if (i > 500) throw new Error(`the domain ${name} started, but its QMP socket ${qmp} did not appear`);
    await sleep(10);
  }
  d.pid = Number(fs.readFileSync(`/run/libvirt/qemu/${name}.pid`, 'utf8').trim());
  return d;
}
