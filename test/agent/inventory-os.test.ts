// The release files are read bounded: only regular files, at most 64 KiB of
// each. Regression for: the inventory read every /etc/*-release whole and
// blocking, so a FIFO there hung the agent's start and a link to /dev/zero
// filled its memory (the systeminformation inventory before it had a 5 s
// bound per part).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRelease, releaseText } from '../../src/agent/inventory-os.js';
import { tmpDir } from '../helpers/tmp.js';

describe('releaseText', () => {
  it('reads regular release files in the shell glob order, and skips a FIFO, a device and a directory without blocking', () => {
    const etc = tmpDir();
    const usrLib = tmpDir();
    fs.writeFileSync(path.join(etc, 'b-release'), 'B=2\n');
    fs.writeFileSync(path.join(etc, 'a-release'), 'A=1\n');
    execFileSync('mkfifo', [path.join(etc, 'fifo-release')]);
    fs.symlinkSync('/dev/zero', path.join(etc, 'zero-release'));
    fs.mkdirSync(path.join(etc, 'dir-release'));
    fs.writeFileSync(path.join(usrLib, 'os-release'), 'ID=debian\n');
    expect(releaseText(etc, usrLib)).toBe('A=1\nB=2\nID=debian\n');
  });

  it('takes at most 64 KiB of a file', () => {
    const etc = tmpDir();
    fs.writeFileSync(path.join(etc, 'big-release'), 'x'.repeat(1 << 20));
    expect(releaseText(etc, tmpDir()).length).toBe(64 * 1024);
  });

  // regression for: the release files were decoded as latin1 where systeminformation decoded them as UTF-8, so
  // NAME="Débian" became "DÃ©bian" in episode.json's host section.
  it('decodes the files as UTF-8, as systeminformation did', () => {
    const etc = tmpDir();
    fs.writeFileSync(path.join(etc, 'x-release'), 'NAME="Débian"\nVERSION="13 (trixie)"\n');
    const text = releaseText(etc, tmpDir());
    expect(text).toContain('NAME="Débian"');
    expect(parseRelease(text).distro).toBe('Débian');
  });
});
