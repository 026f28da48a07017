// SO_PEERCRED names the process that called listen(), and keeps naming its pid
// after it has exited: a hostile QEMU that listens, forks, and lets its parent
// go leaves a pid that the kernel hands to the next process that gets it. The
// native peer lookup must not vouch for that pid; the pure-TS lookup names the
// process that holds the socket now, and both must give the same answer.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { BUILT_ADDON_PATH } from '../../src/native/addon.js';
import { peerPidFrom } from '../../src/native/peer-cred.js';
import type { NativeAddon } from '../../src/native/types.js';
import { qmpTarget } from '../../src/qmp/target.js';
import { executableOf } from '../../src/util/executable.js';
import { tmpDir } from '../helpers/tmp.js';

// A QMP server that listens, then forks: the child serves (naming as vCPU 0 the thread
// the test chooses, or its own), the parent exits. Prints "ready <child> <parent>".
const SERVER = String.raw`
import json, os, socket, sys
path, named = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(8)
parent = os.getpid()
if os.fork() != 0:
    os._exit(0)
print('ready', os.getpid(), parent, flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b'{"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": ""}, "capabilities": []}}\n')
    for line in c.makefile('rb'):
        m = json.loads(line)
        tid = os.getpid() if named == 'self' else int(named) if named != 'parent' else parent
        ret = [{"cpu-index": 0, "thread-id": tid}] if m.get('execute') == 'query-cpus-fast' else {}
        c.sendall((json.dumps({"return": ret, "id": m.get('id')}) + "\n").encode())
    c.close()
`;

const procs: number[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const p of procs.splice(0)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {}
  }
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** `zombie`: the parent is left unreaped (its own parent, a sleep, never waits), as under a supervisor that has not reaped it yet. */
async function forkedServer(named: 'self' | 'parent', zombie = false): Promise<{ socket: string; child: number; parent: number }> {
  const socket = path.join(tmpDir('labtel-rb-'), 'qmp.sock');
  const p = zombie
    ? spawn('sh', ['-c', 'python3 -c "$0" "$1" "$2" & exec sleep 60', SERVER, socket, named], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn('python3', ['-c', SERVER, socket, named], { stdio: ['ignore', 'pipe', 'inherit'] });
  if (zombie) children.push(p);
  const line: string = await new Promise((resolve, reject) => {
    let out = '';
    p.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out);
    });
    p.once('error', reject);
  });
  const [, child, parent] = line.trim().split(' ').map(Number);
  procs.push(child!);
  while (fs.existsSync(`/proc/${parent}/stat`) && !/\) Z /.test(fs.readFileSync(`/proc/${parent}/stat`, 'latin1'))) await sleep(5);
  if (!zombie) await new Promise((r) => (p.exitCode !== null ? r(null) : p.once('exit', r)));
  return { socket, child: child!, parent: parent! };
}

const addon = createRequire(import.meta.url)(BUILT_ADDON_PATH) as NativeAddon;
const native = (fd: number, what: string) => peerPidFrom(addon, fd, what);

describe('a QMP socket whose listening process has exited (forked, fd kept by the child)', () => {
  // regression for: SO_PEERCRED named the exited parent, so native refused ("belongs to pid P (executable unreadable)")
  // where the pure-TS lookup accepted the child: the two paths gave different verdicts.
  it('native and pure TS both name the child that holds the socket now', async () => {
    expect(addon.peerCred, 'the addon has no peerCred: rebuild it with npm run build:native').toBeTypeOf('function');
    const s = await forkedServer('self');
    const viaNative = await qmpTarget(s.socket, '/proc', { executables: ['python*'], peerOf: native });
    const viaTs = await qmpTarget(s.socket, '/proc', { executables: ['python*'] });
    expect({ native: viaNative.pid, ts: viaTs.pid }).toEqual({ native: s.child, ts: s.child });
    expect(viaNative.via).toBe('/proc/net/unix'); // SO_PEERCRED could not vouch for a live peer
  });

  // regression for: a listener that has exited but is not reaped yet (a zombie) still has its pid and a pidfd, so
  // SO_PEERCRED named it and native refused where the pure-TS lookup named the child holding the socket.
  it('the parent a zombie: native and pure TS both name the child', async () => {
    const s = await forkedServer('self', true);
    expect(fs.readFileSync(`/proc/${s.parent}/stat`, 'latin1')).toMatch(/\) Z /);
    const viaNative = await qmpTarget(s.socket, '/proc', { executables: ['python*'], peerOf: native }).then((t) => t.pid, (e: Error) => e.message);
    const viaTs = await qmpTarget(s.socket, '/proc', { executables: ['python*'] }).then((t) => t.pid, (e: Error) => e.message);
    expect({ native: viaNative, ts: viaTs }).toEqual({ native: s.child, ts: s.child });
  });

  // regression for: the exited parent's pid, given to the next process, was taken as the socket's peer: the child
  // named that process's thread as its vCPU, and labtel accepted to watch it (a neighbour's QEMU would pass the
  // executable check; a sleep stands in for it here, accepted through target.executables).
  it('its pid reused by another process: that process is not taken as the peer', async () => {
    const s = await forkedServer('parent');
    // Hand the parent's pid to a victim, as pid reuse does (pid_max is 32768 here: a fork loop wraps it in seconds).
    let victim: ChildProcess | null = null;
    for (let i = 0; i < 50 && victim === null; i++) {
      fs.writeFileSync('/proc/sys/kernel/ns_last_pid', String(s.parent - 1));
      const v = spawn('sleep', ['60'], { stdio: 'ignore' });
      children.push(v);
      if (v.pid === s.parent) victim = v;
      else v.kill('SIGKILL');
    }
    expect(victim, `pid ${s.parent} was never handed to the victim`).not.toBeNull();
    await sleep(50); // the victim's exec of sleep
    expect(executableOf(s.parent)).toMatch(/sleep$/);
    const refused = await qmpTarget(s.socket, '/proc', { executables: ['python*', 'sleep'], peerOf: native }).then(
      (t) => `accepted pid ${t.pid} (${executableOf(t.pid)})`,
      (e: Error) => e.message,
    );
    expect(refused).toBe(
      `QEMU named thread ${s.parent} (process ${s.parent} (${executableOf(s.parent)})) as vCPU 0, but the socket ${s.socket} belongs to pid ${s.child} (${executableOf(s.child)}); refusing to watch it`,
    );
  });
});
