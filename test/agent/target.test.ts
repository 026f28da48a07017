// resolveTarget for a pidfile: QEMU writes it, so it may name anything; the
// first process it names is refused when it is pid 1, labtel itself or a
// kernel thread. A named pid is the researcher's choice and is not checked.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveTarget } from '../../src/agent/target.js';
import { runEpisode } from '../../src/agent/run-episode.js';
import { executableOf, uidOf } from '../../src/util/executable.js';
import { processIdentity } from '../../src/util/process-identity.js';
import { parseManifest } from '../../src/manifest/load.js';
import { startHostileQmp } from '../helpers/hostile-qmp-target.js';
import { tmpDir } from '../helpers/tmp.js';

const pidfileNaming = (pid: number): string => {
  const f = path.join(tmpDir(), 'qemu.pid');
  fs.writeFileSync(f, `${pid}\n`);
  return f;
};

describe('resolveTarget, pidfile', () => {
  // Regression for: a pidfile naming pid 1, the agent or a kernel thread was watched.
  it.each([
    ['pid 1', () => 1, (f: string) => `target.pidfile: ${f} names pid 1 (${executableOf(1) ?? 'init'}), never a QEMU; refusing to watch it`],
    ['labtel itself', () => process.pid, (f: string) => `target.pidfile: ${f} names pid ${process.pid}, labtel itself; refusing to watch it`],
    ['kthreadd', () => 2, (f: string) => `target.pidfile: ${f} names pid 2, whose executable cannot be read (a kernel thread?); refusing to watch it`],
  ])('naming %s: refused', async (_what, pid, message) => {
    const f = pidfileNaming(pid());
    await expect(resolveTarget({ pidfile: f })).rejects.toThrow(message(f));
  });

  it('naming a live process of any executable: accepted, its executable recorded for the follower', async () => {
    const p = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const f = pidfileNaming(p.pid!);
      // starttime: regression for: nothing recorded which process the checks vouched for, so a collector starting after
      // the pid was reused watched the stranger.
      expect(await resolveTarget({ pidfile: f })).toEqual({ pid: p.pid, pidfile: f, exe: fs.readlinkSync(`/proc/${p.pid}/exe`), starttime: processIdentity(p.pid!)!.starttime });
    } finally {
      p.kill('SIGKILL');
    }
  });

  // regression for: a QEMU running as its own user rewrote its pidfile to name a root process (sshd, cron), and the
  // next `labtel run` watched it: only pid 1, labtel and kernel threads were refused.
  it('written by a user other than root, naming a process of another uid: refused, naming both uids; of its uid: accepted', async () => {
    const root = spawn('sleep', ['60'], { stdio: 'ignore' });
    const own = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sleep', '60'], { stdio: 'ignore' });
    try {
      const f = pidfileNaming(root.pid!);
      fs.chownSync(f, 65534, 65534);
      await expect(resolveTarget({ pidfile: f })).rejects.toThrow(
        `target.pidfile: ${f} names pid ${root.pid} (${executableOf(root.pid!)}), which runs as uid 0, but the pidfile was written by uid 65534, whose QEMU runs as that uid; refusing to watch it`,
      );
      for (let i = 0; uidOf(own.pid!) !== 65534; i++) {
        if (i > 1000) throw new Error(`pid ${own.pid} never dropped to uid 65534`);
        await new Promise((r) => setTimeout(r, 5));
      }
      const g = pidfileNaming(own.pid!);
      fs.chownSync(g, 65534, 65534);
      expect((await resolveTarget({ pidfile: g })).pid).toBe(own.pid);
    } finally {
      root.kill('SIGKILL');
      own.kill('SIGKILL');
    }
  });

  it('a pid target is the researcher\'s: the test runner itself is accepted', async () => {
    expect((await resolveTarget({ pid: process.pid })).pid).toBe(process.pid);
  });
});

describe('runEpisode with a hostile QMP target', () => {
  // Regression for: the episode started and watched the process whose thread a hostile QMP server named.
  it('refuses to start, writes no collector rows, and the server lives on', async () => {
    const victim = spawn('sleep', ['60'], { stdio: 'ignore' });
    const q = await startHostileQmp(victim.pid!);
    const dir = path.join(tmpDir(), 'ep');
    try {
      const m = parseManifest({ output_dir: dir, duration_s: 1, target: { qmp_socket: q.socket }, collectors: { proc: { interval_ms: 50 } } });
      await expect(runEpisode({ manifest: m })).rejects.toThrow(`QEMU named thread ${victim.pid} (process ${victim.pid} (${fs.readlinkSync(`/proc/${victim.pid}/exe`)})) as vCPU 0, but the socket ${q.socket} belongs to pid ${q.pid}`);
      expect(fs.existsSync(path.join(dir, 'telemetry-proc.jsonl'))).toBe(false);
      expect(q.proc.exitCode).toBeNull();
    } finally {
      victim.kill('SIGKILL');
    }
  });
});
