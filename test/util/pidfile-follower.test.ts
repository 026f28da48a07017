// The pidfile follower takes on only a process that could be the restarted
// QEMU: a rewritten pidfile (QEMU's to write, so hostile when QEMU is) naming
// pid 1, labtel itself, a kernel thread or a process of another executable is
// refused, counted and reported, and the follower keeps waiting.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { EpisodeClock } from '../../src/clock/origin.js';
import { procLoop } from '../../src/collectors/proc/run-loop.js';
import { JsonlWriter } from '../../src/rows/jsonl-writer.js';
import { executableOf } from '../../src/util/executable.js';
import { PidfileFollower } from '../../src/util/pidfile-follower.js';
import { startHostileQmp, startHostileQmpAt } from '../helpers/hostile-qmp-target.js';
import { abortAfter, readJsonl, tmpDir } from '../helpers/tmp.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});
const run = (cmd: string, args: string[]): ChildProcess => {
  const p = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'ignore'] });
  children.push(p);
  return p;
};
const sleeper = () => run('sleep', ['60']);
const exited = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));
const exe = (pid: number) => fs.readlinkSync(`/proc/${pid}/exe`);

/** A follower on a sleep that has exited, its pidfile then rewritten to `names`. */
async function afterRewrite(names: number, opts: ConstructorParameters<typeof PidfileFollower>[3] = {}) {
  const pidfile = path.join(tmpDir(), 'qemu.pid');
  const a = sleeper();
  fs.writeFileSync(pidfile, `${a.pid}\n`);
  const messages: string[] = [];
  const f = new PidfileFollower(pidfile, a.pid!, '/proc', { ...opts, onRefused: (m) => messages.push(m) });
  const firstExe = exe(a.pid!);
  a.kill('SIGKILL');
  await exited(a);
  fs.writeFileSync(pidfile, `${names}\n`);
  return { f, pidfile, messages, firstExe };
}

describe('PidfileFollower refuses what a rewritten pidfile names when it cannot be the restarted QEMU', () => {
  // Regression for: the follower took on any live process a rewritten pidfile named.
  it.each([
    ['pid 1', () => 1, 'pid 1 (init), never a QEMU'],
    ['the test runner (labtel itself)', () => process.pid, 'labtel itself'],
    ['kthreadd (a kernel thread)', () => 2, 'its executable cannot be read (a kernel thread?)'],
  ])('%s: refused, counted, reported once, and the next rewrite is still followed', async (_what, pid, why) => {
    const { f, pidfile, messages } = await afterRewrite(pid());
    expect(f.next()).toBeNull();
    expect(f.next()).toBeNull(); // read again: the same rewrite, not refused twice
    expect(f.refused).toBe(1);
    expect(messages).toEqual([`pidfile ${pidfile} was rewritten to name pid ${pid()}: ${why}; not followed (refusal 1), waiting for the next rewrite`]);
    const b = sleeper();
    fs.writeFileSync(pidfile, `${b.pid}\n`);
    expect(f.next()).toMatchObject({ pid: b.pid });
  });

  it('a process of another executable (cat, after a sleep): refused, unless it looks like QEMU or target.executables accepts it', async () => {
    const other = run('cat', []);
    const { f, pidfile, messages, firstExe } = await afterRewrite(other.pid!);
    expect(f.next()).toBeNull();
    expect(messages).toEqual([
      `pidfile ${pidfile} was rewritten to name pid ${other.pid}: it runs ${exe(other.pid!)}, neither the first target's ${firstExe} nor QEMU; not followed (refusal 1), waiting for the next rewrite`,
    ]);
    const widened = await afterRewrite(other.pid!, { executables: ['cat'] });
    expect(widened.f.next()).toMatchObject({ pid: other.pid });
    expect(widened.f.refused).toBe(0);
  });
});

/** A shell that execs `sleep 60` once told to (a line on its stdin): a wrapper before its exec. */
const wrapper = () => run('sh', ['-c', 'read x; exec sleep 60']);
async function execOf(p: ChildProcess, exe: string): Promise<void> {
  p.stdin!.write('go\n');
  for (let i = 0; executableOf(p.pid!) !== exe; i++) {
    if (i > 1000) throw new Error(`pid ${p.pid} never exec'd ${exe}: it runs ${executableOf(p.pid!)}`);
    await sleep(5);
  }
}

