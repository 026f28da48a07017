// Issue 17 point 4: every directory labtel writes into (pull --out and the pulled
// episodes, bucketize --out-dir, an episode's output_dir) is made the same way.
// regression for: pull and bucketize made theirs with mkdir -p and a chmod through the
// path, so a directory on the way that other users can write was accepted (one of them
// could swap ours for a symlink mid-run), and a symlink planted just before the chmod had
// the mode of what it pointed to changed.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmpDir } from '../helpers/tmp.js';
import { dirChainProblem, dirProblem, makeDirNoFollow } from '../../src/util/safe-dir.js';
import { unsafeSocketDir } from '../../src/util/unix-listen.js';

const mode = (p: string) => (fs.lstatSync(p).mode & 0o7777).toString(8);

describe('makeDirNoFollow', () => {
  it('makes the missing directories 0750 whatever the umask, and says it made them', () => {
    const base = tmpDir();
    const dir = path.join(base, 'a', 'b', 'c');
    const old = process.umask(0);
    try {
      expect(makeDirNoFollow(dir, 'pull --out')).toBe(true);
    } finally {
      process.umask(old);
    }
    expect(mode(dir)).toBe('750');
    expect(makeDirNoFollow(dir, 'pull --out')).toBe(false);
  });

  it('refuses a way another user could change (a 0777 directory that is not sticky), naming what', () => {
    const open = path.join(tmpDir(), 'open');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    const dir = path.join(open, 'out');
    expect(() => makeDirNoFollow(dir, '--out-dir')).toThrow(
      `${open}, on the way to --out-dir ${dir}, is writable by every user (mode 0777, not sticky): another user could put a symlink in place of the episode directory; use a directory only root (or labtel's user) can write`,
    );
    expect(fs.existsSync(dir)).toBe(false);
  });

  it("refuses a symlink at the directory itself and leaves its target's mode alone", () => {
    const base = tmpDir();
    const target = path.join(base, 'target');
    fs.mkdirSync(target);
    fs.chmodSync(target, 0o755);
    const link = path.join(base, 'link');
    fs.symlinkSync(target, link);
    expect(dirProblem(link, 'pull --out')).toBe(`pull --out ${link} is a symlink (to ${target}); labtel does not write through one: name the directory itself`);
    expect(() => makeDirNoFollow(link, 'pull --out')).toThrow('is a symlink');
    expect(mode(target)).toBe('755');
  });
});

describe('dirChainProblem: one walk for the directories labtel writes into and the socket it listens at', () => {
  // regression for: two walks did one job (safe-dir.ts and unix-listen.ts), and they had drifted: the socket's
  // walk judged the directory holding a symlink, the output_dir walk named only the directory. One walk now,
  // with a rule for the one real difference: a socket's directory must be writable by no one else, sticky or not.
  it("labtel's own 0777 directory: an output_dir to tighten, but refused as a socket's directory (anyone could take the name first)", () => {
    const d = tmpDir();
    fs.chmodSync(d, 0o777);
    expect(dirChainProblem(d, 'output_dir')).toBeNull();
    expect(makeDirNoFollow(d, 'output_dir')).toBe(false);
    expect(mode(d)).toBe('750');
    fs.chmodSync(d, 0o1777);
    expect(unsafeSocketDir(path.join(d, 's.sock'))).toBe(
      `the socket's directory ${d} is writable by every user (mode 1777): another user could take the socket's name or put a symlink there; use a directory only root (or labtel's user) can write`,
    );
  });

  it('a missing directory: made for output_dir, refused for a socket', () => {
    const d = path.join(tmpDir(), 'gone', 'deeper');
    expect(dirChainProblem(d, 'output_dir')).toBeNull();
    expect(unsafeSocketDir(path.join(d, 's.sock'))).toBe(`the socket's directory ${d} cannot be used: ENOENT`);
  });

  // A root-owned symlink in a directory every user can write (not sticky): anyone can replace it, for
  // output_dir as for the socket, and the message names the symlink and the directory it lies in.
  it.each([
    ['output_dir', (p: string) => dirChainProblem(p, 'output_dir'), (p: string) => p],
    ["the socket's directory", (p: string) => unsafeSocketDir(path.join(p, 's.sock')), (p: string) => p],
  ] as const)('%s behind a root-owned symlink in a 0777 directory is refused, naming both', (what, problem, dirOf) => {
    const real = tmpDir();
    const open = tmpDir();
    fs.chmodSync(open, 0o777);
    const link = path.join(open, 'link');
    fs.symlinkSync(real, link);
    const dir = path.join(link, 'sub');
    fs.mkdirSync(path.join(real, 'sub'));
    expect(problem(dir)).toBe(
      `${link}, a symlink on the way to ${what} ${dirOf(dir)}, is in ${open}, writable by every user (mode 0777, not sticky): another user could replace it; name a directory without it`,
    );
  });

  it('a root-owned symlink in a root-owned directory is followed by both, and the real directory judged', () => {
    const real = tmpDir();
    fs.chmodSync(real, 0o755);
    const link = path.join(tmpDir(), 'link');
    fs.symlinkSync(real, link);
    expect(dirChainProblem(path.join(link, 'ep'), 'output_dir')).toBeNull();
    expect(unsafeSocketDir(path.join(link, 's.sock'))).toBeNull();
    fs.chmodSync(real, 0o770);
    expect(unsafeSocketDir(path.join(link, 's.sock'))).toBe(
      `the socket's directory ${real} (${link}) is writable by its group (mode 0770): another user could take the socket's name or put a symlink there; use a directory only root (or labtel's user) can write`,
    );
  });
});
