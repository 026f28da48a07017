// What `labtel demo --vm` starts dies with it (issue 17 point 5): the real
// QEMU of src/lab/vm-guest.ts, started paused (-S) by a process that is then
// SIGKILLed, must go; a paused QEMU never ends by itself.
//
// Regression for: QEMU was spawned through `ip netns exec` with no
// parent-death signal, and a killed demo (or test) left it running for good.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { canMakeNetns } from '../helpers/netns.js';
import { has } from '../helpers/programs.js';
import { waitFor } from '../helpers/wait.js';

function identity(pid: number): { starttime: string; state: string } | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0]!, starttime: f[19]! };
  } catch {
    return null;
  }
}

/** Starts the demo's guest as `labtel demo --vm` does (paused), prints QEMU's pid, its namespace and its directory, and waits. */
const STARTER = `
import { buildGuest, startVmGuest } from './src/lab/vm-guest.ts';
import path from 'node:path';
const { kernel, initrd } = buildGuest(process.cwd());
const vm = await startVmGuest({ kernel, initrd, seconds: 600 });
console.log(JSON.stringify({ pid: vm.pid, ns: vm.ns, dir: path.dirname(vm.qmp), cgroup: 'dir' in vm.cgroup ? vm.cgroup.dir : null }));
setInterval(() => {}, 1000);
`;

const ready = canMakeNetns() && has('qemu-system-x86_64') && has('setpriv') && has('apt-get');

describe.skipIf(!ready)("the demo's children", () => {
  it('a paused QEMU of the demo guest is gone after its starter is SIGKILLed', { timeout: 240_000 }, async () => {
    const starter = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', STARTER], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    starter.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    starter.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<string>((resolve) => starter.once('exit', (code, signal) => resolve(signal ?? String(code))));
    let vm: { pid: number; ns: string; dir: string; cgroup: string | null } | null = null;
    try {
      vm = await waitFor(() => {
        if (starter.exitCode !== null) throw new Error(`the starter exited ${starter.exitCode}: ${err}`);
        return out.includes('\n') ? (JSON.parse(out.split('\n')[0]!) as { pid: number; ns: string; dir: string; cgroup: string | null }) : false;
      }, "QEMU's pid from the starter");
      const qemu = identity(vm.pid);
      expect(qemu, `QEMU pid ${vm.pid} is not there`).not.toBeNull();
      expect(fs.readFileSync(`/proc/${vm.pid}/comm`, 'utf8').trim()).toBe('qemu-system-x86');
      starter.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      // Bounded (a wait that fails naming what is left, not a timing claim).
      const lives = () => {
        const now = identity(vm!.pid);
        return now !== null && now.starttime === qemu!.starttime && now.state !== 'Z';
      };
      for (const end = performance.now() + 20_000; lives() && performance.now() < end; ) await sleep(20);
      const left = lives() ? fs.readFileSync(`/proc/${vm.pid}/status`, 'utf8').split('\n').filter((l) => /^(Name|State|PPid):/.test(l)).join('; ') : null;
      if (left) process.kill(vm.pid, 'SIGKILL');
      expect(left, `QEMU pid ${vm.pid} still runs 20 s after the demo's process was SIGKILLed`).toBeNull();
    } finally {
      if (starter.exitCode === null && starter.signalCode === null) starter.kill('SIGKILL');
      // What the killed starter could not remove: its namespace, directory and QEMU's (now empty) cgroup.
      if (vm) {
        spawnSync('ip', ['netns', 'del', vm.ns], { stdio: 'ignore' });
        fs.rmSync(vm.dir, { recursive: true, force: true });
        for (let i = 0; vm.cgroup && i < 100 && fs.existsSync(vm.cgroup); i++) {
          if (spawnSync('rmdir', [vm.cgroup]).status !== 0) await sleep(20); // (QEMU may take a moment to leave it)
        }
      }
    }
  });
});
