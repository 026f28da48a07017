// labtel report on a real episode: `labtel run` with a pidfile target (a
// busy shell loop) that is killed mid-episode and started again under a new
// pid, whose CPU counters start over, lower than the old process's. Read back
// from the page in chromium: no negative rate, the restart is a gap in the
// lines and a marker, every null is a gap (spanGaps false), and no CPU value
// is above what the process's threads could use. The screenshot is kept in
// test-artifacts/report-restart.png.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LABTEL_BIN, ROOT } from '../helpers/cli.js';
import { readJsonl, tmpDir } from '../helpers/tmp.js';
import { closeBrowser, hasChromium, openReport } from './open-report.js';

type Row = Record<string, unknown>;
const BLUE: [number, number, number] = [0x1f, 0x77, 0xb4]; // the first series: 'process', 'RSS MiB'
const PURPLE: [number, number, number] = [0x7b, 0x2f, 0xbf]; // break markers

const started: ChildProcess[] = [];
afterEach(() => {
  for (const p of started.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});
afterAll(closeBrowser);

const busy = (): ChildProcess => {
  const p = spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' });
  started.push(p);
  return p;
};
const exited = (p: ChildProcess) => new Promise<void>((resolve) => (p.exitCode !== null || p.signalCode !== null ? resolve() : p.once('exit', () => resolve())));

/** The whole lines of a JSONL file a running agent is writing. */
function rowsSoFar(file: string): Row[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row);
}
const ticks = (r: Row) => (typeof r.cpu_user_jiffies === 'number' && typeof r.cpu_sys_jiffies === 'number' ? r.cpu_user_jiffies + r.cpu_sys_jiffies : null);

/** Waits (no time limit but the test's) until `cond` holds; what is waited for is said if the test times out. */
async function until(what: string, cond: () => boolean, agent: ChildProcess): Promise<void> {
  while (!cond()) {
    if (agent.exitCode !== null) throw new Error(`labtel run exited (${agent.exitCode}) while waiting for ${what}`);
    await sleep(50);
  }
}

describe.skipIf(!hasChromium())('labtel report on a real episode with a pidfile target restarted mid-episode', () => {
  it('no negative rate; the restart is a gap and a marker on the page; nulls are gaps; CPU within what the threads could use', { timeout: 120_000 }, async () => {
    const dir = tmpDir();
    const ep = path.join(dir, 'ep');
    const pidfile = path.join(dir, 'target.pid');
    const first = busy();
    fs.writeFileSync(pidfile, `${first.pid}\n`);
    const manifest = path.join(dir, 'episode.json');
    fs.writeFileSync(manifest, JSON.stringify({ episode: 'restart', output_dir: ep, target: { pidfile }, collectors: { proc: { interval_ms: 50, threads: true } } }));
    const agent = spawn(process.execPath, [LABTEL_BIN, 'run', manifest], { stdio: ['ignore', 'ignore', 'pipe'] });
    started.push(agent);
    let stderr = '';
    agent.stderr!.on('data', (d) => (stderr += d));
    const procFile = path.join(ep, 'telemetry-proc.jsonl');
    const processRows = (pid: number | undefined) => rowsSoFar(procFile).filter((r) => !('tid' in r) && r.pid === pid && ticks(r) !== null);

    // The first process runs until it has used a fair amount of CPU, so the new one's counters start lower.
    await until('20 clock ticks of CPU in the first process', () => processRows(first.pid).some((r) => ticks(r)! >= 20), agent);
    first.kill('SIGKILL');
    await exited(first);
    const second = busy();
    fs.writeFileSync(pidfile, `${second.pid}\n`);
    await until('10 samples of the second process', () => processRows(second.pid).length >= 10, agent);
    agent.kill('SIGINT');
    await exited(agent);
    expect(agent.exitCode, stderr).toBe(0);
    second.kill('SIGKILL');

    const rows = readJsonl(procFile);
    const procRows = rows.filter((r) => !('tid' in r));
    const exit = procRows.find((r) => r.process_event === 'exited')!;
    const restart = procRows.find((r) => r.process_event === 'restarted')!;
    expect(exit.pid).toBe(first.pid);
    expect(restart.pid).toBe(second.pid);
    const lastOfFirst = procRows.filter((r) => r.pid === first.pid && ticks(r) !== null).at(-1)!;
    // What made the old report draw a negative rate: the new process's counters start below the old one's.
    expect(ticks(lastOfFirst)!).toBeGreaterThan(ticks(restart)!);
    const xExit = (exit.t_mono_ns as number) / 1e9;
    const xRestart = (restart.t_mono_ns as number) / 1e9;

    const r = await openReport(ep);
    fs.mkdirSync(path.join(ROOT, 'test-artifacts'), { recursive: true });
    await r.page.screenshot({ path: path.join(ROOT, 'test-artifacts', 'report-restart.png'), fullPage: true });
    expect(r.errors).toEqual([]);
    const cpu = r.panel('proc-cpu');
    expect(cpu.labels[0]).toBe('process');
    expect(cpu.labels.length).toBeGreaterThan(1); // the shells' threads
    const values = cpu.data.slice(1).flat().filter((v): v is number => v !== null);
    expect(values.length).toBeGreaterThan(20);
    expect(Math.min(...values), 'a negative CPU rate on the page').toBeGreaterThanOrEqual(0);
    // A shell has one thread: neither it nor the process can be drawn above one core.
    expect(Math.max(...values), 'a CPU value above what one thread could use').toBeLessThanOrEqual(100);

    const proc = r.series('proc-cpu', 'process');
    const value = (x: number) => proc.find(([t]) => Math.abs(t - x) < 1e-9)?.[1];
    expect(value(xExit), 'the exit must be a gap').toBeNull();
    expect(value(xRestart), 'the restart must be a gap: no rate across it').toBeNull();
    expect(proc.some(([x, v]) => x > xRestart && v !== null), 'no CPU drawn after the restart').toBe(true);
    const before = proc.filter(([x, v]) => x < xExit && v !== null).at(-1)!;
    const after = proc.find(([x, v]) => x > xRestart && v !== null)!;
    expect(await r.pixelsAt('proc-cpu', (before[0] + after[0]) / 2, BLUE), 'the process line is drawn across the restart').toBe(0);
    expect(await r.pixelsAt('proc-rss', (xExit + xRestart) / 2, BLUE), 'the RSS line is drawn across the restart').toBe(0);
    // ... and is drawn where it was measured (so the check above can fail).
    const measured = proc.filter(([x, v]) => x < xExit && v !== null);
    expect(measured.length).toBeGreaterThan(2);
    expect(await r.pixelsAt('proc-rss', (measured[0]![0] + measured.at(-1)![0]) / 2, BLUE)).toBeGreaterThan(0);

    const marks = cpu.markers.filter((m) => m.kind === 'break').map((m) => [m.t, m.label]);
    expect(marks).toContainEqual([xExit, `proc: target exited (pid ${first.pid})`]);
    expect(marks).toContainEqual([xRestart, `proc: target restarted (pid ${first.pid}→${second.pid})`]);
    expect(await r.pixelsAt('proc-cpu', xRestart, PURPLE), 'the restart marker is not drawn').toBeGreaterThan(0);
    expect(r.panel('proc-rss').markers.map((m) => m.label)).toContain(`proc: target restarted (pid ${first.pid}→${second.pid})`);

    expect(r.panels.length).toBeGreaterThan(0);
    for (const p of r.panels) {
      expect(p.spanGaps.length).toBeGreaterThan(0);
      expect(p.spanGaps.every((g) => g === false), `panel ${p.id} joins lines across nulls`).toBe(true);
    }
  });
});
