// The episode directory and the JSON files labtel writes into it: created
// 0750 / 0640 whatever the umask, never through a symlink, and --force
// removes only labtel's own regular files (a symlink is never followed).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { outputDirProblem, prepareEpisodeDir, writeJsonExclusive } from '../../src/agent/episode-dir.js';
import { tmpDir } from '../helpers/tmp.js';

const mode = (p: string) => (fs.lstatSync(p).mode & 0o7777).toString(8);

/** Runs `f` under umask 0: a mode left to the umask would then show as 0777/0666. */
function underUmask0<T>(f: () => T): T {
  const before = process.umask(0);
  try {
    return f();
  } finally {
    process.umask(before);
  }
}

/** A directory and a file the test owns, for a symlink to point at. */
function victims() {
  const dir = tmpDir('labtel-victim-');
  const file = path.join(dir, 'victim');
  fs.writeFileSync(file, 'victim\n');
  return { dir, file };
}

describe('the episode directory', () => {
  // Regression for: an output_dir that was a symlink was followed, so the episode went wherever the link pointed.
  it('an output_dir that is a symlink is refused, naming it, and nothing is written where it points', () => {
    const v = victims();
    const link = path.join(tmpDir(), 'ep');
    fs.symlinkSync(v.dir, link);
    const why = `output_dir ${link} is a symlink (to ${v.dir}); labtel does not write through one: name the directory itself`;
    expect(outputDirProblem(link)).toBe(why);
    expect(() => prepareEpisodeDir(link, false)).toThrow(why);
    expect(() => prepareEpisodeDir(link, true)).toThrow(why);
    expect(fs.readdirSync(v.dir)).toEqual(['victim']);
    expect(fs.readFileSync(v.file, 'utf8')).toBe('victim\n');
    // A file in its place is no directory either.
    expect(outputDirProblem(v.file)).toBe(`output_dir ${v.file} exists and is not a directory`);
    expect(outputDirProblem(path.join(tmpDir(), 'new'))).toBeNull();
  });

  // Regression for: episode directories were 0755 by the umask, listable by every local user.
  it('is created 0750 whatever the umask, parents included; an existing one is tightened to 0750, never loosened', () => {
    const root = tmpDir();
    const dir = path.join(root, 'a', 'ep');
    underUmask0(() => prepareEpisodeDir(dir, false));
    expect(mode(dir)).toBe('750');
    expect(mode(path.join(root, 'a'))).toBe('750');

    const open = path.join(root, 'open');
    underUmask0(() => fs.mkdirSync(open, { mode: 0o777 }));
    expect(mode(open)).toBe('777');
    prepareEpisodeDir(open, false);
    expect(mode(open)).toBe('750');

    const closed = path.join(root, 'closed');
    fs.mkdirSync(closed, { mode: 0o700 });
    prepareEpisodeDir(closed, false);
    expect(mode(closed)).toBe('700');
  });

  // Regression for: --force removed every entry with one of labtel's names, a symlink or a directory included.
  it('--force refuses a symlink or a directory under one of labtel\'s names, and the file a symlink points at stays', () => {
    const v = victims();
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'telemetry-proc.jsonl'), '');
    fs.symlinkSync(v.file, path.join(dir, 'episode.json'));
    fs.mkdirSync(path.join(dir, 'summary.json'));
    expect(() => prepareEpisodeDir(dir, true)).toThrow(
      `episode directory ${dir} holds files labtel did not write (episode.json (a symlink), summary.json (not a file)); --force removes only labtel's own files`,
    );
    expect(fs.readFileSync(v.file, 'utf8')).toBe('victim\n');
    expect(fs.readdirSync(dir).sort()).toEqual(['episode.json', 'summary.json', 'telemetry-proc.jsonl']);

    // Only labtel's own regular files: all removed, the cursor's temporary file of a killed forwarder included.
    const own = tmpDir();
    for (const f of ['episode.json', 'summary.json', 'telemetry-agent.jsonl', 'network.pcap', 'network-001.pcap', 'forward-cursor.json', '.forward-cursor.json.123.1700000000000.tmp', 'report.html']) {
      fs.writeFileSync(path.join(own, f), 'x');
    }
    prepareEpisodeDir(own, true);
    expect(fs.readdirSync(own)).toEqual([]);
  });
});

describe('writeJsonExclusive (episode.json, summary.json)', () => {
  // Regression for: episode.json and summary.json were created 0644.
  it('creates the file 0640 whatever the umask', () => {
    const file = path.join(tmpDir(), 'summary.json');
    underUmask0(() => writeJsonExclusive(file, { a: 1 }));
    expect(mode(file)).toBe('640');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ a: 1 });
  });

  it('a symlink planted at its path: refused, naming it a symlink, and the file it points at is untouched', () => {
    const v = victims();
    const file = path.join(tmpDir(), 'episode.json');
    fs.symlinkSync(v.file, file);
    expect(() => writeJsonExclusive(file, { a: 1 })).toThrow(`cannot create ${file}: it is a symlink; labtel does not write through one (EEXIST)`);
    expect(fs.readFileSync(v.file, 'utf8')).toBe('victim\n');
    expect(fs.lstatSync(file).isSymbolicLink()).toBe(true);
  });
});
