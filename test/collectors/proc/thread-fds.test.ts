// A target with more threads than the agent has descriptors: with threads: true the proc collector keeps at most
// MAX_KEPT_THREADS threads' files open and opens, reads and closes the others at each sample, so under
// `ulimit -n 1024` a 1500-thread target gives every thread its row and the agent's descriptors stay bounded; and the
// agent's own memory reading (process.memoryUsage.rss() opens /proc/self/stat) gives a reason at EMFILE, not a crash.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_KEPT_THREADS } from '../../../src/collectors/proc/sampler.js';
import { nativeAddon } from '../../../src/native/addon.js';
import { ROOT } from '../../helpers/cli.js';
import { has } from '../../helpers/programs.js';
import { tmpDir } from '../../helpers/tmp.js';
import { threadedTarget } from '../../helpers/threaded-target.js';

const THREADS = 1500;

/** Runs procLoop (threads: true, 3 samples) on `pid` in a node under `ulimit -n 1024`; prints what it saw as JSON. */
function runUnderUlimit(pid: number, kind: 'native' | 'ts'): Record<string, unknown> {
  const dir = tmpDir();
  const script = path.join(dir, 'child.mts');
  const src = (p: string) => JSON.stringify(path.join(ROOT, 'src', p));
  fs.writeFileSync(script, `
import fs from 'node:fs';
import { procLoop } from ${src('collectors/proc/run-loop.ts')};
import { JsonlWriter } from ${src('rows/jsonl-writer.ts')};
import { EpisodeClock } from ${src('clock/origin.ts')};
import { readRss, SelfTelemetry } from ${src('agent/self-telemetry.ts')};
const out = ${JSON.stringify(path.join(dir, 'rows.jsonl'))};
const writer = new JsonlWriter(out, { availableInDeployment: true });
const controller = new AbortController();
const clock = new EpisodeClock(0);
const now = clock.now.bind(clock);
let taken = 0, maxFds = 0;
clock.now = () => {
  maxFds = Math.max(maxFds, fs.readdirSync('/proc/self/fd').length);
  if (++taken >= 3) controller.abort();
  return now();
};
await procLoop({ pid: ${pid}, writer, clock, intervalMs: 1, signal: controller.signal, threads: true, sampler: ${JSON.stringify(kind)} });
writer.close();
const rows = fs.readFileSync(out, 'utf8').trim().split('\\n').map((l) => JSON.parse(l));
const threadRows = rows.filter((r) => 'tid' in r);
// Then the agent's memory reading with every descriptor taken: a reason, not a throw; and summary.json's peak, from
// what the agent opened at its start (it was 0 when no row could read rss).
const self = new SelfTelemetry(writer, clock);
const held = [];
try { for (;;) held.push(fs.openSync('/dev/null', 'r')); } catch {}
const rss = readRss();
const peak = self.totals().peak_rss_bytes;
for (const fd of held) fs.closeSync(fd);
console.log(JSON.stringify({
  maxFds, processRows: rows.length - threadRows.length, threadRows: threadRows.length,
  threadRowsWithValues: threadRows.filter((r) => typeof r.cpu_user_jiffies === 'number').length,
  reasons: [...new Set(threadRows.flatMap((r) => Object.values(r.null_reasons ?? {})).filter((x) => !String(x).startsWith('first sample')))].slice(0, 3),
  limit: fs.readFileSync('/proc/self/limits', 'utf8').split('\\n').find((l) => l.startsWith('Max open files')),
  rss, peak,
}));
`);
  const r = spawnSync('sh', ['-c', `ulimit -n 1024; exec "${process.execPath}" --import tsx "${script}"`], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, TSX_DISABLE_CACHE: '1' }, maxBuffer: 1 << 24 });
  expect(r.stderr, 'the child died').not.toMatch(/EMFILE|Error/);
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

describe.runIf(has('python3'))(`a target with ${THREADS} threads, the collector under ulimit -n 1024`, () => {
  it.each(nativeAddon() ? (['native', 'ts'] as const) : (['ts'] as const))('%s: every thread has its row, the descriptors stay bounded, EMFILE gives a reason', async (kind) => {
    const target = await threadedTarget(THREADS);
    const got = runUnderUlimit(target.pid!, kind);
    expect(got.limit).toMatch(/^Max open files\s+1024\s/);
    expect(got.processRows).toBe(3);
    expect(got.threadRows as number).toBeGreaterThanOrEqual(3 * THREADS);
    expect(got.threadRowsWithValues).toBe(got.threadRows); // no thread lost to EMFILE
    expect(got.reasons).toEqual([]);
    // The kept descriptors (two per kept thread) plus node's own: far under the limit.
    expect(got.maxFds as number).toBeLessThanOrEqual(2 * MAX_KEPT_THREADS + 100);
    expect((got.rss as { reason: string }).reason).toMatch(/^EMFILE reading the agent's resident memory/);
    expect(got.peak as number).toBeGreaterThan(10 << 20); // regression: 0 when the rss was never readable
  });
});
