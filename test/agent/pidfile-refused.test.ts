// A whole episode on a pidfile target rewritten by a hostile QEMU to name
// pid 1: neither proc nor perf switches to it, the refusal is in summary.json
// (errors and detail.pidfile_refused), and the next genuine rewrite is followed.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { runEpisode } from '../../src/agent/run-episode.js';
import { parseManifest } from '../../src/manifest/load.js';
import { abortAfter, readJsonl, tmpDir } from '../helpers/tmp.js';

const busy = (): ChildProcess => spawn('sh', ['-c', 'exec yes >/dev/null'], { stdio: 'ignore' });
const exited = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));
const rowsSoFar = (file: string): Record<string, unknown>[] => {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch {
    return [];
  }
};

describe('an episode on a pidfile rewritten to name pid 1', () => {
  // Regression for: proc and perf took on pid 1 (or any process) from a rewritten pidfile and watched it to the end.
  it('proc and perf do not switch to it; the refusal is counted and named in summary.json; the next rewrite is followed', async () => {
    const dir = tmpDir();
    const pidfile = path.join(dir, 'qemu.pid');
    const out = path.join(dir, 'ep');
    const a = busy();
    const b = busy();
    fs.writeFileSync(pidfile, `${a.pid}\n`);
    const stop = new AbortController();
    const bound = abortAfter(30_000);
    const procFile = path.join(out, 'telemetry-proc.jsonl');
    const perfFile = path.join(out, 'telemetry-perf.jsonl');
    const until = async (cond: () => boolean, what: string) => {
      while (!cond()) {
        if (bound.aborted) throw new Error(`never happened: ${what}`);
        await sleep(20);
      }
    };
    const m = parseManifest({ output_dir: out, target: { pidfile }, collectors: { proc: { interval_ms: 50 }, perf: { interval_ms: 100 } } });
    const run = runEpisode({ manifest: m, stop: AbortSignal.any([stop.signal, bound]) });
    try {
      await until(() => rowsSoFar(procFile).length >= 2 && rowsSoFar(perfFile).length >= 2, 'proc and perf rows of the first process');
      a.kill('SIGKILL');
      await exited(a);
      fs.writeFileSync(pidfile, '1\n');
      await until(() => rowsSoFar(procFile).some((x) => x.process_event === 'exited'), "proc's exited row");
      const procRowsAt = rowsSoFar(procFile).length;
      // Both collectors read the rewrite and said so (agent rows), before the next one is written.
      const refusedBy = () => rowsSoFar(path.join(out, 'telemetry-agent.jsonl')).filter((x) => x.event === 'collector_error' && String(x.message).includes('rewritten to name pid 1')).map((x) => x.collector);
      await until(() => refusedBy().includes('proc') && refusedBy().includes('perf'), 'proc and perf reporting the refused rewrite');
      expect(rowsSoFar(procFile).length).toBe(procRowsAt); // nothing written for pid 1
      fs.writeFileSync(pidfile, `${b.pid}\n`);
      await until(() => rowsSoFar(procFile).filter((x) => x.pid === b.pid).length >= 2 && rowsSoFar(perfFile).filter((x) => x.pid === b.pid).length >= 2, 'proc and perf rows of the process the next rewrite names');
      stop.abort();
      const { summary } = await run;
      for (const c of ['proc', 'perf'] as const) {
        expect(summary.collectors[c]!.detail, c).toMatchObject({ pidfile_refused: 1 });
        expect(summary.collectors[c]!.errors.join('\n'), c).toContain(`pidfile ${pidfile} was rewritten to name pid 1: pid 1 (init), never a QEMU; not followed`);
      }
    } finally {
      a.kill('SIGKILL');
      b.kill('SIGKILL');
      stop.abort();
      await run.catch(() => {});
    }
    const proc = readJsonl(procFile);
    const perf = readJsonl(perfFile);
    expect(proc.length).toBeGreaterThan(0);
    expect(perf.length).toBeGreaterThan(0);
    expect(proc.filter((x) => x.pid === 1)).toEqual([]);
    expect(perf.filter((x) => x.pid === 1)).toEqual([]);
  });
});
