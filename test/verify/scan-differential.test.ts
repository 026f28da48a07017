// The fast scan (layouts checked on bytes, compiled checks, zod only where
// they are not certain) against today's scan frozen in legacy-scan-rows.ts:
// the same FileScan, field for field, on a real recorded episode, a generated
// one with every collector, the recorded fixtures, and hostile files made
// from real rows (every field given each kind of wrong value, every byte
// changed, every prefix cut, keys added, dropped, doubled or reordered,
// escapes, UTF-8, whitespace, gaps, time going back, stubs, partial lines).
// Each hostile line is scanned after valid lines of its layout, so the
// byte matcher has learned the layout it must then refuse or accept.
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateEpisode } from '../../scripts/bench/gen-episode.js';
import { CATALOG } from '../../src/collectors/catalog.js';
import { MAX_LINE, scanFile, type FileScan } from '../../src/verify/scan-rows.js';
import { hasMeasuredValue, MEASUREMENT_PATHS } from '../../src/rows/measurements.js';
import { ROW_SHAPE_SCHEMAS } from '../../src/rows/registry.js';
import type { Source } from '../../src/rows/envelope.js';
import { shapeOf } from '../../src/verify/row-shapes.js';
import { measuredIn, TemplateSet } from '../../src/verify/template-set.js';
import { tmpDir } from '../helpers/tmp.js';
import { cleanEpisode } from './crafted-episode.js';
import { legacyScanFile } from './legacy-scan-rows.js';

type Row = Record<string, unknown>;
type Pick = (row: Row) => boolean;

const PICKS: Array<[string, Pick]> = [
  ...CATALOG.map((spec): [string, Pick] => [spec.name, (r) => r.source === spec.verify.source && spec.verify.rhythm(r)]),
  ['all', () => true],
];
const pickOf = (collector: string): Pick => PICKS.find(([n]) => n === collector)?.[1] ?? (() => true);

/** The oracle for onRow: JSON.parse of each whole line (at most MAX_LINE bytes) that is an object, in order. */
function objectRows(file: string): Row[] {
  const bytes = fs.readFileSync(file);
  const out: Row[] = [];
  let start = 0;
  for (let nl = bytes.indexOf(10); nl >= 0; start = nl + 1, nl = bytes.indexOf(10, start)) {
    if (nl - start > MAX_LINE) continue;
    try {
      const r = JSON.parse(bytes.toString('utf8', start, nl)) as unknown;
      if (typeof r === 'object' && r !== null && !Array.isArray(r)) out.push(r as Row);
    } catch {
      // not a row
    }
  }
  return out;
}

/**
 * Scans `file` the three ways (legacy; fast; fast with onRow, which keeps the learned layouts and
 * parses each line once for onRow): null when all agree and onRow got exactly the oracle's rows,
 * else what differs. Regression for: onRow's rows and the scan when a layout matches a line on its
 * bytes while onRow is set (the layouts were off with onRow before; the report now keeps them).
 */
function disagreement(file: string, pick: Pick): string | null {
  const legacy = legacyScanFile(file, pick);
  const fast = scanFile(file, pick);
  const rows: Row[] = [];
  const parsing = scanFile(file, pick, (r) => rows.push(r));
  const expected = objectRows(file);
  if (isDeepStrictEqual(legacy, fast) && isDeepStrictEqual(legacy, parsing) && isDeepStrictEqual(rows, expected)) return null;
  const show = (s: FileScan) => JSON.stringify({ ...s, sources: Object.fromEntries(s.sources) });
  return `${file}:\n legacy  ${show(legacy)}\n fast    ${show(fast)}\n parsing ${show(parsing)}\n onRow got ${rows.length} rows, JSON.parse gives ${expected.length}${isDeepStrictEqual(rows, expected) ? '' : ' (differing)'}`;
}

let generated: string;
let recorded: string;

beforeAll(async () => {
  generated = path.join(fs.mkdtempSync('/tmp/labtel-scan-diff-'), 'ep');
  fs.mkdirSync(generated);
  generateEpisode(generated, 400);
  recorded = await cleanEpisode();
});

const telemetryFiles = (dir: string) => fs.readdirSync(dir).filter((f) => /^telemetry-.*\.jsonl$/.test(f)).map((f) => path.join(dir, f));
const collectorOf = (file: string) => /telemetry-(.*)\.jsonl$/.exec(file)![1]!;

