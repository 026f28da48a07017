// summary.json's agent.peak_rss_bytes is the agent's own peak: a parent that used much more memory before it started
// labtel (a Python harness, npm) does not lend it its own, as getrusage's ru_maxrss would (Linux keeps it across fork
// and exec).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { has } from '../helpers/programs.js';
import { tmpDir } from '../helpers/tmp.js';

describe.runIf(has('python3'))('the agent\'s peak resident memory', () => {
  // Regression for: peak_rss_bytes from ru_maxrss read 813 MiB for an episode whose rows never passed 73 MiB, started
  // from a Python process that had held 800 MiB.
  it('is the agent process\'s own, not that of the parent that started it', () => {
    const dir = tmpDir();
    const script = path.join(dir, 'child.mts');
    fs.writeFileSync(
      script,
      `
import { SelfTelemetry } from ${JSON.stringify(path.join(ROOT, 'src/agent/self-telemetry.ts'))};
import { JsonlWriter } from ${JSON.stringify(path.join(ROOT, 'src/rows/jsonl-writer.ts'))};
import { EpisodeClock } from ${JSON.stringify(path.join(ROOT, 'src/clock/origin.ts'))};
const self = new SelfTelemetry(new JsonlWriter(${JSON.stringify(path.join(dir, 'rows.jsonl'))}, { availableInDeployment: true }), new EpisodeClock(0));
console.log(JSON.stringify({ ...self.totals(), rss: process.memoryUsage.rss() }));
`,
    );
    const parent = `
import subprocess, sys
held = bytearray(600 << 20)
for i in range(0, len(held), 4096): held[i] = 1
r = subprocess.run([${JSON.stringify(process.execPath)}, '--import', 'tsx', ${JSON.stringify(script)}], cwd=${JSON.stringify(ROOT)}, capture_output=True, text=True)
sys.stdout.write(r.stdout); sys.stderr.write(r.stderr); sys.exit(r.returncode)`;
    const r = spawnSync('python3', ['-c', parent], { encoding: 'utf8', env: { ...process.env, TSX_DISABLE_CACHE: '1' } });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout.trim().split('\n').pop()!) as { peak_rss_bytes: number; rss: number };
    expect(got.peak_rss_bytes).toBeGreaterThanOrEqual(got.rss * 0.5);
    expect(got.peak_rss_bytes).toBeLessThan(400 << 20); // the parent held 600 MiB; a node child is far below
  });
});
