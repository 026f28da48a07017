// A file scanned in two parts and joined (scan-merge.ts, what `labtel verify`
// does with its largest file, split between two threads: split-scan.ts)
// gives the FileScan of one pass over it, field for field: split at every
// line of hostile files (seq gaps and seq that are no numbers at the join,
// time going back across it, silences and exits around it, stubs, bad and
// partial lines, sources that start after it, a line over the bound), and at
// many lines of every file of a generated episode with every collector.
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEpisode } from '../../scripts/bench/gen-episode.js';
import { CATALOG } from '../../src/collectors/catalog.js';
import { mergeScans } from '../../src/verify/scan-merge.js';
import { scanFile, type FileScan } from '../../src/verify/scan-rows.js';
import { tmpDir } from '../helpers/tmp.js';

type Row = Record<string, unknown>;
type Pick = (row: Row) => boolean;

const pickOf = (collector: string): Pick => {
  const spec = CATALOG.find((s) => s.name === collector);
  return spec ? (r) => r.source === spec.verify.source && spec.verify.rhythm(r) : () => true;
};

/** Where each line starts (after each newline), and the count of lines before it. */
function lineStarts(bytes: Buffer): number[] {
  const out: number[] = [];
  for (let nl = bytes.indexOf(10); nl >= 0; nl = bytes.indexOf(10, nl + 1)) out.push(nl + 1);
  return out;
}

const show = (s: FileScan | null) => (s ? JSON.stringify({ ...s, edges: undefined, sources: Object.fromEntries(s.sources) }) : 'null');

/** The joined scan split after line `k` (at byte `at`), or its disagreement with the whole scan; null = agrees. */
function joinDiffers(file: string, pick: Pick, whole: FileScan, at: number, k: number): { differs: string | null; joined: boolean } {
  const head = scanFile(file, pick, undefined, { end: at });
  // What split-scan.ts numbers the tail from (and holds the worker's count of newlines to): a line over the bound included.
  if (head.endedLines !== k) return { differs: `${file} split after line ${k}: the head ended ${head.endedLines} lines`, joined: true };
  const tail = scanFile(file, pick, undefined, { start: at, lineBase: k, continued: true });
  const merged = mergeScans(head, tail);
  if (merged === null) return { differs: null, joined: false };
  return { differs: isDeepStrictEqual(merged, whole) ? null : `${file} split after line ${k}:\n whole  ${show(whole)}\n joined ${show(merged)}`, joined: true };
}

let generated: string;
beforeAll(() => {
  generated = path.join(fs.mkdtempSync('/tmp/labtel-scan-merge-'), 'ep');
  fs.mkdirSync(generated);
  generateEpisode(generated, 60);
});
afterAll(() => fs.rmSync(path.dirname(generated), { recursive: true, force: true }));