describe('PidfileFollower and processes that exec (a wrapper script that writes the pidfile, then execs QEMU)', () => {
  // Regression for: a real libvirt domain restart was reported as a refusal ("it runs /usr/sbin/libvirtd, neither the
  // first target's ... nor QEMU"), counted as the proc collector's error: libvirtd writes the pidfile from its forked
  // child, which execs QEMU only after libvirt's handshake. For a libvirt domain that child is waited for.
  it("a libvirt domain's pidfile naming libvirtd's child before its exec: waited for, not refused; then followed", async () => {
    const dir = tmpDir();
    const fake = path.join(dir, 'libvirtd');
    fs.copyFileSync(exe(sleeper().pid!), fake);
    fs.chmodSync(fake, 0o755);
    const uuid = '6a2977ea-798b-465e-a824-95c569dda7ac';
    const qemuLike = () => run('bash', ['-c', 'sleep 60; :', '-uuid', uuid]); // bash, carrying the domain's -uuid
    const until = async (cond: () => boolean) => {
      for (let i = 0; !cond(); i++) {
        if (i > 1000) throw new Error('never happened');
        await sleep(10);
      }
    };
    const exeIs = (p: ChildProcess, end: string) => () => {
      try {
        return exe(p.pid!).endsWith(end);
      } catch {
        return false;
      }
    };
    const first = qemuLike();
    await until(exeIs(first, '/bash'));
    const pidfile = path.join(dir, 'dom.pid');
    fs.writeFileSync(pidfile, `${first.pid}\n`);
    const messages: string[] = [];
    const f = new PidfileFollower(pidfile, first.pid!, '/proc', { uuid, onRefused: (m) => messages.push(m) });
    first.kill('SIGKILL');
    await exited(first);
    const child = run(fake, ['60']);
    await until(exeIs(child, '/libvirtd'));
    fs.writeFileSync(pidfile, `${child.pid}\n`);
    expect(f.next()).toBeNull();
    expect(messages).toEqual([]);
    expect(f.refused).toBe(0);
    const next = qemuLike();
    await until(exeIs(next, '/bash'));
    fs.writeFileSync(pidfile, `${next.pid}\n`);
    expect(f.next()).toMatchObject({ pid: next.pid });
    expect(f.refused).toBe(0);
  });

  // Guards the executable rule's own pitfall (old code took any process, so it passes there): a process named before its exec refused for good.
  it('a rewrite naming a shell that then execs the first target\'s executable: refused once, then taken on', async () => {
    const sleepExe = exe(sleeper().pid!);
    const w = wrapper();
    const { f, messages } = await afterRewrite(w.pid!);
    expect(f.next()).toBeNull();
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(`neither the first target's ${sleepExe} nor QEMU`);
    await execOf(w, sleepExe);
    expect(f.next()).toMatchObject({ pid: w.pid });
    expect(f.refused).toBe(1); // the same rewrite, counted once
  });

  // Guards the executable rule's own pitfall: the first target read while still its wrapper (or fork) made every restart "another executable".
  it('a first target read before its exec: the reference is read again while it lives, so the restart is followed', async () => {
    const pidfile = path.join(tmpDir(), 'qemu.pid');
    const a = wrapper();
    fs.writeFileSync(pidfile, `${a.pid}\n`);
    const f = new PidfileFollower(pidfile, a.pid!);
    const sleepExe = exe(sleeper().pid!);
    await execOf(a, sleepExe);
    expect(f.superseded()).toBeNull(); // what the collectors call every interval while the target lives
    a.kill('SIGKILL');
    await exited(a);
    const b = sleeper();
    fs.writeFileSync(pidfile, `${b.pid}\n`);
    expect(f.next()).toMatchObject({ pid: b.pid });
    expect(f.refused).toBe(0);
  });
});

describe('proc does not switch to a refused process', () => {
  // Regression for: a pidfile rewritten to name pid 1 made proc sample pid 1 for the rest of the episode.
  it('the pidfile rewritten to name pid 1: no row of pid 1; the next rewrite, a sleep, is followed', async () => {
    const dir = tmpDir();
    const pidfile = path.join(dir, 'qemu.pid');
    const out = path.join(dir, 'telemetry-proc.jsonl');
    const a = sleeper();
    fs.writeFileSync(pidfile, `${a.pid}\n`);
    const writer = new JsonlWriter(out, { availableInDeployment: true });
    const clock = new (class extends EpisodeClock {
      reads = 0;
      override now(): number {
        this.reads++;
        return super.now();
      }
    })(0);
    const stop = new AbortController();
    const bound = abortAfter(20_000);
    const done = procLoop({ pid: a.pid!, pidfile, writer, clock, intervalMs: 20, signal: AbortSignal.any([stop.signal, bound]), sampler: 'ts' });
    const rows = () => (writer.flush(), fs.existsSync(out) ? readJsonl(out) : []);
    const until = async (cond: () => boolean, what: string) => {
      while (!cond()) {
        if (bound.aborted) throw new Error(`never happened: ${what}`);
        await sleep(10);
      }
    };
    try {
      await until(() => rows().length >= 2, 'two rows of the first process');
      a.kill('SIGKILL');
      await exited(a);
      await until(() => rows().some((x) => x.process_event === 'exited'), "proc's exited row");
      const sizeBefore = (writer.flush(), fs.statSync(out).size);
      fs.writeFileSync(pidfile, '1\n');
      const at = clock.reads;
      await until(() => clock.reads >= at + 10, 'ten ticks with the pidfile naming pid 1');
      expect(rows().filter((x) => x.pid === 1)).toEqual([]);
      // Nothing written while it waits: the refused rewrite costs no disk.
      expect(fs.statSync(out).size).toBe(sizeBefore);
      const b = sleeper();
      fs.writeFileSync(pidfile, `${b.pid}\n`);
      await until(() => rows().filter((x) => x.pid === b.pid).length >= 2, 'two rows of the sleep the next rewrite names');
    } finally {
      stop.abort();
      await done.catch(() => {});
      writer.close();
    }
    const all = readJsonl(out);
    expect(all.length).toBeGreaterThan(0);
    const pids = all.map((x) => x.pid).filter((x, i, l) => i === 0 || x !== l[i - 1]);
    expect(pids).toEqual([a.pid, children[1]!.pid]);
  });
});

