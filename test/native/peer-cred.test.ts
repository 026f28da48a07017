// peerCred (SO_PEERCRED) in the addon: the process at the other end of a
// connected unix socket, or the errno, never a guess.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nativeAddon } from '../../src/native/addon.js';
import { nativePeerPid } from '../../src/native/peer-cred.js';
import { listenerPid } from '../../src/util/socket-peer.js';
import { startHostileQmp } from '../helpers/hostile-qmp-target.js';
import { tmpDir } from '../helpers/tmp.js';

const fdOf = (s: net.Socket): number => (s as unknown as { _handle: { fd: number } })._handle.fd;
const connect = (p: string) =>
  new Promise<net.Socket>((resolve, reject) => {
    const s = net.createConnection({ path: p }, () => resolve(s));
    s.once('error', reject);
  });

describe('native peerCred', () => {
  // Regression for: Node has no SO_PEERCRED, so nothing told who was at the other end of the QMP socket.
  it("names the listening process (another process's server), as the pure-TS lookup does", async () => {
    const addon = nativeAddon();
    expect(addon?.peerCred, 'the addon has no peerCred: rebuild it with npm run build:native').toBeTypeOf('function');
    const q = await startHostileQmp('self');
    const s = await connect(q.socket);
    try {
      expect(addon!.peerCred!(fdOf(s))).toEqual({ pid: q.pid, uid: process.getuid!(), gid: process.getgid!() });
      expect(nativePeerPid(fdOf(s), q.socket)).toBe(listenerPid(q.socket));
    } finally {
      s.destroy();
    }
  });

  it('a server in this process: its own pid', async () => {
    const p = path.join(tmpDir(), 's.sock');
    const server = net.createServer((c) => c.on('error', () => {})).listen(p);
    await new Promise((r) => server.once('listening', r));
    const s = await connect(p);
    try {
      expect(nativeAddon()!.peerCred!(fdOf(s))).toMatchObject({ pid: process.pid });
    } finally {
      s.destroy();
      server.close();
    }
  });

  it('an fd that is no socket: its errno; a bad argument: a TypeError naming what it expects', () => {
    const fd = fs.openSync('/proc/self/stat', 'r');
    try {
      expect(nativeAddon()!.peerCred!(fd)).toEqual({ errno: 88 }); // ENOTSOCK
      expect(() => nativePeerPid(fd, '/proc/self/stat')).toThrow('SO_PEERCRED on /proc/self/stat: ENOTSOCK');
    } finally {
      fs.closeSync(fd);
    }
    expect(() => (nativeAddon()!.peerCred as unknown as (x: unknown) => unknown)('3')).toThrow('Expected (fd: number)');
    expect(() => nativeAddon()!.peerCred!(-1)).toThrow('Expected fd to be an integer from 0 to 2147483647');
  });

  it('a sleep (no socket at all) holds no listener: the pure-TS lookup says so rather than guessing', () => {
    const victim = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      expect(() => listenerPid(`/proc/${victim.pid}/nothing.sock`)).toThrow('no process listens on');
    } finally {
      victim.kill('SIGKILL');
    }
  });
});
