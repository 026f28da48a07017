// The one bounded line reader (src/util/bounded-line-reader.ts), shared by
// the guest channel (hostile bytes), verify and the report (row files that a
// crash can leave with a zero-filled tail). Its guest-facing cases are in
// test/util/bounded-line-reader.hostile.test.ts; here: line numbers and
// oversize reports against a plain model of the stream for every way it can
// be cut into reads, and the file readers that moved onto it (verify's scan,
// whose onRow gives the report its rows, and eachRow, which reads for onRow
// a file verify does not judge).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BoundedLineReader } from '../../src/util/bounded-line-reader.js';
import { eachRow } from '../../src/verify/each-row.js';
import { scanFile } from '../../src/verify/scan-rows.js';
import { tmpDir } from '../helpers/tmp.js';

/** A deterministic PRNG, so a failing split can be replayed. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Seen {
  kept: Array<[number, string]>;
  oversize: number[];
  lines: number;
  inLine: boolean;
}

/** What a reader bounded at `max` must report for `stream`, worked out by splitting it whole. */
function model(stream: string, max: number): Seen {
  const parts = stream.split('\n');
  const tail = parts.pop()!;
  const seen: Seen = { kept: [], oversize: [], lines: parts.length, inLine: tail.length > 0 };
  parts.forEach((p, i) => (p.length > max ? seen.oversize.push(i + 1) : seen.kept.push([i + 1, p])));
  if (tail.length > max) seen.oversize.push(parts.length + 1);
  return seen;
}

/** What the reader reports for `stream` pushed in the given reads. */
function read(stream: Buffer, cuts: number[], max: number): Seen & { tooFew: number } {
  const seen = { kept: [] as Array<[number, string]>, oversize: [] as number[], lines: 0, inLine: false, tooFew: 0 };
  const r = new BoundedLineReader(max, (l, n) => seen.kept.push([n, l.toString('latin1')]), {
    onOversize: (n, bytes) => {
      seen.oversize.push(n);
      if (bytes <= max) seen.tooFew++;
    },
  });
  let at = 0;
  for (const c of [...cuts, stream.length]) {
    r.push(stream.subarray(at, c));
    at = c;
  }
  seen.lines = r.lines;
  seen.inLine = r.inLine;
  return seen;
}

describe('BoundedLineReader', () => {
  it('numbers lines and oversize lines as a whole-stream split does, however the reads cut it (verify named the wrong line when a dropped line ended reads later)', () => {
    const max = 8;
    const rand = prng(16);
    const cases: Array<{ stream: string; expected: Seen; got: Seen & { tooFew: number } }> = [];
    for (let k = 0; k < 400; k++) {
      const lines = Array.from({ length: 1 + Math.floor(rand() * 12) }, () => 'abcdefghijklmnopqrstuvwxyz'.slice(0, Math.floor(rand() * 20)));
      const stream = lines.join('\n') + (rand() < 0.5 ? '\n' : '');
      const bytes = Buffer.from(stream, 'latin1');
      const cuts = [...new Set(Array.from({ length: Math.floor(rand() * bytes.length) }, () => Math.floor(rand() * bytes.length)))].sort((a, b) => a - b);
      cases.push({ stream, expected: model(stream, max), got: read(bytes, cuts, max) });
      // one byte per read too
      cases.push({ stream, expected: model(stream, max), got: read(bytes, Array.from({ length: bytes.length }, (_, i) => i), max) });
    }
    expect(cases.length).toBe(800);
    expect(cases.some((c) => c.expected.oversize.length > 0 && c.expected.inLine)).toBe(true);
    expect(cases.filter((c) => JSON.stringify({ ...c.got, tooFew: undefined }) !== JSON.stringify({ ...c.expected, tooFew: undefined })).map((c) => c.stream)).toEqual([]);
    expect(cases.reduce((n, c) => n + c.got.tooFew, 0), 'onOversize told a byte count within the bound').toBe(0);
  });

  it('reports an oversize line still arriving once, before its end, and the next line with the right number', () => {
    const told: Array<[number, number]> = [];
    const kept: Array<[number, string]> = [];
    const r = new BoundedLineReader(4, (l, n) => kept.push([n, l.toString()]), { onOversize: (n, b) => told.push([n, b]) });
    r.push(Buffer.from('ok\nabc'));
    r.push(Buffer.from('def'));
    expect(told).toEqual([[2, 6]]);
    expect(r.inLine).toBe(true);
    r.push(Buffer.from('ghi\nyes\n'));
    expect(told).toEqual([[2, 6]]);
    expect(kept).toEqual([
      [1, 'ok'],
      [3, 'yes'],
    ]);
    expect(r.inLine).toBe(false);
    expect(r.oversize).toBe(1);
  });
});