/** The first row of each layout (source and keys) in the episodes, as lines. */
function sampleLines(): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const file of [...telemetryFiles(generated), ...telemetryFiles(recorded)]) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      if (!line) continue;
      const row = JSON.parse(line) as Row;
      const key = `${String(row.source)}:${Object.keys(row).join(',')}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(line);
    }
  }
  return out;
}

/** Wrong values of every kind JSON can carry, and some that are not JSON at all. */
const VALUES = [
  'null', '-1', '0', '-0', '1', '1.5', '0.0', '-0.0', '0.1', '1e3', '1E3', '1e-3', '1e400', '-1e400', '1e-400', '0.' + '0'.repeat(330) + '1',
  '9007199254740991', '9007199254740992', '9007199254740993', '123456789012345', '1234567890123456', '-123456789012345', '12345678901234567890',
  '01', '-', '1.', '.5', '1e', '--1', '+1', 'NaN', 'Infinity', '"x"', '""', '"S"', '"SS"', '"\\u0053"', '"é"', '"\\"', '"a\\nb"', '"started"', '"exited"',
  '"restarted"', '"\\u0065xited"', 'true', 'false', 'tru', 'nul', '{}', '[]', '{"a":1}', '{"a":null}', '[null]', '[1,2]', '{"cycles":1e400}', '{"x":{"y":[1]}}', '"0"',
];

/** Hostile variants of one valid line (each a single line, valid JSON or not). */
function variants(line: string): string[] {
  const row = JSON.parse(line) as Row;
  const keys = Object.keys(row);
  const out: string[] = [];
  const body = (entries: Array<[string, string]>) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
  const entries: Array<[string, string]> = keys.map((k) => [k, JSON.stringify(row[k])]);
  for (let i = 0; i < entries.length; i++) {
    for (const v of VALUES) out.push(body(entries.map((e, j) => (j === i ? [e[0], v] : e))));
    out.push(body(entries.filter((_, j) => j !== i))); // a key missing
    out.push(body([...entries.slice(0, i), entries[i]!, ...entries.slice(i)])); // a key twice
    if (i > 0) out.push(body([...entries.slice(0, i - 1), entries[i]!, entries[i - 1]!, ...entries.slice(i + 1)])); // two keys swapped
    out.push(body(entries.map((e, j) => (j === i ? [e[0], ` ${e[1]}`] : e)))); // whitespace
  }
  out.push(body([...entries, ['extra', '1']]), body([...entries, ['stub', '"too large"']]), body([...entries, ['__proto__', '{}']]), body([...entries, ['constructor', '1']]));
  out.push(body([...entries, ['null_reasons', '{"x":"y"}']]), body([['__proto__', '{"a":1}'], ...entries]));
  out.push(line.replace(/"seq":\d+/, '"seq":"1"'), line.replace(/"t_mono_ns":\d+/, '"t_mono_ns":-5'), line + ' ', ' ' + line, line + '\r', '\ufeff' + line);
  out.push('[' + line + ']', '"' + line + '"', '', '{}', 'null', '42');
  // Every byte changed to a few others, and every prefix (a row cut short).
  const bytes = Buffer.from(line);
  for (let i = 0; i < bytes.length; i++) {
    for (const b of [0x30, 0x39, 0x22, 0x2c, 0x7d, 0x20, 0x5c, 0x2d]) {
      if (bytes[i] === b) continue;
      const copy = Buffer.from(bytes);
      copy[i] = b;
      out.push(copy.toString('latin1'));
    }
    out.push(bytes.subarray(0, i).toString('latin1'));
  }
  return out;
}

describe('the fast scan gives the FileScan of the scan before it', () => {
  it('on every file of a real recorded episode and of a generated one with every collector, with every pick', () => {
    const files = [...telemetryFiles(recorded), ...telemetryFiles(generated)];
    expect(files.length).toBeGreaterThanOrEqual(7);
    const diffs = files.flatMap((f) => [pickOf(collectorOf(f)), () => true].map((p) => disagreement(f, p))).filter((d) => d !== null);
    expect(diffs).toEqual([]);
  });

  it('on the recorded fixtures (perf, QMP and guest lines that are not rows)', () => {
    const fixtures = ['perf', 'qmp', 'guest'].flatMap((d) => fs.readdirSync(path.join('test/fixtures', d)).filter((f) => f.endsWith('.jsonl')).map((f) => path.join('test/fixtures', d, f)));
    expect(fixtures.length).toBeGreaterThan(3);
    const diffs = fixtures.map((f) => disagreement(f, () => true)).filter((d) => d !== null);
    expect(diffs).toEqual([]);
  });

  it('on hostile lines after valid lines of their layout (batched, each block a learned layout then the variant)', () => {
    const samples = sampleLines();
    expect(samples.length).toBeGreaterThan(10);
    const dir = tmpDir();
    const diffs: string[] = [];
    let n = 0;
    for (const [k, line] of samples.entries()) {
      const row = JSON.parse(line) as Row;
      const at = (seq: number) => line.replace(/"seq":\d+/, `"seq":${seq}`);
      const collector = CATALOG.find((s) => s.rows.some((r) => r.source === row.source))?.name ?? 'all';
      const all = variants(line);
      // Field and key variants all; byte changes and cuts one in 7 (the unit test below takes them all).
      const chosen = all.filter((_, i) => i < all.length - Buffer.byteLength(line) * 8 || i % 7 === k % 7);
      for (let at0 = 0; at0 < chosen.length; at0 += 60) {
        const block = chosen.slice(at0, at0 + 60);
        let seq = 0;
        const text = block.map((v) => `${at(seq++)}\n${v.replace(/"seq":\d+/, `"seq":${seq++}`)}\n${at(seq++)}\n`).join('');
        n += block.length;
        const file = path.join(dir, `telemetry-${collector}.jsonl`);
        fs.writeFileSync(file, text, 'latin1');
        const d = disagreement(file, pickOf(collector));
        if (d) diffs.push(d);
      }
    }
    expect(n).toBeGreaterThan(5000);
    expect(diffs.slice(0, 3)).toEqual([]);
  }, 300_000);

  it('a line a learned layout accepts is the row JSON.parse gives, passing that shape, with the same seq, time, process_event and measurement', () => {
    const samples = sampleLines();
    expect(samples.length).toBeGreaterThan(10);
    const wrong: string[] = [];
    let accepted = 0;
    let tried = 0;
    for (const line of samples) {
      const row = JSON.parse(line) as Row;
      const source = String(row.source);
      const set = new TemplateSet(() => true);
      const learnt = Buffer.from(line, 'latin1');
      set.learn(learnt, 0, learnt.length, row, source, shapeOf(source, row));
      for (const v of [line, ...variants(line)]) {
        tried++;
        const buf = Buffer.from(v + '\n', 'latin1');
        const t = set.match(buf, 0, buf.length - 1);
        if (!t) continue;
        accepted++;
        let parsed: Row | null = null;
        try {
          parsed = JSON.parse(buf.toString('utf8', 0, buf.length - 1)) as Row;
        } catch {
          // not JSON: accepting it is the failure
        }
        const shape = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? shapeOf(source, parsed) : -1;
        const ok =
          parsed !== null &&
          shape === t.shape &&
          String(parsed.source) === t.source &&
          ROW_SHAPE_SCHEMAS[source as Source]![shape]!.safeParse(parsed).success &&
          Object.is(parsed.seq, t.seq) &&
          Object.is(parsed.t_mono_ns, t.t) &&
          (t.eventSlot < 0 || (parsed.process_event ?? null) === t.processEvent) &&
          measuredIn(t) === hasMeasuredValue(parsed, MEASUREMENT_PATHS[source as Source]![shape]!.paths);
        if (!ok) wrong.push(v);
      }
    }
    expect(tried).toBeGreaterThan(20_000);
    expect(accepted).toBeGreaterThan(1000);
    expect(wrong.slice(0, 5)).toEqual([]);
  }, 300_000);

  it('on hostile files: seq gaps, time going back, a partial last line, a line over the bound, CRLF, a BOM, stubs, invalid UTF-8', () => {
    const proc = fs.readFileSync(path.join(generated, 'telemetry-proc.jsonl'), 'utf8').split('\n').slice(0, 200);
    const dir = tmpDir();
    const cases: Array<[string, string | Buffer]> = [
      ['gap in the very last row', proc.filter((_, i) => i !== 198).join('\n') + '\n'], // row 199, the last, has seq 199 where 198 is due
      ['time going back', proc.map((l, i) => (i === 50 ? l.replace(/"t_mono_ns":\d+/, '"t_mono_ns":1') : l)).join('\n') + '\n'],
      ['partial last line', proc.join('\n') + proc[5]!.slice(0, 40)],
      ['CRLF', proc.join('\r\n') + '\r\n'],
      ['BOM', '\ufeff' + proc.join('\n') + '\n'],
      ['stubs', proc.map((l, i) => (i % 7 === 3 ? l.replace(/,"pid".*/, ',"stub":"row of 2 MB"}') : l)).join('\n') + '\n'],
      ['invalid UTF-8 in a string', Buffer.concat([Buffer.from(proc.slice(0, 20).join('\n') + '\n'), Buffer.from(proc[20]!.replace('qemu-system-x86', 'q\u00ffmu'), 'latin1'), Buffer.from('\n' + proc.slice(21).join('\n') + '\n')])],
      ['a line over 16 MiB', proc.slice(0, 10).join('\n') + '\n' + '0'.repeat((16 << 20) + 10) + '\n' + proc.slice(10).join('\n') + '\n'],
      ['a zero-filled tail', Buffer.concat([Buffer.from(proc.join('\n') + '\n'), Buffer.alloc(5000)])],
      ['empty', ''],
    ];
    const diffs = cases.map(([name, text]) => {
      const file = path.join(dir, `${name.replace(/\W+/g, '-')}.jsonl`);
      fs.writeFileSync(file, text);
      return [disagreement(file, pickOf('proc')), disagreement(file, () => true)].filter((d) => d !== null).map((d) => `${name}: ${d}`);
    });
    expect(diffs.flat()).toEqual([]);
  });
});
