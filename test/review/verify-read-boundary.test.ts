// A picked row that a 4 MiB read cuts in two is delivered from the line
// reader's own buffer; the scan kept only its place there (to copy it after
// the read), but the reader writes the next unfinished line over that buffer
// before the read is over. When that row is the source's last picked one
// (the last row before a crash's partial line, or a source whose rhythm rows
// stop), lastPicked (the drops, the "rows stop before the episode ended",
// target_exited's last time) came from the overwritten bytes: another row's
// t_mono_ns, or a SyntaxError that crashed `labtel verify`.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateEpisode } from '../../scripts/bench/gen-episode.js';
import { scanFile } from '../../src/verify/scan-rows.js';
import { tmpDir } from '../helpers/tmp.js';
import { legacyScanFile } from '../verify/legacy-scan-rows.js';

const READ = 4 << 20;

/** Whole lines of the generated proc file up to the one the first 4 MiB read cuts (inclusive), and that line. */
function linesToCut(dir: string): { head: string; cut: string } {
  const lines = fs.readFileSync(path.join(dir, 'telemetry-proc.jsonl'), 'utf8').split('\n');
  let at = 0;
  for (let i = 0; i < lines.length; i++) {
    const end = at + Buffer.byteLength(lines[i]!) + 1;
    // The read ends inside this line (after its first byte): the reader holds it and delivers it from its own buffer.
    if (at < READ && end > READ + 1) return { head: lines.slice(0, i).join('\n') + '\n', cut: lines[i]! };
    at = end;
  }
  throw new Error('the generated proc file is shorter than one read');
}

describe('a picked row cut by a read, then a partial line', () => {
  it('gives the scan before it: lastPicked is that row, not bytes the reader wrote over it', () => {
    // regression for: scanFile's lastPicked read from the reader's held buffer after the next partial line was written over it
    const dir = tmpDir();
    generateEpisode(dir, 200);
    const { head, cut } = linesToCut(dir);
    expect(cut.startsWith('{"source":"host_proc"')).toBe(true);
    const t = /"t_mono_ns":(\d+)/.exec(cut)![1]!;
    const other = String(Number(t) + 1).padStart(t.length, '9').slice(-t.length);
    // What a crash leaves after it: a partial line, the same row with another time cut after that time (the bytes
    // then read as a valid row), or a zero-filled tail (the bytes then are not JSON).
    const cases = [cut.slice(0, cut.indexOf(`"t_mono_ns":${t}`)) + `"t_mono_ns":${other}`, '\0'.repeat(100)];
    expect(cases.length).toBe(2);
    const wrong: string[] = [];
    for (const [k, partial] of cases.entries()) {
      const file = path.join(dir, `cut-${k}.jsonl`);
      fs.writeFileSync(file, head + cut + '\n' + partial);
      const legacy = legacyScanFile(file);
      expect(legacy.sources.get('host_proc')!.lastPicked).toEqual(JSON.parse(cut));
      expect(legacy.partialLastLine).toBe(true);
      try {
        const fast = scanFile(file);
        if (JSON.stringify(fast.sources.get('host_proc')!.lastPicked) !== cut) wrong.push(`case ${k}: lastPicked ${JSON.stringify(fast.sources.get('host_proc')!.lastPicked)}`);
        else expect(fast).toEqual(legacy);
      } catch (err) {
        wrong.push(`case ${k}: ${String(err)}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