describe('row files read through it', () => {
  /** The rows the report is given from a file (verifyEpisode's onRow): through verify's scan of a file it judges, and through eachRow of one it does not. */
  const readers = {
    scanFile: (file: string) => {
      const rows: Array<Record<string, unknown>> = [];
      scanFile(file, () => true, (r) => rows.push(r));
      return rows;
    },
    eachRow: (file: string) => {
      const rows: Array<Record<string, unknown>> = [];
      eachRow(file, (r) => rows.push(r));
      return rows;
    },
  };

  describe.each(Object.entries(readers))('report, its rows through %s', (_reader, rowsOf) => {
    it("a character cut by the 4 MiB read boundary arrives whole (the report's old reader decoded each read apart and drew U+FFFD)", () => {
      const dir = tmpDir();
      const key = 'é€😀'.repeat(8);
      const prefix = '{"t_mono_ns":2,"name":"';
      // The first row ends so that the 'é' of the second starts on the last byte of the first 4 MiB read.
      const first = JSON.stringify({ t_mono_ns: 1, pad: '' });
      const pad = (4 << 20) - 1 - prefix.length - (first.length + 1);
      const row1 = JSON.stringify({ t_mono_ns: 1, pad: 'x'.repeat(pad) });
      const text = `${row1}\n${prefix}${key}"}\n`;
      expect(Buffer.byteLength(`${row1}\n${prefix}`)).toBe((4 << 20) - 1);
      fs.writeFileSync(path.join(dir, 'telemetry-guest.jsonl'), text);
      const rows = rowsOf(path.join(dir, 'telemetry-guest.jsonl'));
      expect(rows.map((r) => r.t_mono_ns)).toEqual([1, 2]);
      expect(rows[1]!.name).toBe(key);
    });

    it('a zero-filled line past 16 MiB is skipped, the rows after it are read, and an unfinished last line is not a row', () => {
      const dir = tmpDir();
      fs.writeFileSync(path.join(dir, 'telemetry-proc.jsonl'), Buffer.concat([Buffer.from('{"t_mono_ns":1}\n'), Buffer.alloc((16 << 20) + 5), Buffer.from('\n{"t_mono_ns":3}\n{"t_mono_ns":4')]));
      expect(rowsOf(path.join(dir, 'telemetry-proc.jsonl')).map((r) => r.t_mono_ns)).toEqual([1, 3]);
    });
  });

  it('verify: a line over 16 MiB is one bad line with its number, the lines after it keep theirs, and a file ending inside one is partial', () => {
    const dir = tmpDir();
    const row = (seq: number) => `{"source":"pcap","t_mono_ns":${seq},"seq":${seq}}`;
    const middle = path.join(dir, 'middle.jsonl');
    fs.writeFileSync(middle, Buffer.concat([Buffer.from(`${row(0)}\n`), Buffer.alloc((16 << 20) + 1), Buffer.from(`\n${row(1)}\nnot json\n`)]));
    const m = scanFile(middle);
    expect({ lines: m.lines, badLines: m.badLines, firstBadLine: m.firstBadLine, partial: m.partialLastLine }).toEqual({
      lines: 3,
      badLines: 2,
      firstBadLine: 'line 2 is longer than 16777216 bytes',
      partial: false,
    });
    const tail = path.join(dir, 'tail.jsonl');
    fs.writeFileSync(tail, Buffer.concat([Buffer.from(`${row(0)}\nnot json\n`), Buffer.alloc((16 << 20) + 1)]));
    const t = scanFile(tail);
    expect({ lines: t.lines, badLines: t.badLines, firstBadLine: t.firstBadLine, partial: t.partialLastLine }).toEqual({
      lines: 2,
      badLines: 3,
      firstBadLine: 'line 2 is not a JSON object',
      partial: true,
    });
  });
});
