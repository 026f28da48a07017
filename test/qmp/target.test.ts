// Target trust: no QMP peer chooses what labtel watches. The target of a QMP
// socket is the process at its other end (SO_PEERCRED, or /proc/net/unix
// without the addon); every vCPU thread QEMU names must be that process's,
// and its executable must look like QEMU unless target.executables widens it.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveTarget, TargetError } from '../../src/agent/target.js';
import { MAX_VCPUS } from '../../src/qmp/target.js';
import { QmpClient } from '../../src/qmp/client.js';
import { listenerPid, socketPeer } from '../../src/util/socket-peer.js';
import { createRequire } from 'node:module';
import { BUILT_ADDON_PATH, nativeStatus } from '../../src/native/addon.js';
import type { NativeAddon } from '../../src/native/types.js';
import { startHostileQmp } from '../helpers/hostile-qmp-target.js';
import { hasQemu, startQemu } from '../helpers/qemu.js';
import { tmpDir } from '../helpers/tmp.js';

const sleepers: ChildProcess[] = [];
const sleeper = (): ChildProcess => {
  const p = spawn('sleep', ['60'], { stdio: 'ignore' });
  sleepers.push(p);
  return p;
};
const exe = (pid: number) => fs.readlinkSync(`/proc/${pid}/exe`);
const refusal = async (p: Promise<unknown>): Promise<string> => {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err, 'the target was accepted').toBeInstanceOf(TargetError);
  return (err as Error).message;
};

