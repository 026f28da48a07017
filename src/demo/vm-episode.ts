// One episode with all six collectors against a real booted guest (see
// src/lab/vm-guest.ts), from a manifest that names only the QMP socket, the
// bridge and the guest channel: the pid and the vCPU threads come through
// QMP. The agent runs inside the guest's network namespace (where its bridge
// is), as `labtel run`; the guest is let run once the agent records, and the
// episode is stopped once the guest has powered itself off.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PACKAGE_ROOT } from '../util/package-root.js';
import { which } from '../util/which.js';
import { writeFileNoFollow } from '../util/safe-file.js';
import { buildGuest, startVmGuest, type VmGuest } from '../lab/vm-guest.js';

export interface VmEpisode {
  dir: string;
  guest: Pick<VmGuest, 'guestIp' | 'peerIp' | 'pid' | 'accel'>;
  /** labtel run's exit status. */
  code: number | null;
  /** What labtel run printed. */
  stdout: string;
}

export async function runVmEpisode(o: { outputDir: string; seconds?: number; log?: (l: string) => void; signal?: AbortSignal }): Promise<VmEpisode> {
  const log = o.log ?? (() => {});
  const seconds = o.seconds ?? 6;
  log('building the test guest (cached after the first time)');
  const { kernel, initrd } = buildGuest(PACKAGE_ROOT);
  const vm = await startVmGuest({ kernel, initrd, seconds });
  log(`QEMU pid ${vm.pid} (${vm.accel}), guest ${vm.guestIp} on br0 in namespace ${vm.ns}`);
  // Its own cgroup, so that host_cgroup's pressure and usage are QEMU's; else the rows say cgroup_root (host-wide).
  log('dir' in vm.cgroup ? `QEMU in cgroup ${vm.cgroup.dir}` : `QEMU stays in the cgroup it started in: ${vm.cgroup.why}`);
  // The manifest lives in a directory of its own (mkdtemp: 0700, a name no one can guess), not at a fixed name beside the episode where a symlink could wait for it.
  const manifestDir = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-demo-vm-'));
  const manifestFile = path.join(manifestDir, 'manifest.json');
  let agent: ReturnType<typeof spawn> | null = null;
  const timers = new AbortController(); // ends the waits below, whichever way this returns
  const aborted = new Promise<'aborted'>((resolve) => {
    if (o.signal?.aborted) resolve('aborted');
    o.signal?.addEventListener('abort', () => resolve('aborted'), { once: true });
  });
  try {
    writeFileNoFollow(
      manifestFile,
      JSON.stringify({
        episode: 'demo-vm',
        output_dir: path.resolve(o.outputDir),
        // A backstop: the episode is stopped after the guest powers off, and in any case by then.
        duration_s: seconds + 120,
        target: { qmp_socket: vm.qmp },
        collectors: {
          proc: { interval_ms: 100, threads: true },
          perf: { interval_ms: 200 },
          pcap: { iface: vm.bridge, interval_ms: 500 },
          netflow: { bucket_ms: 100, guest_ip: vm.guestIp },
          qmp: { socket: vm.qmp, interval_ms: 500 },
          guest_agent: { socket: vm.telemetry, mode: 'connect', interval_ms: 500 },
        },
      }),
      'create',
    );
    // The agent dies with the demo (setpriv's parent-death signal, kept through ip netns exec's exec), and its own
    // children with it: otherwise a killed demo left an agent recording until duration_s.
    const setpriv = which('setpriv');
    if (!setpriv) throw new Error('setpriv is not installed (Debian: util-linux): without it the agent could outlive the demo');
    // ip netns exec remounts /sys for the namespace (so that /sys/class/net is its own), and the cgroup mounts under
    // /sys/fs/cgroup go with it: the cgroup v2 hierarchy is mounted again in its private mount namespace (the same
    // hierarchy, not seen by the host), so that proc's host_cgroup rows can read QEMU's cgroup.
    const mountCgroup = 'mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null; exec "$@"';
    const a = spawn(setpriv, ['--pdeathsig', 'KILL', '--', 'ip', 'netns', 'exec', vm.ns, 'sh', '-c', mountCgroup, 'sh', process.execPath, path.join(PACKAGE_ROOT, 'bin', 'labtel.js'), 'run', manifestFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    agent = a;
    let stdout = '';
    a.stdout!.on('data', (d) => (stdout += d));
    a.stderr!.on('data', (d: Buffer) => d.toString().split('\n').filter(Boolean).forEach((l) => log(l.replace(/^labtel: /, 'agent: '))));
    const agentExit = new Promise<number | null>((resolve) => a.once('exit', (code) => resolve(code)));
    // Let the guest run once every collector records (the qmp collector's first poll is the last to come).
    const qmpRows = path.join(o.outputDir, 'telemetry-qmp.jsonl');
    for (let i = 0; !(fs.existsSync(qmpRows) && fs.statSync(qmpRows).size > 0); i++) {
      if (i > 1500 || a.exitCode !== null || o.signal?.aborted) throw new Error(o.signal?.aborted ? 'interrupted' : `the agent did not start recording: ${stdout}`);
      await sleep(20);
    }
    await vm.cont();
    log('guest running');
    // The guest powers itself off after `seconds`; one that does not (stuck, or a broken accelerator) is killed.
    const limit = sleep((seconds + 90) * 1000, 'late' as const, { signal: timers.signal }).catch(() => 'cancelled' as const);
    const ended = await Promise.race([vm.exited.then(() => 'off' as const), agentExit.then(() => 'agent' as const), limit, aborted]);
    if (ended === 'late') {
      log('the guest did not power off in time: killing QEMU');
      vm.qemu.kill('SIGKILL');
      await vm.exited;
    } else if (ended === 'off') {
      log('guest powered off; stopping the episode');
      await sleep(1000); // the last buckets and rows of the power-off
    }
    a.kill('SIGTERM');
    const code = await agentExit;
    agent = null;
    return { dir: path.resolve(o.outputDir), guest: { guestIp: vm.guestIp, peerIp: vm.peerIp, pid: vm.pid, accel: vm.accel }, code, stdout };
  } finally {
    timers.abort();
    if (agent && agent.exitCode === null && agent.signalCode === null) {
      // Interrupted or failed: the agent is stopped cleanly (it writes its summary), killed if it lingers.
      const a = agent;
      a.kill('SIGTERM');
      const gone = new Promise((resolve) => a.once('exit', resolve));
      const late = new Promise((resolve) => setTimeout(resolve, 10_000, 'late').unref());
      if ((await Promise.race([gone, late])) === 'late') a.kill('SIGKILL');
    }
    fs.rmSync(manifestDir, { recursive: true, force: true });
    await vm.destroy();
  }
}
