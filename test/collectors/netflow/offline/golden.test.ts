// labtel bucketize against what it wrote before issue 19's speed work
// (test/fixtures/bucketize-golden/golden.json, recorded from commit da5b2d9
// by scripts/record-bucketize-golden.ts): the bench's generator at small sizes
// with fixed seeds and several flag sets, every recorded capture and fuzz
// seed, and hostile inputs (truncated records, huge caplen, a garbage run,
// pcapng blocks that lie, odd blocks), with and without --skip-bad. The same
// exit status, the same stderr, the same row bytes, on the native path and
// on the pure-TS one.
// regression for: a faster start-up or read path that changes a row, a
// message or an exit status (the fast flag path, the native-only import
// path, the pipeline's buffers).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABTEL_BIN, ROOT } from '../../../helpers/cli.js';
import { nativeAddon } from '../../../../src/native/addon.js';
import { writeGoldenCases, type GoldenCase, type GoldenResult } from './golden-cases.js';

const exec = promisify(execFile);
const golden = JSON.parse(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'bucketize-golden', 'golden.json'), 'utf8')) as {
  cases: Record<string, GoldenResult & { args: string[] }>;
};

async function run(dir: string, c: GoldenCase, env: NodeJS.ProcessEnv): Promise<GoldenResult> {
  const file = path.join(dir, c.file);
  const r = await exec(process.execPath, [LABTEL_BIN, 'bucketize', file, '-o', '-', ...c.args], { env, encoding: 'buffer', maxBuffer: 1 << 28 }).then(
    (ok) => ({ code: 0, stdout: ok.stdout, stderr: ok.stderr }),
    (err: { code: number; stdout: Buffer; stderr: Buffer }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  );
  return {
    exit: r.code,
    stderr: r.stderr.toString('utf8').split(file).join('<FILE>'),
    bytes: r.stdout.length,
    sha256: createHash('sha256').update(r.stdout).digest('hex'),
    rows: r.stdout.toString('latin1').split('\n').filter(Boolean).length,
  };
}

/** Runs every case, two at a time. */
async function runAll(dir: string, cases: GoldenCase[], env: NodeJS.ProcessEnv): Promise<Map<string, GoldenResult>> {
  const out = new Map<string, GoldenResult>();
  const queue = [...cases];
  await Promise.all(
    [0, 1].map(async () => {
      for (let c = queue.shift(); c; c = queue.shift()) out.set(c.name, await run(dir, c, env));
    }),
  );
  return out;
}

const PATHS = [
  ['native', { ...process.env, LABTEL_NATIVE: undefined }],
  ['pure-TS', { ...process.env, LABTEL_NATIVE: '0' }],
] as const;

describe('labtel bucketize against the golden of commit da5b2d9', () => {
  let dir: string;
  let cases: GoldenCase[];
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-test-golden-')); // kept for every test of the file: removed in afterAll
    cases = writeGoldenCases(dir);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('has a golden for every case, and the cases cover rows, errors and skips', () => {
    expect(cases.length).toBeGreaterThan(50);
    expect(Object.keys(golden.cases).sort()).toEqual(cases.map((c) => c.name).sort());
    const all = Object.values(golden.cases);
    expect(all.filter((g) => g.exit === 1).length).toBeGreaterThan(5);
    expect(all.filter((g) => g.rows > 1000).length).toBeGreaterThan(0);
    expect(all.filter((g) => g.stderr.includes('skipped')).length).toBeGreaterThan(5);
  });

  it.each(PATHS)('%s path: the same exit status, stderr and row bytes for every case', async (which, env) => {
    // regression for: without the addon (not built, or failing to load) the "native" run fell back to the pure-TS
    // path silently and passed, so the native rows were never held to the golden.
    if (which === 'native') expect(nativeAddon(), 'the native addon (the children load the same one)').not.toBeNull();
    const got = await runAll(dir, cases, env);
    expect(got.size).toBe(cases.length);
    for (const c of cases) {
      const { args: _args, ...want } = golden.cases[c.name]!;
      expect(got.get(c.name), c.name).toEqual(want);
    }
  }, 600_000);
});
