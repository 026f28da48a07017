// A real QEMU for tests: qemu-system-x86_64 under TCG, paused (-S), with a
// small raw virtio drive and two QMP sockets (one for the collector, one for
// the test to drive QEMU with). Killed after the test.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach } from 'vitest';
import { QmpClient } from '../../src/qmp/client.js';
import { available, has } from './programs.js';
import { tmpDir } from './tmp.js';

/** Whether qemu-system-x86_64 runs here (under CI its absence throws: see programs.ts). */
export const hasQemu = (): boolean => has('qemu-system-x86_64');

export interface TestQemu {
  proc: ChildProcess;
  pid: number;
  /** The collector's QMP socket. */
  qmp: string;
  /** The test's own QMP socket, to drive QEMU (cont, quit, ...). */
  driver: QmpClient;
  exited: Promise<void>;
}

const started: ChildProcess[] = [];
afterEach(() => {
  for (const p of started.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

/** `args` are added to QEMU's command line (more vCPUs, an iothread, -name ...,debug-threads=on). */
export async function startQemu(opts: { args?: readonly string[] } = {}): Promise<TestQemu> {
  const dir = tmpDir('labtel-qemu-');
  const disk = path.join(dir, 'disk.raw');
  fs.writeFileSync(disk, Buffer.alloc(1 << 20));
  const qmp = path.join(dir, 'qmp.sock');
  const drive = path.join(dir, 'drive.sock');
  const proc = spawn(
    'qemu-system-x86_64',
    ['-machine', 'pc,accel=tcg', '-S', '-nodefaults', '-display', 'none', '-m', '64',
      '-drive', `file=${disk},format=raw,if=virtio,id=disk0`,
      '-qmp', `unix:${qmp},server=on,wait=off`, '-qmp', `unix:${drive},server=on,wait=off`, ...(opts.args ?? [])],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  started.push(proc);
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  for (let i = 0; !(fs.existsSync(qmp) && fs.existsSync(drive)); i++) {
    if (proc.exitCode !== null || i > 500) throw new Error(`QEMU did not start: ${stderr}`);
    await sleep(10);
  }
  const driver = await QmpClient.connect({ path: drive });
  return { proc, pid: proc.pid!, qmp, driver, exited };
}

/** Whether KVM is usable here (/dev/kvm opens read-write) and QEMU runs; under CI its absence throws (CI machines have /dev/kvm). */
export const hasKvm = (): boolean => {
  let ok = false;
  try {
    fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
    ok = true;
  } catch {
    // no KVM here
  }
  return hasQemu() && available(ok, '/dev/kvm is missing or not usable');
};
