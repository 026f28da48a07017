// src/util/unix-listen.ts on its own: which socket directories are refused
// and why (the socket's own directory, the ones above it, symlinks in the
// path), what is refused at the path itself, the path-length limit that
// the temporary bind must respect, and that a failed listen leaves nothing
// behind. The guest_agent collector's neighbour tests are in
// test/collectors/guest_agent/listen-socket.test.ts.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listenUnix, unsafeSocketDir } from '../../src/util/unix-listen.js';
import { tmpDir } from '../helpers/tmp.js';

const NOBODY = 65534;
const servers: net.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) if (s.listening) await new Promise((r) => s.close(r));
});
const server = () => {
  const s = net.createServer((c) => c.destroy());
  servers.push(s);
  return s;
};

describe('unsafeSocketDir', () => {
  it('accepts a root-owned 0700 or 0755 directory under /tmp (sticky above is fine)', () => {
    const d = tmpDir();
    expect(unsafeSocketDir(path.join(d, 's.sock'))).toBeNull();
    fs.chmodSync(d, 0o755);
    expect(unsafeSocketDir(path.join(d, 's.sock'))).toBeNull();
  });

  // regression for: a socket directory whose parent others can write: the directory itself can be swapped.
  it('refuses a directory under a non-sticky directory others can write, naming both', () => {
    const top = tmpDir();
    fs.chmodSync(top, 0o777);
    const d = path.join(top, 'sub');
    fs.mkdirSync(d, { mode: 0o700 });
    expect(unsafeSocketDir(path.join(d, 's.sock'))).toBe(
      `${top}, on the way to the socket's directory ${d}, is writable by every user (mode 0777, not sticky): another user could take the socket's name or put a symlink there; use a directory only root (or labtel's user) can write`,
    );
  });

  it('refuses a directory owned by another user above the socket\'s directory', () => {
    const top = tmpDir();
    fs.chmodSync(top, 0o755);
    fs.chownSync(top, NOBODY, NOBODY);
    const d = path.join(top, 'sub');
    fs.mkdirSync(d, { mode: 0o700 });
    expect(unsafeSocketDir(path.join(d, 's.sock'))).toMatch(new RegExp(`^${top}, on the way to the socket's directory ${d}, is owned by uid ${NOBODY}`));
  });

  it('judges the real directory behind a symlink in the path, and names both', () => {
    const real = tmpDir();
    fs.chmodSync(real, 0o777);
    const link = path.join(tmpDir(), 'link');
    fs.symlinkSync(real, link);
    expect(unsafeSocketDir(path.join(link, 's.sock'))).toMatch(new RegExp(`^the socket's directory ${real} \\(${link}\\) is writable by every user`));
  });

  it('says when the directory is not there', () => {
    const d = path.join(tmpDir(), 'gone');
    expect(unsafeSocketDir(path.join(d, 's.sock'))).toBe(`the socket's directory ${d} cannot be used: ENOENT`);
  });
});

describe('listenUnix', () => {
  it('listens at the path, mode 0600, with nothing else left in the directory', async () => {
    const d = tmpDir();
    const p = path.join(d, 'a.sock');
    expect(await listenUnix(server(), p)).toBe(p);
    expect(fs.lstatSync(p).isSocket()).toBe(true);
    expect(fs.lstatSync(p).mode & 0o7777).toBe(0o600);
    expect(fs.readdirSync(d)).toEqual(['a.sock']);
    const c = net.connect(p);
    await new Promise<void>((resolve, reject) => c.once('connect', resolve).once('error', reject));
    c.destroy();
  });

  it('replaces a stale socket', async () => {
    const d = tmpDir();
    const p = path.join(d, 'a.sock');
    const old = server();
    await new Promise<void>((r) => old.listen(p, r));
    // (a stale file: the old server is gone without removing it)
    await listenUnix(server(), p);
    expect(fs.lstatSync(p).mode & 0o7777).toBe(0o600);
  });

  it.each([
    ['a regular file', (p: string) => fs.writeFileSync(p, 'keep')],
    ['a directory', (p: string) => fs.mkdirSync(p)],
  ])('refuses %s at the path and leaves it as it was', async (_, make) => {
    const d = tmpDir();
    const p = path.join(d, 'a.sock');
    make(p);
    const before = fs.lstatSync(p);
    await expect(listenUnix(server(), p)).rejects.toThrow(`refusing to listen on ${p}: something that is not a socket is there`);
    expect(fs.lstatSync(p).ino).toBe(before.ino);
    expect(fs.readdirSync(d)).toEqual(['a.sock']);
  });

  // regression for: libuv truncating (or refusing) a sun_path past 107 bytes, after labtel made the temporary directory.
  it('refuses a path too long for a unix socket, saying so, and leaves no temporary directory', async () => {
    const d = tmpDir();
    const p = path.join(d, 'x'.repeat(110 - d.length));
    await expect(listenUnix(server(), p)).rejects.toThrow(/longer than a unix socket's 107 bytes/);
    expect(fs.readdirSync(d)).toEqual([]);
  });

  it('refuses an unsafe directory before touching anything', async () => {
    const d = tmpDir();
    fs.chmodSync(d, 0o777);
    const p = path.join(d, 'a.sock');
    await expect(listenUnix(server(), p)).rejects.toThrow(`refusing to listen on ${p}: the socket's directory ${d} is writable by every user (mode 0777)`);
    expect(fs.readdirSync(d)).toEqual([]);
  });
});