describe('a file scanned in two parts and joined is the scan of the whole file', () => {
  it('split at every 37th line of every file of a generated episode with every collector', () => {
    const files = fs.readdirSync(generated).filter((f) => /^telemetry-.*\.jsonl$/.test(f));
    expect(files.length).toBeGreaterThanOrEqual(6);
    const diffs: string[] = [];
    let splits = 0;
    for (const f of files) {
      const file = path.join(generated, f);
      const pick = pickOf(/telemetry-(.*)\.jsonl$/.exec(f)![1]!);
      const whole = scanFile(file, pick);
      const starts = lineStarts(fs.readFileSync(file));
      expect(starts.length).toBeGreaterThan(20);
      const at: number[] = [];
      for (let k = 1; k < starts.length; k += 37) at.push(k);
      expect(at.length).toBeGreaterThan(0);
      for (const k of at) {
        const r = joinDiffers(file, pick, whole, starts[k - 1]!, k);
        expect(r.joined).toBe(true);
        splits++;
        if (r.differs) diffs.push(r.differs);
      }
    }
    expect(splits).toBeGreaterThan(100);
    expect(diffs.slice(0, 2)).toEqual([]);
  });

  it('split at every line of hostile files, with the rhythm of proc and with every row picked', () => {
    const proc = fs.readFileSync(path.join(generated, 'telemetry-proc.jsonl'), 'utf8').split('\n').slice(0, 120);
    const guest = fs.readFileSync(path.join(generated, 'telemetry-guest_agent.jsonl'), 'utf8').split('\n').slice(0, 30);
    const setSeq = (l: string, seq: string) => l.replace(/"seq":[^,]*/, `"seq":${seq}`);
    const setT = (l: string, t: number) => l.replace(/"t_mono_ns":\d+/, `"t_mono_ns":${t}`);
    const join = (lines: string[]) => lines.join('\n') + '\n';
    const cases: Array<[string, string | Buffer]> = [
      ['clean', join(proc)],
      ['gap in the very last row', join(proc.filter((_, i) => i !== 118))],
      ['gaps everywhere', join(proc.filter((_, i) => i % 11 !== 5))],
      ['seq that are no numbers', join(proc.map((l, i) => (i % 13 === 4 ? setSeq(l, '"7"') : i % 17 === 2 ? setSeq(l, 'null') : l)))],
      ['seq repeated and going back', join(proc.map((l, i) => (i % 9 === 8 ? setSeq(l, String(i - 3)) : l)))],
      ['fractional seq', join(proc.map((l, i) => (i === 40 ? setSeq(l, '40.5') : l)))],
      ['time going back', join(proc.map((l, i) => (i % 10 === 7 ? setT(l, 1) : l)))],
      ['time jumping ahead (silences)', join(proc.map((l, i) => (i >= 60 ? setT(l, 9e9 + i) : i >= 30 ? setT(l, 5e9 + i * 1000) : l)))],
      ['equal silences (the first is named)', join(proc.map((l, i) => setT(l, Math.floor(i / 30) * 7e9 + (i % 30))))],
      ['the target exiting and coming back', join(proc.map((l, i) => (i % 25 === 9 ? l.replace(/"process_event":"[a-z]+"/, '"process_event":"exited"') : i % 25 === 18 ? l.replace(/"process_event":"[a-z]+"/, '"process_event":"restarted"') : l)))],
      ['stubs', join(proc.map((l, i) => (i % 7 === 3 ? l.replace(/,"pid".*/, ',"stub":"row of 2 MB"}') : l)))],
      ['bad lines and rows failing their schema', join(proc.map((l, i) => (i % 19 === 6 ? 'not json' : i % 23 === 11 ? l.replace(/"pid":\d+/, '"pid":-1') : l)))],
      ['other sources starting after a while', join([...proc.slice(0, 50), ...guest, ...proc.slice(50)].map((l, i) => (i > 80 && i % 5 === 0 ? l.replace('"host_proc"', '"host_perf"') : l)))],
      ['an unknown source', join(proc.map((l, i) => (i % 31 === 30 ? l.replace('"host_proc"', '"nobody"') : l)))],
      ['a partial last line', join(proc).slice(0, -60)],
      ['a line over 16 MiB', join([...proc.slice(0, 10), '0'.repeat((16 << 20) + 10), ...proc.slice(10, 20)])],
      ['CRLF', proc.join('\r\n') + '\r\n'],
      ['empty lines', join(proc.flatMap((l, i) => (i % 8 === 0 ? [l, ''] : [l])))],
    ];
    const dir = tmpDir();
    const diffs: string[] = [];
    let splits = 0;
    let unjoined = 0;
    for (const [name, text] of cases) {
      const file = path.join(dir, `${name.replace(/\W+/g, '-')}.jsonl`);
      fs.writeFileSync(file, text);
      const starts = lineStarts(fs.readFileSync(file));
      expect(starts.length).toBeGreaterThan(15);
      for (const pick of [pickOf('proc'), () => true]) {
        const whole = scanFile(file, pick);
        // Every line start, also the file's end (a tail with nothing in it); once the line over the bound, every 4th.
        for (let k = 0; k < starts.length; k += name.includes('16 MiB') ? 4 : 1) {
          const r = joinDiffers(file, pick, whole, k === 0 ? 0 : starts[k - 1]!, k);
          splits++;
          if (!r.joined) unjoined++;
          if (r.differs) diffs.push(`${name}: ${r.differs}`);
        }
      }
    }
    expect(splits).toBeGreaterThan(3000);
    // Only where the tail starts with a seq that is no number (the case made for it): elsewhere every split joins.
    expect(unjoined).toBeGreaterThan(0);
    expect(unjoined).toBeLessThan(splits / 10);
    expect(diffs.slice(0, 2)).toEqual([]);
  }, 300_000);
});
