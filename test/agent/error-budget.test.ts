// Issue 17: a hostile peer that makes a collector report a problem per line (an event
// flood, garbage lines) flooded the agent's own rows and log: every reportError became a
// collector_error agent row and a log line. Now a collector's messages are bounded at the
// source (src/agent/error-budget.ts): the first 100 pass, the rest are counted and said once.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readJsonl, tmpDir } from '../helpers/tmp.js';
import { ErrorBudget, MAX_MESSAGE_CHARS, MAX_REPORTED } from '../../src/agent/error-budget.js';

const TOY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'toy-collector', 'spec.ts');
process.env.LABTEL_TEST_COLLECTORS = TOY; // before the catalog is first imported
const { runEpisode } = await import('../../src/agent/run-episode.js');
const { parseManifest } = await import('../../src/manifest/load.js');
afterAll(() => {
  delete process.env.LABTEL_TEST_COLLECTORS;
});

describe('a collector flooded with problems', () => {
  it('reports the first 100, then counts the rest once (regression for: one agent row per problem)', async () => {
    const dir = path.join(tmpDir(), 'toy-flood');
    const manifest = parseManifest({ output_dir: dir, duration_s: 30, target: { pid: process.pid }, collectors: { toy: { interval_ms: 5, rows: 4, errors_per_row: 5000 } } });
    const { summary } = await runEpisode({ manifest });
    const toy = summary.collectors.toy!;
    expect(toy.status).toBe('ok');
    expect(toy.errors.length).toBe(MAX_REPORTED + 1);
    expect(toy.errors[0]).toBe('toy: problem 0 of row 0');
    expect(toy.errors.at(-1)).toBe(`${4 * 5000 - MAX_REPORTED} more errors not reported (only the first ${MAX_REPORTED} are)`);
    const agentErrors = readJsonl(path.join(dir, 'telemetry-agent.jsonl')).filter((r) => r.event === 'collector_error');
    expect(agentErrors.length).toBe(MAX_REPORTED + 1);
  });

  it('cuts a long message', () => {
    const sent: string[] = [];
    const b = new ErrorBudget((m) => sent.push(m));
    b.report('x'.repeat(10 * MAX_MESSAGE_CHARS));
    b.end(); // nothing suppressed: nothing more said
    expect(sent.length).toBe(1);
    expect(sent[0]!.length).toBe(MAX_MESSAGE_CHARS);
    expect(sent[0]!.endsWith('...')).toBe(true);
  });
});
