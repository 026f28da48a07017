// verify reads files it did not write (pulled, damaged, hostile): its memory
// must stay about one line whatever the file holds. Each learned row layout
// kept the last object or array of each of its slots (bytes and parsed value)
// to skip JSON.parse when the next row repeats it, and the row's decoded values:
// a file of many layouts (a valid row's keys in another order is another
// layout, up to 64 are learned) with large objects in them (a null_reasons of
// 1 MB is a valid record) kept one row's worth per layout, 64 lines where the
// scan before kept one: on a 16 MiB line bound, gigabytes.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateEpisode } from '../../scripts/bench/gen-episode.js';
import { tmpDir } from '../helpers/tmp.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** Scans argv's file with argv's function in a process whose heap is bounded; prints the FileScan's sources. */
const CHILD = `const [mod, fn, file] = process.argv.slice(1); const scan = (await import(mod))[fn](file); console.log(JSON.stringify(Object.fromEntries(scan.sources)));`;

function scanBounded(mod: string, fn: string, file: string): { status: number | null; signal: string | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--max-old-space-size=48', '--import', 'tsx', '--input-type=module', '-e', CHILD, path.join(ROOT, mod), fn, file], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, signal: r.signal, out: r.stdout, err: r.stderr.slice(-300) };
}

describe('verify on a file of many layouts with large objects', () => {
  it('scans in the heap the scan before it needed (one line at a time), with the same answer', () => {
    // regression for: every learned layout kept its last object of each slot and its decoded values, so 64 layouts of 1 MB rows ran out of a heap one row fits in
    const dir = tmpDir();
    generateEpisode(dir, 2);
    const row = JSON.parse(fs.readFileSync(path.join(dir, 'telemetry-perf.jsonl'), 'utf8').split('\n')[0]!) as Record<string, unknown>;
    const keys = Object.keys(row);
    expect(keys.length).toBeGreaterThan(12);
    const nullReasons = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, 'x'.repeat(1000)]));
    const file = path.join(dir, 'many-layouts.jsonl');
    const fd = fs.openSync(file, 'w');
    let seq = 0;
    // 64 layouts: the row's keys with two of them swapped, each row valid (seq in order) and about 1 MB.
    for (let a = 1; a < keys.length && seq < 64; a++) {
      for (let b = a + 1; b < keys.length && seq < 64; b++) {
        const order = [...keys];
        [order[a], order[b]] = [order[b]!, order[a]!];
        const r = Object.fromEntries(order.map((k) => [k, k === 'seq' ? seq : row[k]]));
        fs.writeSync(fd, JSON.stringify({ ...r, null_reasons: nullReasons }) + '\n');
        seq++;
      }
    }
    fs.closeSync(fd);
    expect(seq).toBe(64);
    const legacy = scanBounded('test/verify/legacy-scan-rows.ts', 'legacyScanFile', file);
    expect(legacy, 'the scan before it, in that heap').toMatchObject({ status: 0 });
    expect(JSON.parse(legacy.out).host_perf).toMatchObject({ rows: 64, seqGaps: 0, schemaErrors: 0 });
    const fast = scanBounded('src/verify/scan-rows.ts', 'scanFile', file);
    expect(fast, 'labtel verify\'s scan, in the same heap').toMatchObject({ status: 0, signal: null });
    expect(JSON.parse(fast.out)).toEqual(JSON.parse(legacy.out));
  });
});
