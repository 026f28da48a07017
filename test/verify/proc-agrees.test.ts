// proc: `labtel run` counts a process row as measured exactly when verify does.
// Regression for: the loop counted a row only when cpu_user_jiffies was read, verify when any
// measurement was (rows.ts): on a /proc whose stat is unreadable garbage but statm is fine (the
// golden 'garbage' fixture), verify calls the rows measured and `labtel run` fails the collector.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EpisodeClock } from '../../src/clock/origin.js';
import { procLoop } from '../../src/collectors/proc/run-loop.js';
import { measuresSomething } from '../../src/rows/measurements.js';
import { JsonlWriter } from '../../src/rows/jsonl-writer.js';
import { abortWhenRows, readJsonl, tmpDir } from '../helpers/tmp.js';

const GARBAGE = path.join(import.meta.dirname, '../fixtures/proc/garbage/proc');

describe('proc: labtel run counts a process row as measured exactly when verify does', () => {
  it.each(['ts', 'native'] as const)('%s sampler, on the garbage fixture (stat unreadable, statm read)', async (sampler) => {
    const out = path.join(tmpDir(), 'telemetry-proc.jsonl');
    const writer = new JsonlWriter(out, { availableInDeployment: true });
    const r = await procLoop({ pid: 4242, procRoot: GARBAGE, sampler, pageSize: 4096, writer, clock: new EpisodeClock(process.hrtime.bigint()), intervalMs: 10, signal: abortWhenRows(out, (rows) => rows.length >= 3) });
    writer.close();
    const rows = readJsonl(out).filter((x) => !('tid' in x));
    expect(rows.length).toBeGreaterThanOrEqual(3);
    expect(rows[0]!.rss_bytes).toBe(204800);
    expect(rows[0]!.cpu_user_jiffies).toBeNull();
    const measured = rows.filter((x) => measuresSomething('host_proc', x)).length;
    expect(measured).toBe(rows.length);
    expect(r.rowsWithValues).toBe(measured);
  });
});
