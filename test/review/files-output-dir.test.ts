// output_dir against a local user: O_NOFOLLOW guards only a path's last
// component, so a symlink another user planted on the way to output_dir, or
// a directory on the way that another user can change, or an output_dir that
// another user owns, would let that user send the episode's files where they
// choose. Each is refused, naming what and whose; what only root (or labtel's
// user) controls is accepted.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { outputDirProblem, prepareEpisodeDir, writeJsonExclusive } from '../../src/agent/episode-dir.js';
import { tmpDir } from '../helpers/tmp.js';

const NOBODY = 65534;
const mode = (p: string) => (fs.lstatSync(p).mode & 0o7777).toString(8);

/** A directory the test owns (with one file), for a symlink to point at. */
function victimDir(): string {
  const d = tmpDir('labtel-victim-');
  fs.writeFileSync(path.join(d, 'victim'), 'victim\n');
  fs.chmodSync(d, 0o755);
  return d;
}

/** A root-owned sticky directory writable by everyone, like /tmp. */
function stickyTmp(): string {
  const d = tmpDir();
  fs.chmodSync(d, 0o1777);
  return d;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the way to output_dir', () => {
  // regression for: output_dir /tmp/x/lab/ep with /tmp/x/lab a symlink another user planted (fs.protected_symlinks
  // is 0 on this host): only the last component was checked, so labtel made the episode directory where the
  // symlink pointed, as root.
  it('a symlink another user planted on the way is refused; nothing is made where it points', () => {
    const t = stickyTmp();
    const v = victimDir();
    const link = path.join(t, 'lab');
    fs.symlinkSync(v, link);
    fs.lchownSync(link, NOBODY, NOBODY);
    const dir = path.join(link, 'ep');
    const why = `${link}, a symlink on the way to output_dir ${dir}, is owned by uid ${NOBODY}, neither root nor labtel's user (0): that user could point it elsewhere; name a directory without it`;
    expect(outputDirProblem(dir)).toBe(why);
    expect(() => prepareEpisodeDir(dir, false)).toThrow(why);
    expect(fs.readdirSync(v)).toEqual(['victim']);
  });

  // regression for: a directory on the way owned by another user (or writable by everyone, not sticky) was accepted;
  // that user can move the episode directory away mid-episode and put a symlink in its place, and every file labtel
  // creates after that (a rotated capture, summary.json, report.html) goes where the symlink points.
  it('a directory on the way that another user owns, or that everyone can write without the sticky bit, is refused', () => {
    const t = tmpDir();
    const theirs = path.join(t, 'theirs');
    fs.mkdirSync(theirs, { mode: 0o755 });
    fs.chownSync(theirs, NOBODY, NOBODY);
    const dir1 = path.join(theirs, 'ep');
    expect(() => prepareEpisodeDir(dir1, false)).toThrow(
      `${theirs}, on the way to output_dir ${dir1}, is owned by uid ${NOBODY}, neither root nor labtel's user (0): that user could put a symlink in place of the episode directory`,
    );
    expect(fs.existsSync(dir1)).toBe(false);

    const open = path.join(t, 'open');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    const dir2 = path.join(open, 'a', 'ep');
    expect(outputDirProblem(dir2)).toBe(
      `${open}, on the way to output_dir ${dir2}, is writable by every user (mode 0777, not sticky): another user could put a symlink in place of the episode directory; use a directory only root (or labtel's user) can write`,
    );
    expect(() => prepareEpisodeDir(dir2, false)).toThrow(/is writable by every user \(mode 0777, not sticky\)/);
    expect(fs.readdirSync(open)).toEqual([]);

    const group = path.join(t, 'group');
    fs.mkdirSync(group);
    fs.chmodSync(group, 0o770);
    expect(outputDirProblem(path.join(group, 'ep'))).toMatch(/is writable by its group \(mode 0770, not sticky\)/);
  });

  // regression for: an existing output_dir owned by another user was used as it was (only labtel's own is
  // tightened): that user could read the episode through a setgid group, or move and replace its files.
  it('an existing output_dir another user owns is refused and left as it was', () => {
    const dir = path.join(tmpDir(), 'ep');
    fs.mkdirSync(dir);
    fs.chmodSync(dir, 0o2777);
    fs.chownSync(dir, NOBODY, NOBODY);
    expect(() => prepareEpisodeDir(dir, false)).toThrow(
      `output_dir ${dir} is owned by uid ${NOBODY}, neither root nor labtel's user (0): that user could read, move or replace the episode's files`,
    );
    expect(mode(dir)).toBe('2777');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  // regression for: between the lstat and the mkdir a symlink could be planted at output_dir: mkdir -p accepted it,
  // and chmod followed it, setting the mode of the directory it pointed at before the late check refused.
  it('a symlink planted at output_dir while labtel makes it: refused, and the directory it points at keeps its mode', () => {
    const v = victimDir();
    const dir = path.join(tmpDir(), 'ep');
    const mkdir = fs.mkdirSync.bind(fs);
    let planted = 0;
    vi.spyOn(fs, 'mkdirSync').mockImplementation(((p: fs.PathLike, o?: fs.MakeDirectoryOptions) => {
      // The neighbour's move, just before labtel's mkdir of output_dir.
      if (String(p) === dir && !planted++) fs.symlinkSync(v, dir);
      return mkdir(p, o);
    }) as typeof fs.mkdirSync);
    expect(() => prepareEpisodeDir(dir, false)).toThrow(`output_dir ${dir} is a symlink (to ${v}); labtel does not write through one`);
    expect(planted).toBe(1);
    expect(mode(v)).toBe('755');
    expect(fs.readdirSync(v)).toEqual(['victim']);
  });

  it('what only root (or labtel\'s user) controls is accepted: a sticky directory like /tmp, and a root-owned symlink on the way', () => {
    const t = stickyTmp();
    const real = path.join(t, 'real');
    fs.mkdirSync(real, { mode: 0o755 });
    fs.symlinkSync(real, path.join(t, 'lab'));
    const dir = path.join(t, 'lab', 'x', 'ep');
    prepareEpisodeDir(dir, false);
    expect(mode(path.join(real, 'x', 'ep'))).toBe('750');
    writeJsonExclusive(path.join(dir, 'episode.json'), { a: 1 });
    expect(fs.readdirSync(path.join(real, 'x', 'ep'))).toEqual(['episode.json']);
    // A relative symlink, resolved from where it lies.
    fs.symlinkSync('real/x', path.join(t, 'rel'));
    expect(outputDirProblem(path.join(t, 'rel', 'ep2'))).toBeNull();
  });
});
