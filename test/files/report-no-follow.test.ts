// labtel report writes report.html (or -o FILE) 0640 and never through a
// symlink planted at its path.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { runEpisode } from '../../src/agent/run-episode.js';
import { reportCommand } from '../../src/cli/commands/report.js';
import { parseManifest } from '../../src/manifest/load.js';
import { abortWhenLines, tmpDir } from '../helpers/tmp.js';

let dir = '';
let base = '';

beforeAll(async () => {
  // Not tmpDir(): that one is removed after each test, and the episode serves every test here.
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-report-'));
  dir = path.join(base, 'ep');
  const manifest = parseManifest({ output_dir: dir, target: { pid: process.pid }, collectors: { proc: { interval_ms: 50 } } });
  await runEpisode({ manifest, stop: abortWhenLines(path.join(dir, 'telemetry-proc.jsonl'), 3) });
  return () => fs.rmSync(base, { recursive: true, force: true });
});

/** A file the test owns, for a symlink to point at. */
function victim(): string {
  const file = path.join(tmpDir('labtel-victim-'), 'victim');
  fs.writeFileSync(file, 'victim\n');
  return file;
}

describe('labtel report', () => {
  // Regression for: report.html was written with fs.writeFileSync, which follows a symlink at its path and creates 0644.
  it('a symlink planted at report.html: refused with ELOOP named, and the file it points at is untouched', async () => {
    const v = victim();
    const out = path.join(dir, 'report.html');
    fs.symlinkSync(v, out);
    try {
      await expect(reportCommand(dir, {})).rejects.toThrow(`cannot write ${out}: it is a symlink; labtel does not write through one (ELOOP)`);
      expect(fs.readFileSync(v, 'utf8')).toBe('victim\n');
    } finally {
      fs.unlinkSync(out);
    }
  });

  it('-o FILE that is a symlink: refused the same way', async () => {
    const v = victim();
    const out = path.join(tmpDir(), 'r.html');
    fs.symlinkSync(v, out);
    await expect(reportCommand(dir, { output: out })).rejects.toThrow(`cannot write ${out}: it is a symlink; labtel does not write through one (ELOOP)`);
    expect(fs.readFileSync(v, 'utf8')).toBe('victim\n');
  });

  it('writes report.html 0640 whatever the umask, also over an older 0644 one', async () => {
    const out = path.join(dir, 'report.html');
    fs.writeFileSync(out, 'old', { mode: 0o644 });
    fs.chmodSync(out, 0o644);
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const before = process.umask(0);
    try {
      expect(await reportCommand(dir, {})).toBe(0);
    } finally {
      process.umask(before);
      vi.restoreAllMocks();
    }
    expect((fs.statSync(out).mode & 0o7777).toString(8)).toBe('640');
    expect(fs.readFileSync(out, 'utf8')).toMatch(/^<!doctype html>/i);
  });
});