describe('a QMP socket target', () => {
  // Regression for: labtel took the pid from the Tgid of the thread QEMU named as its vCPU, so a
  // compromised QEMU naming another process's thread (here a sleep's) made labtel watch that process.
  it("a QMP server naming another process's thread as its vCPU: refused, naming both pids", async () => {
    const victim = sleeper();
    const q = await startHostileQmp(victim.pid!);
    try {
      const msg = await refusal(resolveTarget({ qmp_socket: q.socket }));
      expect(msg).toBe(
        `target.qmp_socket: QEMU named thread ${victim.pid} (process ${victim.pid} (${exe(victim.pid!)})) as vCPU 0, but the socket ${q.socket} belongs to pid ${q.pid} (${exe(q.pid)}); refusing to watch it`,
      );
      // Widening the executables does not make another process's thread QEMU's.
      expect(await refusal(resolveTarget({ qmp_socket: q.socket, executables: ['node', 'sleep'] }))).toContain(`belongs to pid ${q.pid}`);
      // The server lives on, serving: the refusal came from checking, not from a crash.
      expect(q.proc.exitCode).toBeNull();
    } finally {
      victim.kill('SIGKILL');
    }
  });

  // An iothread is held to the same rule as a vCPU: QEMU may name only its own threads.
  it("a QMP server naming another process's thread as an iothread: refused, naming both pids; its own thread: taken as io", async () => {
    const victim = sleeper();
    const q = await startHostileQmp('self', 1, victim.pid!);
    try {
      const msg = await refusal(resolveTarget({ qmp_socket: q.socket, executables: ['node'] }));
      expect(msg).toBe(
        `target.qmp_socket: QEMU named thread ${victim.pid} (process ${victim.pid} (${exe(victim.pid!)})) as iothread "iothread1", but the socket ${q.socket} belongs to pid ${q.pid} (${exe(q.pid)}); refusing to watch it`,
      );
    } finally {
      victim.kill('SIGKILL');
    }
    const own = await startHostileQmp('self', 1, 'self');
    const t = await resolveTarget({ qmp_socket: own.socket, executables: ['node'] });
    expect(t.io_threads).toEqual({ [String(own.pid)]: 'iothread1' });
    const none = await startHostileQmp('self');
    expect((await resolveTarget({ qmp_socket: none.socket, executables: ['node'] })).io_threads).toEqual({});
  });

  // Regression for: any process answering QMP and naming its own thread was taken as QEMU.
  it('a QMP server naming its own thread, but running node, not QEMU: refused unless target.executables accepts node', async () => {
    const q = await startHostileQmp('self');
    const msg = await refusal(resolveTarget({ qmp_socket: q.socket }));
    expect(msg).toBe(
      `target.qmp_socket: the socket ${q.socket} belongs to pid ${q.pid} (${exe(q.pid)}), which does not look like QEMU (an executable named qemu-system-* or qemu-kvm, or one matching target.executables); refusing to watch it`,
    );
    const widened = await resolveTarget({ qmp_socket: q.socket, executables: [path.basename(exe(q.pid))] });
    expect(widened).toMatchObject({ pid: q.pid, exe: exe(q.pid), vcpu_threads: { [String(q.pid)]: 0 } });
    const byPath = await resolveTarget({ qmp_socket: q.socket, executables: [path.dirname(exe(q.pid)) + '/*'] });
    expect(byPath.pid).toBe(q.pid);
  });

  // Regression for: a pidfile target whose pid was not the qmp collector's socket's peer was only
  // noted (vcpu_note) and watched anyway, though QEMU writes the pidfile and may name anything.
  it('a pidfile target checked against collectors.qmp.socket: refused unless it is the socket\'s peer and looks like QEMU', async () => {
    const q = await startHostileQmp('self');
    const other = sleeper();
    const pidfile = path.join(tmpDir(), 'qemu.pid');
    try {
      fs.writeFileSync(pidfile, `${other.pid}\n`);
      const msg = await refusal(resolveTarget({ pidfile, executables: ['node'] }, { qmpSocket: q.socket }));
      expect(msg).toBe(
        `target.pidfile: ${pidfile} names pid ${other.pid} (${exe(other.pid!)}), but the QMP socket ${q.socket} (collectors.qmp.socket) belongs to pid ${q.pid} (${exe(q.pid)}); refusing to watch it`,
      );
      // The socket's own process, but not QEMU: refused for that.
      fs.writeFileSync(pidfile, `${q.pid}\n`);
      expect(await refusal(resolveTarget({ pidfile }, { qmpSocket: q.socket }))).toContain('which does not look like QEMU');
      const held = await resolveTarget({ pidfile, executables: ['node'] }, { qmpSocket: q.socket });
      expect(held.vcpu_threads).toEqual({ [String(q.pid)]: 0 });
      // regression for: the socket it was checked against was not handed on, so the pidfile follower took on any restart.
      expect(held.qmp_socket).toBe(q.socket);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('a qmp_socket target beside a qmp collector reading another process\'s socket: noted', async () => {
    // regression for: proc and perf watched target.qmp_socket's QEMU while the qmp collector read another QEMU, said nowhere.
    const a = await startHostileQmp('self');
    const b = await startHostileQmp('self');
    const t = await resolveTarget({ qmp_socket: a.socket, executables: ['node'] }, { qmpSocket: b.socket });
    expect(t.pid).toBe(a.pid);
    expect(t.vcpu_note).toBe(
      `collectors.qmp.socket ${b.socket} belongs to pid ${b.pid} (${exe(b.pid)}), not to the target ${a.pid} (target.qmp_socket ${a.socket}): the qmp collector's rows may describe another process than proc and perf watch`,
    );
    expect((await resolveTarget({ qmp_socket: a.socket, executables: ['node'] }, { qmpSocket: a.socket })).vcpu_note).toBeUndefined();
  });

  it("a named pid is the researcher's choice: not refused for another process's QMP socket, whose vCPU threads it does not take", async () => {
    // regression for: vCPU names taken from a QMP socket that is not the target's.
    const q = await startHostileQmp('self');
    const other = sleeper();
    try {
      const t = await resolveTarget({ pid: other.pid!, executables: ['node'] }, { qmpSocket: q.socket });
      expect(t).toMatchObject({ pid: other.pid, vcpu_note: `the QMP socket ${q.socket} belongs to pid ${q.pid} (${exe(q.pid)}), not to the target ${other.pid}: the qmp collector's rows describe pid ${q.pid}, proc and perf watch pid ${other.pid}; vCPU threads not named from it` });
      expect(t.vcpu_threads).toBeUndefined();
      // Its own socket, but a hostile one naming a foreign thread: noted, no vCPU names taken.
      const liar = await startHostileQmp(other.pid!);
      const own = await resolveTarget({ pid: liar.pid, executables: ['node'] }, { qmpSocket: liar.socket });
      expect(own.vcpu_threads).toBeUndefined();
      expect(own.vcpu_note).toContain(`QEMU named thread ${other.pid}`);
    } finally {
      other.kill('SIGKILL');
    }
  });

  // Regression for: each named vCPU thread cost a /proc read and a map entry, however many a QMP server named.
  it('a QMP server naming thousands of vCPUs: refused past MAX_VCPUS, naming the count, with bounded memory; at the bound, accepted', async () => {
    const flood = await startHostileQmp('self', MAX_VCPUS + 1);
    const rss0 = process.memoryUsage().rss;
    expect(await refusal(resolveTarget({ qmp_socket: flood.socket, executables: ['node'] }))).toBe(
      `target.qmp_socket: ${flood.socket}: query-cpus-fast names ${MAX_VCPUS + 1} vCPUs, more than the ${MAX_VCPUS} labtel accepts; refusing to watch it`,
    );
    const atBound = await startHostileQmp('self', MAX_VCPUS);
    const t = await resolveTarget({ qmp_socket: atBound.socket, executables: ['node'] });
    expect(t.pid).toBe(atBound.pid);
    // Every index named the same thread: one thread, its last index.
    expect(t.vcpu_threads).toEqual({ [String(atBound.pid)]: MAX_VCPUS - 1 });
    const grown = process.memoryUsage().rss - rss0;
    expect(grown, `RSS grew by ${grown} bytes`).toBeLessThan(64 << 20);
  });

  it('the pure-TS lookup refuses a /proc/net/unix that lists an inode twice (a socket path holding a newline forges lines)', () => {
    // guards against (new code): a forged line naming another process's socket inode under our socket path.
    const root = tmpDir();
    fs.mkdirSync(path.join(root, 'net'));
    const line = (inode: number, p: string) => `0000000000000000: 00000002 00000000 00010000 0001 01 ${inode} ${p}`;
    fs.writeFileSync(path.join(root, 'net', 'unix'), ['Num       RefCount Protocol Flags    Type St Inode Path', line(100, '/tmp/x'), line(200, '/run/q.sock'), line(200, '/run/other.sock')].join('\n') + '\n');
    expect(() => listenerPid('/run/q.sock', root)).toThrow(`${root}/net/unix lists socket inode 200 more than once`);
    fs.writeFileSync(path.join(root, 'net', 'unix'), ['Num       RefCount Protocol Flags    Type St Inode Path', line(100, '/tmp/x')].join('\n') + '\n');
    expect(() => listenerPid('/run/q.sock', root)).toThrow('no process listens on /run/q.sock');
  });
});

describe.runIf(hasQemu())('a real QEMU', () => {
  it('is accepted, and the native (SO_PEERCRED) and pure-TS (/proc/net/unix) peer lookups agree on its pid', async () => {
    const q = await startQemu();
    const t = await resolveTarget({ qmp_socket: q.qmp });
    expect(t.pid).toBe(q.pid);
    expect(path.basename(t.exe!)).toMatch(/^qemu-system-/);
    const threads = Object.keys(t.vcpu_threads!);
    expect(threads.length).toBeGreaterThan(0);
    for (const tid of threads) expect(fs.existsSync(`/proc/${q.pid}/task/${tid}`)).toBe(true);
    // The differential: both ways, on one connection, to the same answer.
    expect(t.peer_via).toBe(nativeStatus().available ? 'SO_PEERCRED' : '/proc/net/unix');
    // The built addon itself, also when this run uses the pure-TS path (LABTEL_NATIVE=0).
    const addon = createRequire(import.meta.url)(BUILT_ADDON_PATH) as NativeAddon;
    expect(addon.peerCred, 'the addon has no peerCred: rebuild it with npm run build:native').toBeTypeOf('function');
    const c = await QmpClient.connect({ path: q.qmp });
    try {
      const cred = addon.peerCred!(c.fd!);
      const native = 'pid' in cred ? cred.pid : `errno ${cred.errno}`;
      const ts = listenerPid(q.qmp);
      expect({ native, ts }).toEqual({ native: q.pid, ts: q.pid });
      expect(socketPeer(null, q.qmp)).toEqual({ pid: q.pid, via: '/proc/net/unix' });
    } finally {
      c.close();
    }
    // A pidfile naming this QEMU, checked against its socket: accepted with its vCPU threads.
    const pidfile = path.join(tmpDir(), 'qemu.pid');
    fs.writeFileSync(pidfile, `${q.pid}\n`);
    const byPidfile = await resolveTarget({ pidfile }, { qmpSocket: q.qmp });
    expect(byPidfile.vcpu_threads).toEqual(t.vcpu_threads);
    // A pidfile naming another process: refused, naming QEMU as the socket's owner.
    const other = sleeper();
    try {
      fs.writeFileSync(pidfile, `${other.pid}\n`);
      expect(await refusal(resolveTarget({ pidfile }, { qmpSocket: q.qmp }))).toContain(`belongs to pid ${q.pid} (${exe(q.pid)})`);
    } finally {
      other.kill('SIGKILL');
    }
  });
});
