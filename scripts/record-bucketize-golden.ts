// Records test/fixtures/bucketize-golden/golden.json: every case of
// test/collectors/netflow/offline/golden-cases.ts run through a given labtel
// (its bin/labtel.js, with its own dist/ and addon), exit status, stderr and
// the rows' bytes (length, sha256, row count). Recorded from commit da5b2d9,
// before issue 19's speed work, so that the test holds later builds to the
// rows and messages labtel wrote then.
//
//   tsx scripts/record-bucketize-golden.ts /path/to/old/checkout [OUT.json]
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeGoldenCases, type GoldenCase, type GoldenResult } from '../test/collectors/netflow/offline/golden-cases.js';

export function runCase(bin: string, dir: string, c: GoldenCase, env: NodeJS.ProcessEnv = process.env): GoldenResult {
  const file = path.join(dir, c.file);
  const r = spawnSync(process.execPath, [bin, 'bucketize', file, '-o', '-', ...c.args], { env, maxBuffer: 1 << 30 });
  const out = r.stdout;
  return {
    exit: r.status ?? -1,
    stderr: r.stderr.toString('utf8').split(file).join('<FILE>'),
    bytes: out.length,
    sha256: createHash('sha256').update(out).digest('hex'),
    rows: out.toString('latin1').split('\n').filter(Boolean).length,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [checkout, outArg] = process.argv.slice(2);
  if (!checkout) throw new Error('usage: tsx scripts/record-bucketize-golden.ts OLD_CHECKOUT [OUT.json]');
  const out = outArg ?? path.join('test', 'fixtures', 'bucketize-golden', 'golden.json');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-golden-'));
  try {
    const cases = writeGoldenCases(dir);
    const bin = path.join(checkout, 'bin', 'labtel.js');
    const golden: Record<string, GoldenResult & { args: string[] }> = {};
    for (const c of cases) {
      const env = { ...process.env, LABTEL_NATIVE_PATH: path.join(checkout, 'build', 'Release', 'labtel.node') };
      golden[c.name] = { args: c.args, ...runCase(bin, dir, c, env) };
      process.stderr.write(`${c.name}: exit ${golden[c.name]!.exit}, ${golden[c.name]!.rows} rows\n`);
    }
    fs.writeFileSync(out, JSON.stringify({ recorded_with: checkout, cases: golden }, null, 1) + '\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
