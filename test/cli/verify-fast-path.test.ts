// `labtel verify DIR` run without commander (main.ts with plainVerifyArgv)
// against the same command read by commander (`labtel verify -- DIR`, which
// the plain form leaves to it): the same stdout, stderr and exit status, in
// text, --json and --allow-degraded, on a generated episode and its mutations
// (ok, degraded, failed), one whose episode.json is not valid, a directory
// that is not an episode and one that does not exist.
// regression for: the fast path printing, scrubbing or exiting otherwise than
// program.ts (its own catch of a thrown error, exit 2).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABTEL_BIN } from '../helpers/cli.js';
import { cleanBase, mutated, MUTATIONS } from '../verify/split-episodes.js';

let base: string;
beforeAll(() => {
  base = cleanBase();
});
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [LABTEL_BIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('labtel verify without commander prints and exits as through commander', () => {
  it('on episodes ok, degraded and failed, on a bad episode.json, on no episode and on no directory', () => {
    const dirs = MUTATIONS.filter((_, i) => i % 3 === 0).map(([name, edit, tail]) => mutated(base, name, edit, tail));
    const degraded = mutated(base, 'degraded', (l, i) => (i === 3000 ? l.replace(/"t_mono_ns":\d+/, '"t_mono_ns":1') : l));
    const bad = mutated(base, 'bad manifest', (l) => l);
    const ep = JSON.parse(fs.readFileSync(path.join(bad, 'episode.json'), 'utf8'));
    ep.manifest.collectors.proc.interval_ms = 'fast';
    fs.writeFileSync(path.join(bad, 'episode.json'), JSON.stringify(ep));
    const none = path.join(base, 'none');
    fs.mkdirSync(none);
    const all = [...dirs, degraded, bad, none, path.join(base, 'missing')];
    const statuses = new Set<number | null>();
    const differs: string[] = [];
    for (const dir of all) {
      for (const flags of [[], ['--json'], ['--allow-degraded']]) {
        const fast = run(['verify', ...flags, dir]);
        const slow = run(['verify', ...flags, '--', dir]);
        statuses.add(fast.status);
        if (JSON.stringify(fast) !== JSON.stringify(slow)) differs.push(`${dir} ${flags.join(' ')}:\n fast ${JSON.stringify(fast)}\n commander ${JSON.stringify(slow)}`);
      }
    }
    expect([...statuses].sort()).toEqual([0, 1, 2]);
    expect(differs).toEqual([]);
  }, 240_000);
});
