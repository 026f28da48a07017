// `labtel run` and `labtel check` as a user runs them, on a manifest whose
// output_dir is a symlink: both refuse, naming it, and nothing is written
// where the link points.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { LABTEL_BIN } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const exec = promisify(execFile);

async function labtel(...args: string[]) {
  return exec(process.execPath, [LABTEL_BIN, ...args]).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );
}

describe('an output_dir that is a symlink', () => {
  // Regression for: labtel run followed an output_dir symlink and wrote the episode where it pointed; labtel check said nothing.
  it('is refused by labtel run (exit 2) and labtel check (exit 1), naming it and where it points', async () => {
    const victim = tmpDir('labtel-victim-');
    fs.writeFileSync(path.join(victim, 'victim'), 'victim\n');
    const link = path.join(tmpDir(), 'ep');
    fs.symlinkSync(victim, link);
    const manifest = path.join(tmpDir(), 'm.json');
    fs.writeFileSync(manifest, JSON.stringify({ output_dir: link, duration_s: 1, target: { pid: process.pid }, collectors: { proc: { interval_ms: 100 } } }));
    const why = `output_dir ${link} is a symlink (to ${victim}); labtel does not write through one: name the directory itself`;

    const run = await labtel('run', manifest);
    expect(run.out).toContain(why);
    expect(run.code).toBe(2);

    const check = await labtel('check', manifest);
    expect(check.out).toContain(`refused: ${why}`);
    expect(check.out).toContain('labtel run would refuse this episode');
    expect(check.code).toBe(1);

    expect(fs.readdirSync(victim)).toEqual(['victim']);
    expect(fs.readFileSync(path.join(victim, 'victim'), 'utf8')).toBe('victim\n');
  });
});