describe('PidfileFollower holds a rewrite to the QMP socket (collectors.qmp.socket), as resolveTarget holds the first target', () => {
  // regression for: a compromised QEMU rewrote its pidfile to name a neighbour's QEMU (same executable, same uid, as under
  // libvirt) and exited; the follower took the neighbour on, so proc and perf watched a VM whose QMP socket is not ours.
  it('a rewrite naming a process that does not listen on the QMP socket is refused, naming the socket and its owner; the restarted listener is followed', async () => {
    const a = await startHostileQmp('self');
    const neighbour = await startHostileQmp('self'); // another QEMU of the same executable and uid, on its own socket
    const pidfile = path.join(tmpDir(), 'qemu.pid');
    fs.writeFileSync(pidfile, `${a.pid}\n`);
    const messages: string[] = [];
    const f = new PidfileFollower(pidfile, a.pid, '/proc', { qmpSocket: a.socket, onRefused: (m) => messages.push(m) });
    // The compromised QEMU names its neighbour, and goes.
    fs.writeFileSync(pidfile, `${neighbour.pid}\n`);
    a.proc.kill('SIGKILL');
    await exited(a.proc);
    // No one listens on the socket yet: nothing is taken on, and this is not a refusal (QEMU writes its pidfile before it listens).
    expect(f.next()).toBeNull();
    expect(f.refused).toBe(0);
    // A process listens on the socket again (the restart), but the pidfile still names the neighbour.
    const again = await startHostileQmpAt(a.socket);
    expect(f.next()).toBeNull();
    expect(f.refused).toBe(1);
    expect(messages).toEqual([
      `pidfile ${pidfile} was rewritten to name pid ${neighbour.pid}: the QMP socket ${a.socket} (collectors.qmp.socket) belongs to pid ${again.pid} (${exe(again.pid)}), not to it; not followed (refusal 1), waiting for the next rewrite`,
    ]);
    fs.writeFileSync(pidfile, `${again.pid}\n`);
    expect(f.next()).toMatchObject({ pid: again.pid });
  });
});

describe('PidfileFollower and a QEMU that drops to its own user (-run-with user=, libvirt-qemu)', () => {
  // regression for: the first target's uid was read once, while it still ran as root (QEMU writes its pidfile before it
  // drops privileges), so every restart, running as its user, was refused as "another uid" for the rest of the episode.
  it('the first target read before its drop: the restart, running as that user, is followed', async () => {
    const pidfile = path.join(tmpDir(), 'qemu.pid');
    const a = run('sh', ['-c', 'read x; exec setpriv --reuid=65534 --regid=65534 --clear-groups sleep 60']);
    fs.writeFileSync(pidfile, `${a.pid}\n`);
    const sleepExe = exe(sleeper().pid!);
    const f = new PidfileFollower(pidfile, a.pid!, '/proc', { exe: sleepExe }); // as the agent resolved it
    await execOf(a, sleepExe);
    expect(f.superseded()).toBeNull(); // what the collectors call every interval while the target lives
    a.kill('SIGKILL');
    await exited(a);
    const b = run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sleep', '60']);
    for (let i = 0; executableOf(b.pid!) !== sleepExe; i++) {
      if (i > 1000) throw new Error(`pid ${b.pid} never exec'd ${sleepExe}`);
      await sleep(5);
    }
    fs.writeFileSync(pidfile, `${b.pid}\n`);
    expect(f.next(), String(f.lastRefusal)).toMatchObject({ pid: b.pid });
    expect(f.refused).toBe(0);
  });
});
