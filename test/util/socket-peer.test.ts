// The pure-TS peer lookup (/proc/net/unix, then /proc/*/fd) against a hostile
// neighbour: a socket path may hold a newline, and the kernel prints it as is,
// so a local process can forge a whole line of /proc/net/unix.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { listenerPid } from '../../src/util/socket-peer.js';
import { startHostileQmp } from '../helpers/hostile-qmp-target.js';

/** The inode of the listening socket bound to `path`, as /proc/net/unix lists it. */
function listeningInode(path: string): number {
  const line = fs.readFileSync('/proc/net/unix', 'latin1').split('\n').find((l) => l.endsWith(` ${path}`) && / 00010000 0001 01 /.test(l));
  expect(line, `no listener on ${path} in /proc/net/unix`).toBeDefined();
  return Number(/ 01 +(\d+) /.exec(line!)![1]);
}

describe('listenerPid', () => {
  it('names the one process listening on a path', async () => {
    const q = await startHostileQmp('self');
    expect(listenerPid(q.socket)).toBe(q.pid);
  });

  // Guards against (the pure-TS lookup is new, so no old code to fail): a forged line naming another process's socket inode under the QMP socket's path
  // would make the pure-TS lookup name that process as QEMU.
  it('a neighbour binding a path that forges a line of /proc/net/unix: refused, never the forged process', async () => {
    const qemu = await startHostileQmp('self'); // the socket labtel asks about
    const victim = await startHostileQmp('self'); // the process the forger wants watched
    const forged = `0: 00000002 00000000 00010000 0001 01 ${listeningInode(victim.socket)} ${qemu.socket}`;
    // The forger's path is `<its dir>/\n<forged line>`: the line's slashes make directories, which it may create.
    const base = fs.mkdtempSync('/tmp/f');
    const forgerPath = `${base}/\n${forged}`;
    fs.mkdirSync(path.dirname(forgerPath), { recursive: true });
    const forger = net.createServer().listen(forgerPath);
    await new Promise((resolve, reject) => {
      forger.once('listening', resolve);
      forger.once('error', reject);
    });
    try {
      expect(fs.readFileSync('/proc/net/unix', 'latin1').split('\n')).toContain(forged); // the forge is really there
      expect(() => listenerPid(qemu.socket)).toThrow(/lists socket inode \d+ more than once/);
    } finally {
      forger.close();
      fs.rmSync(base, { recursive: true, force: true });
    }
    expect(listenerPid(qemu.socket)).toBe(qemu.pid);
  });
});
