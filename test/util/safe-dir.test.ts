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
import { dirProblem, makeDirNoFollow } from '../../src/util/safe-dir.js';

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
