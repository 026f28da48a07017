// The native file path reads captures and formats rows in C++ (core/
// pcap_reader, core/netflow_json); without the addon the pure-TS path reads
// and formats them in TS (ts/capture-reader.ts, write-rows.ts). Consumers
// must not be able to tell which ran: on every capture fixture (a glob over
// test/fixtures/pcap/ and the captures in test/fixtures/fuzz-corpus/, pcapng
// included), with and without --skip-bad, the same rows byte for byte, the
// same messages and the same exit status. Regression for: without the addon,
// pcapng and --skip-bad were refused ("... need the native addon").
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { LABTEL_BIN, ROOT } from '../../../helpers/cli.js';
import { tmpDir } from '../../../helpers/tmp.js';

const exec = promisify(execFile);
const FIXTURES = path.join(ROOT, 'test', 'fixtures');
const list = (sub: string) => fs.readdirSync(path.join(FIXTURES, sub)).filter((f) => !f.endsWith('.md')).sort();
const recorded = list('pcap');
const seeds = list('fuzz-corpus');

interface Run {
  code: number;
  stderr: string;
  rows: string;
}

async function bucketize(input: string, out: string, extra: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const args = [LABTEL_BIN, 'bucketize', input, '-o', out, '--bucket-ms', '50', '--guest-ip', '10.201.0.10', '--guest-ip', 'fd00:201::10', ...extra];
  const r = await exec(process.execPath, args, { env }).then(
    (ok) => ({ code: 0, stderr: ok.stderr }),
    (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
  );
  return { ...r, rows: fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '' };
}

/** Native and pure-TS runs of one input, with and without --skip-bad. */
async function both(input: string): Promise<Array<{ mode: string; native: Run; ts: Run }>> {
  const dir = tmpDir();
  const out: Array<{ mode: string; native: Run; ts: Run }> = [];
  for (const [mode, extra] of [['strict', []], ['--skip-bad', ['--skip-bad']]] as const) {
    const native = await bucketize(input, path.join(dir, `${out.length}-native.jsonl`), [...extra], { ...process.env, LABTEL_NATIVE: undefined });
    const ts = await bucketize(input, path.join(dir, `${out.length}-ts.jsonl`), [...extra], { ...process.env, LABTEL_NATIVE: '0' });
    out.push({ mode, native, ts });
  }
  return out;
}

describe('netflow JSONL from the C++ and the TS reader and formatter', () => {
  it('finds the fixtures, pcapng among them', () => {
    expect(recorded.length).toBeGreaterThanOrEqual(6);
    expect(recorded.filter((f) => f.endsWith('.pcapng')).length).toBeGreaterThan(0);
    expect(seeds.length).toBeGreaterThan(0);
  });

  it.each(recorded)('%s: identical bytes and messages with and without the addon and --skip-bad, last row partial', async (name) => {
    const runs = await both(path.join(FIXTURES, 'pcap', name));
    expect(runs.length).toBe(2);
    for (const { mode, native, ts } of runs) {
      expect(native.rows.length, `${mode}: ${native.stderr}`).toBeGreaterThan(0);
      expect(ts.rows, mode).toBe(native.rows);
      expect(ts.stderr, mode).toBe(native.stderr);
      expect(ts.code, mode).toBe(native.code);
      const last = JSON.parse(native.rows.trim().split('\n').at(-1)!);
      expect(last.partial, mode).toBe(true);
    }
  });

  it.each(seeds)('fuzz seed %s: identical bytes, messages and exit status with and without the addon and --skip-bad', async (name) => {
    // A seed is [ctl][seed][capture]: the capture, under the seed's name.
    const file = path.join(tmpDir(), name);
    fs.writeFileSync(file, fs.readFileSync(path.join(FIXTURES, 'fuzz-corpus', name)).subarray(2));
    const runs = await both(file);
    expect(runs.length).toBe(2);
    for (const { mode, native, ts } of runs) {
      expect(native.rows.length > 0 || native.code !== 0, `${mode}: rows, or an exit status that says why not`).toBe(true);
      expect(ts.rows, mode).toBe(native.rows);
      expect(ts.stderr, mode).toBe(native.stderr);
      expect(ts.code, mode).toBe(native.code);
    }
  });
});
