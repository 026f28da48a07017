// verifyEpisode's onRow: the report takes verify's verdict and the rows in
// one pass over the files. It must see every row a reader of the files sees
// (JSON.parse of each whole line that is an object), in file order, from
// the files it asks for, judged or not, and the verdict must not change.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateEpisode } from '../../scripts/bench/gen-episode.js';
import { verifyEpisode } from '../../src/verify/verify-episode.js';
import { tmpDir } from '../helpers/tmp.js';

type Row = Record<string, unknown>;

/** The oracle: every whole line of the file that JSON.parse makes an object of (what today's report reads). */
function objectsOf(file: string): Row[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  const whole = text.slice(0, text.lastIndexOf('\n') + 1);
  const out: Row[] = [];
  for (const line of whole.split('\n').slice(0, -1)) {
    try {
      const r = JSON.parse(line) as unknown;
      if (typeof r === 'object' && r !== null && !Array.isArray(r)) out.push(r as Row);
    } catch {
      // not a row
    }
  }
  return out;
}

function collect(dir: string, rowsOf?: string[]): { verdict: ReturnType<typeof verifyEpisode>; got: Array<[string, Row, string]> } {
  const got: Array<[string, Row, string]> = [];
  const verdict = verifyEpisode(dir, { onRow: (c, r, f) => got.push([c, r, f]), rowsOf });
  return { verdict, got };
}

function episode(): string {
  const dir = path.join(tmpDir(), 'ep');
  fs.mkdirSync(dir);
  generateEpisode(dir, 40);
  return dir;
}

describe('verifyEpisode onRow', () => {
  it('passes every object row of the listed files in list order, judged or not, and the verdict does not change', () => {
    const dir = episode();
    // Hostile lines in a judged file: not JSON, an array, a scalar, a row failing its schema, and a partial last line.
    const proc = path.join(dir, 'telemetry-proc.jsonl');
    const text = fs.readFileSync(proc, 'utf8').split('\n');
    text.splice(3, 0, 'not json', '[1,2]', '42', '{"source":"host_proc","t_mono_ns":"x","seq":3}');
    fs.writeFileSync(proc, text.join('\n').replace(/\n$/, '\n{"source":"host_pr'));
    // A file verify does not judge (the agent's), and a skipped collector whose file is still there.
    fs.writeFileSync(path.join(dir, 'telemetry-agent.jsonl'), '{"source":"agent","t_mono_ns":1,"seq":0,"event":"collector_error","collector":"qmp","message":"reconnecting"}\n');
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    summary.collectors.perf = { ...summary.collectors.perf, status: 'skipped', reason: 'crafted' };
    fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(summary));

    const order = ['agent', 'qmp', 'proc', 'perf', 'missing', 'guest_agent'];
    const { verdict, got } = collect(dir, order);
    expect(verdict).toEqual(verifyEpisode(dir));
    expect(verdict.collectors.proc!.verdict).toBe('failed'); // the hostile lines are still judged
    const want = order.flatMap((c) => {
      const file = path.join(dir, `telemetry-${c}.jsonl`);
      return objectsOf(file).map((r) => [c, r, file] as [string, Row, string]);
    });
    expect(want.length).toBeGreaterThan(1000);
    expect(got).toEqual(want);
    // Not listed: netflow and pcap are judged but not passed.
    expect(got.some(([c]) => c === 'netflow' || c === 'pcap')).toBe(false);
  });

  it('without rowsOf, passes the judged files in the catalog order', () => {
    const dir = episode();
    const { verdict, got } = collect(dir);
    expect(verdict.verdict).toBe('ok');
    const files = [...new Set(got.map(([c]) => c))];
    expect(files).toEqual(Object.keys(verdict.collectors));
    expect(got.length).toBe(Object.values(verdict.collectors).reduce((k, c) => k + c.rows, 0));
  });
});
