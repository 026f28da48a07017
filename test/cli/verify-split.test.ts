// `labtel verify` as a user runs it, with its largest file split between two
// threads (LABTEL_VERIFY_SPLIT=worker: the worker scans the tail; main: the
// main thread does, as when the worker comes late) against one pass
// (LABTEL_VERIFY_SPLIT=off): the same stdout, stderr and exit status, in text
// and --json, on a generated episode with every collector and its mutations
// (test/verify/split-episodes.ts), and on directories that are not episodes.
// Regression for: a split scan that differs from one pass in a verdict, a
// reason, a count or an exit status; a worker that keeps the process alive.
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

function verify(mode: string, args: string[]): string {
  const r = spawnSync(process.execPath, [LABTEL_BIN, 'verify', ...args], { encoding: 'utf8', env: { ...process.env, LABTEL_VERIFY_SPLIT: mode }, timeout: 60_000 });
  return JSON.stringify({ status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr });
}

describe('labtel verify split between two threads prints and exits as one pass', () => {
  it('on a generated episode and its mutations, text and --json', () => {
    expect(MUTATIONS.length).toBeGreaterThan(10);
    const differs: string[] = [];
    const statuses = new Set<string>();
    for (const [name, edit, tail] of MUTATIONS) {
      const dir = mutated(base, name, edit, tail);
      for (const args of [[dir], ['--json', dir]]) {
        const one = verify('off', args);
        statuses.add(JSON.parse(one).status);
        for (const mode of ['worker', 'main']) {
          const split = verify(mode, args);
          if (split !== one) differs.push(`${name} ${args.join(' ')} (${mode}):\n one pass ${one}\n split    ${split}`);
        }
      }
    }
    // Both verdicts were printed: ok (0) and failed (1).
    expect([...statuses].sort()).toEqual([0, 1]);
    expect(differs).toEqual([]);
  }, 240_000);

  it('on a directory whose episode.json is not valid, and on one that is not an episode (exit 2, the same message)', () => {
    const bad = mutated(base, 'bad manifest', (l) => l);
    const ep = JSON.parse(fs.readFileSync(path.join(bad, 'episode.json'), 'utf8'));
    ep.manifest.collectors.proc.interval_ms = 'fast';
    fs.writeFileSync(path.join(bad, 'episode.json'), JSON.stringify(ep));
    const none = path.join(base, 'none');
    fs.mkdirSync(none);
    fs.cpSync(path.join(base, 'clean', 'telemetry-proc.jsonl'), path.join(none, 'telemetry-proc.jsonl'));
    for (const dir of [bad, none]) {
      const one = verify('off', [dir]);
      expect(JSON.parse(one).status).toBe(2);
      expect(verify('worker', [dir])).toBe(one);
      expect(verify('main', [dir])).toBe(one);
    }
  }, 60_000);
});
