// The tail of a split file (src/verify/split-scan.ts) numbers its lines from
// the lines before it, those over the bound (MAX_LINE, dropped whole and not
// counted as scanned) included, as one pass numbers them.
// regression for: the main thread scanning the tail (a worker that came late,
// or LABTEL_VERIFY_SPLIT=main) numbered it from the head's scanned lines, so
// with a line over 16 MiB in the head every reason from the tail named the
// line before the right one ("line 89998: seq 89998 where 89997 was due" for
// 89999): verify's output depended on which thread came first; and the
// worker's result was refused for it ("lines 8172 before the tail, not 8171"),
// the whole file scanned again.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEpisode } from '../../scripts/bench/gen-episode.js';
import { MAX_LINE } from '../../src/verify/scan-rows.js';
import { startSplitScan } from '../../src/verify/split-scan.js';
import { verifyEpisode } from '../../src/verify/verify-episode.js';

let dir: string;
/** Where the line over the bound ends in telemetry-proc.jsonl. */
let longEnd: number;
beforeAll(() => {
  dir = path.join(fs.mkdtempSync('/tmp/labtel-split-line-base-'), 'ep');
  fs.mkdirSync(dir);
  // 1,000 s: telemetry-proc.jsonl's rows after the long line outweigh the tail the split offers (47% of all telemetry).
  generateEpisode(dir, 1000);
  const file = path.join(dir, 'telemetry-proc.jsonl');
  const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
  const head = [...lines.slice(0, 5), '0'.repeat(MAX_LINE + 10)];
  longEnd = Buffer.byteLength(head.join('\n') + '\n');
  // A seq gap late in the file (in the tail): its reason names its line.
  const rest = lines.slice(5).filter((_, i, a) => i !== a.length - 3);
  fs.writeFileSync(file, [...head, ...rest].join('\n') + '\n');
});
afterAll(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

describe('a split file with a line over the bound in its head', () => {
  it('gives the reasons of one pass, line numbers included, whoever scans the tail', () => {
    const one = verifyEpisode(dir);
    const reasons = one.collectors.proc!.reasons.join('\n');
    expect(reasons).toMatch(/seq gaps \(first: line \d+: seq \d+ where \d+ was due\)/);
    expect(reasons).toContain(`line 6 is longer than ${MAX_LINE} bytes`);
    for (const mode of ['main', 'worker'] as const) {
      const split = startSplitScan(dir, mode);
      expect(split?.collector).toBe('proc');
      expect(split!.at).toBeGreaterThan(longEnd);
      expect(verifyEpisode(dir, { split })).toEqual(one);
      expect(split!.tailBy).toBe(mode);
    }
  }, 120_000);
});
