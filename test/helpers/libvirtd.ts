// A transient, paused TCG domain of the test's own on the running libvirtd
// (qemu:///system): the test guest's kernel and initramfs, 128 MiB, 2 vCPUs,
// taps libvirt makes (type ethernet, named ltg<hex>), labtel's telemetry
// channel (unix, bind, in a temp directory) and the guest agent's channel.
// Destroyed by destroyDomains() (each test file's afterAll); a transient
// domain leaves nothing behind once destroyed (libvirt removes its taps).
// Outside CI, no libvirtd skips; under CI it throws (programs.ts available()).
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildGuest } from '../../src/lab/vm-guest.js';
import { ROOT } from './cli.js';
import { hasLibvirtd as hasLibvirtdAt } from './libvirt.js';
import { available, isRoot } from './programs.js';

export const LIBVIRT_URI = 'qemu:///system';

let images: { kernel: string; initrd: string } | null | undefined;
/** The test guest's kernel and initramfs (scripts/build-test-guest.sh, cached in build-guest/), null when it cannot be built. */
export function guestImages(): { kernel: string; initrd: string } | null {
  if (images === undefined) {
    try {
      images = buildGuest(ROOT);
    } catch {
      images = null;
    }
  }
  return images;
}

let seen: boolean | undefined;
/** Whether a libvirtd answers on qemu:///system (libvirt.ts), as root, with the test guest built; under CI a no throws. */
export function hasLibvirtd(): boolean {
  if (seen === undefined) {
    seen = hasLibvirtdAt(LIBVIRT_URI) && isRoot();
    if (seen) seen = available(guestImages() !== null, 'the test guest could not be built (scripts/build-test-guest.sh)');
  }
  return seen;
}

export const virsh = (...args: string[]): string => execFileSync('virsh', ['-q', '-c', LIBVIRT_URI, ...args], { encoding: 'utf8', timeout: 30_000 });

export interface TestDomain {
  name: string;
  uuid: string;
  /** The taps libvirt made for it. */
  taps: string[];
  /** Host end of its org.labtel.telemetry.0 channel (QEMU binds it), when it has one. */
  telemetry: string | null;
  dir: string;
  pidfile: string;
  pid(): number;
}

const made: TestDomain[] = [];
const defined: TestDomain[] = [];

export interface DomainOptions {
  /** How many taps (default 1). */
  taps?: number;
  telemetry?: boolean;
  qga?: boolean;
  /** Define it (persistent) without starting it: a domain that is not running. */
  defineOnly?: boolean;
}

export function domainXml(name: string, uuid: string, dir: string, taps: string[], o: DomainOptions): string {
  const img = guestImages()!;
  const ifaces = taps.map((t) => `<interface type='ethernet'><target dev='${t}'/><model type='virtio'/></interface>`).join('\n    ');
  const tel = o.telemetry === false ? '' : `<channel type='unix'><source mode='bind' path='${dir}/tel.sock'/><target type='virtio' name='org.labtel.telemetry.0'/></channel>`;
  const qga = o.qga === false ? '' : `<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>`;
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='MiB'>128</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>${img.kernel}</kernel><initrd>${img.initrd}</initrd><cmdline>console=ttyS0 quiet</cmdline></os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    ${ifaces}
    ${tel}
    ${qga}
    <serial type='pty'/>
  </devices>
</domain>`;
}

/** A new domain, started paused (or only defined), named lvtarget-<hex>. */
export function startDomain(o: DomainOptions = {}): TestDomain {
  const hex = crypto.randomBytes(3).toString('hex');
  const name = `lvtarget-${hex}`;
  const uuid = crypto.randomUUID();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvtarget-dom-'));
  const taps = Array.from({ length: o.taps ?? 1 }, (_, i) => `ltg${hex}${i}`);
  const file = path.join(dir, 'domain.xml');
  fs.writeFileSync(file, domainXml(name, uuid, dir, taps, o));
  const pidfile = `/run/libvirt/qemu/${name}.pid`;
  const d: TestDomain = {
    name,
    uuid,
    taps,
    telemetry: o.telemetry === false ? null : path.join(dir, 'tel.sock'),
    dir,
    pidfile,
    pid: () => Number(fs.readFileSync(pidfile, 'latin1').trim()),
  };
  if (o.defineOnly) {
    defined.push(d);
    virsh('define', file);
  } else {
    made.push(d); // before create: a failed start leaves its directory to remove too
    virsh('create', file, '--paused');
  }
  return d;
}

/** Destroys the domain and creates it again from the same XML (same name and uuid), paused: a restart under a new pid. */
export function restartDomain(d: TestDomain): void {
  virsh('destroy', d.name);
  virsh('create', path.join(d.dir, 'domain.xml'), '--paused');
}

/** Destroys every domain startDomain created (and undefines the defined ones), removing their directories. */
export function destroyDomains(): void {
  const errors: string[] = [];
  for (const d of made.splice(0)) {
    const r = spawnSync('virsh', ['-q', '-c', LIBVIRT_URI, 'destroy', d.name], { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0 && !/not found|failed to get domain/.test(r.stderr)) errors.push(`virsh destroy ${d.name}: ${r.stderr.trim()}`);
    fs.rmSync(d.dir, { recursive: true, force: true });
  }
  for (const d of defined.splice(0)) {
    spawnSync('virsh', ['-q', '-c', LIBVIRT_URI, 'undefine', d.name], { stdio: 'ignore', timeout: 30_000 });
    fs.rmSync(d.dir, { recursive: true, force: true });
  }
  if (errors.length) throw new Error(errors.join('\n'));
}
