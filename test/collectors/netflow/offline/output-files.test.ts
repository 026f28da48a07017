// Issue 17 point 4 for `labtel bucketize`: what it writes is created 0640 in
// directories it makes 0750, and never through a symlink planted where it
// writes (the rows describe the guest's traffic; a planted link would let
// another local user aim labtel's writes, as root, at any file).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bucketizeCommand } from '../../../../src/cli/commands/bucketize.js';
import type { BucketizeFlags } from '../../../../src/cli/commands/bucketize-options.js';
import { readJsonl, tmpDir } from '../../../helpers/tmp.js';
import { evenJumps, GUEST4, pcap } from '../harness.js';

afterEach(() => vi.restoreAllMocks());

const flags = (o: Partial<BucketizeFlags>): BucketizeFlags => ({ guestIp: [GUEST4], guestMac: [], bridgeIp: [], fill: true, ...o });

/** Two small captures and a victim file that a planted symlink points at. */
function setup() {
  const dir = tmpDir();
  const captures = ['a.pcap', 'b.pcap'].map((n) => path.join(dir, n));
  for (const c of captures) fs.writeFileSync(c, pcap({}, evenJumps(3, 4)));
  const victim = path.join(dir, 'victim');
  fs.writeFileSync(victim, 'precious\n');
  return { dir, captures, victim };
}

describe('labtel bucketize output files', () => {
  it('-o FILE that is a planted symlink is refused; the file it points at is untouched', async () => {
    // regression for: the output was opened through a symlink at its path.
    const { dir, captures, victim } = setup();
    const out = path.join(dir, 'rows.jsonl');
    fs.symlinkSync(victim, out);
    await expect(bucketizeCommand([captures[0]!], flags({ output: out }))).rejects.toThrow(`cannot create ${out}: it is a symlink; labtel does not write through one (EEXIST)`);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(fs.lstatSync(out).isSymbolicLink()).toBe(true);
  });

  it('--out-dir DIR that is a symlink is refused before anything is written', async () => {
    // regression for: mkdirSync(--out-dir, {recursive: true}) accepted a symlink to a directory and wrote the rows there.
    const { dir, captures } = setup();
    const elsewhere = path.join(dir, 'elsewhere');
    fs.mkdirSync(elsewhere);
    const outDir = path.join(dir, 'rows');
    fs.symlinkSync(elsewhere, outDir);
    await expect(bucketizeCommand(captures, flags({ outDir }))).rejects.toThrow(`--out-dir ${outDir} is a symlink (to ${elsewhere}); labtel does not write through one: name the directory itself`);
    expect(fs.readdirSync(elsewhere)).toEqual([]);
  });

  it('--out-dir: a symlink planted at one output fails that capture, names it, and leaves its target alone; the other is written 0640 in a 0750 directory', async () => {
    const { dir, captures, victim } = setup();
    const outDir = path.join(dir, 'rows');
    fs.mkdirSync(outDir, { mode: 0o750 });
    const planted = path.join(outDir, 'a.netflow.jsonl');
    fs.symlinkSync(victim, planted);
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await bucketizeCommand(captures, flags({ outDir, jobs: '1' }))).toBe(1);
    expect(err.mock.calls.map((c) => c.join(' '))).toEqual([`labtel: ${captures[0]}: cannot create ${planted}: it is a symlink; labtel does not write through one (EEXIST)`]);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    const written = path.join(outDir, 'b.netflow.jsonl');
    expect(readJsonl(written).length).toBe(3 + 2 * 4);
    expect(fs.statSync(written).mode & 0o777).toBe(0o640);
  });

  it('--out-dir that does not exist is created 0750 (whatever the umask), its files 0640', async () => {
    const { dir, captures } = setup();
    const outDir = path.join(dir, 'new', 'rows');
    const old = process.umask(0);
    try {
      expect(await bucketizeCommand(captures, flags({ outDir, jobs: '1' }))).toBe(0);
    } finally {
      process.umask(old);
    }
    expect(fs.statSync(outDir).mode & 0o777).toBe(0o750);
    const files = fs.readdirSync(outDir).sort();
    expect(files).toEqual(['a.netflow.jsonl', 'b.netflow.jsonl']);
    for (const f of files) expect(fs.statSync(path.join(outDir, f)).mode & 0o777).toBe(0o640);
  });
});
