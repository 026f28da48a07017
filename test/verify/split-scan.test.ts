// `labtel verify` with its largest file split between two threads
// (src/verify/split-scan.ts) gives the verdict of one pass, reasons and row
// counts included, whoever scans the tail: the worker, the main thread (a
// worker that came late), or neither (a tail that cannot be joined, scanned
// whole again). On a generated episode with every collector and on mutated
// copies of it: a seq gap in the very last row, rows only zod rejects,
// unicode, huge numbers, duplicate keys, keys reordered, a __proto__ key in
// the last rhythm row (it crosses threads by structured clone), stubs, bad
// and partial lines. The CLI's output and exit status: test/cli/verify-split.test.ts.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSplitScan } from '../../src/verify/split-scan.js';
import { verifyEpisode } from '../../src/verify/verify-episode.js';
import { cleanBase, mutated as mutatedIn, MUTATIONS } from './split-episodes.js';

const mutated = (name: string, edit: (line: string, i: number, n: number) => string | null, tail = '') => mutatedIn(base, name, edit, tail);

let base: string;
beforeAll(() => {
  base = cleanBase();
});
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

describe('verify with its largest file split between two threads gives the verdict of one pass', () => {
  it('on a generated episode and its mutations, the tail scanned by the worker, then by the main thread', () => {
    expect(MUTATIONS.length).toBeGreaterThan(10);
    const differs: string[] = [];
    for (const [name, edit, tail] of MUTATIONS) {
      const dir = mutated(name, edit, tail);
      const one = JSON.stringify(verifyEpisode(dir));
      for (const mode of ['worker', 'main'] as const) {
        const split = startSplitScan(dir, mode);
        expect(split?.collector).toBe('proc');
        const r = JSON.stringify(verifyEpisode(dir, { split }));
        expect(split!.tailBy).toBe(mode);
        if (r !== one) differs.push(`${name} (${mode}):\n one pass ${one}\n split    ${r}`);
      }
    }
    expect(differs).toEqual([]);
  }, 120_000);

  it('a tail whose first row has a seq that is no number is not joined: the file is scanned whole again, with the same verdict', () => {
    const probe = startSplitScan(mutated('probe', (l) => l), 'main');
    expect(probe).not.toBeNull();
    probe!.cancel();
    // The same bytes but for the seq of the tail's first row, written as a string of the same length: the same split.
    const dir = mutated('seq a string at the join', (l) => l);
    const file = path.join(dir, 'telemetry-proc.jsonl');
    const text = fs.readFileSync(file, 'latin1');
    const first = text.slice(probe!.at, text.indexOf('\n', probe!.at));
    const seq = /"seq":(\d+)/.exec(first)![1]!;
    fs.writeFileSync(file, text.slice(0, probe!.at) + first.replace(`"seq":${seq}`, `"seq":"${seq.slice(0, -2)}"`) + text.slice(probe!.at + first.length), 'latin1');
    const one = verifyEpisode(dir);
    expect(one.collectors.proc!.verdict).toBe('failed');
    for (const mode of ['worker', 'main'] as const) {
      const split = startSplitScan(dir, mode);
      expect(split?.at).toBe(probe!.at);
      expect(verifyEpisode(dir, { split })).toEqual(one);
      expect(split!.tailBy).toBe('whole');
    }
  }, 60_000);

  it('is not used for a file whose rows go to a reader (the report): the offer is ended and the rows come in order', () => {
    const dir = mutated('with a reader', (l) => l);
    const split = startSplitScan(dir, 'worker');
    const rows: number[] = [];
    const r = verifyEpisode(dir, { split, onRow: (c, row) => c === 'proc' && row.source === 'host_proc' && rows.push(row.seq as number) });
    expect(split!.tailBy).toBeNull();
    expect(rows.length).toBeGreaterThan(1000);
    expect(rows.every((s, i) => s === i)).toBe(true);
    expect(r).toEqual(verifyEpisode(dir));
  }, 60_000);
});
