import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEpisode } from '../../src/agent/run-episode.js';
import { spawnModuleWorker } from '../../src/util/spawn-worker.js';
import type { FromWorker } from '../../src/agent/worker-protocol.js';
import { parseManifest } from '../../src/manifest/load.js';
import { procSpec } from '../../src/collectors/proc/spec.js';
import { ROW_SCHEMAS } from '../../src/rows/registry.js';
import { abortWhenLines, readJsonl, tmpDir } from '../helpers/tmp.js';

const manifest = (dir: string, extra: object = {}) =>
  parseManifest({ output_dir: dir, duration_s: 2, target: { pid: process.pid }, collectors: { proc: { interval_ms: 50, threads: true } }, ...extra });

describe('runEpisode', () => {
  it('writes episode.json, one file per collector, agent rows and summary.json', async () => {
    const dir = path.join(tmpDir(), 'ep1');
    const { summary } = await runEpisode({ manifest: manifest(dir) });
    expect(fs.readdirSync(dir).sort()).toEqual(['episode.json', 'summary.json', 'telemetry-agent.jsonl', 'telemetry-proc.jsonl']);

    const ep = JSON.parse(fs.readFileSync(path.join(dir, 'episode.json'), 'utf8'));
    expect(ep.episode).toBe('ep1');
    expect(ep.clock.boot_id).toBe(fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    expect(ep.clock.t_mono_origin_ns).toMatch(/^\d+$/);
    expect(BigInt(ep.clock.realtime_minus_mono_ns)).toBe(BigInt(ep.clock.realtime_origin_ns) - BigInt(ep.clock.t_mono_origin_ns));
    expect(ep.clock.clk_tck).toBeGreaterThan(0);
    expect(ep.manifest.collectors.proc).toEqual({ enabled: true, optional: false, interval_ms: 50, threads: true, cgroup: true, cgroup_interval_ms: 1000 });
    expect(ep.host.kernel).toBeTruthy();
    expect(ep.host.cpu.model).toBeTruthy();
    expect(ep.host.memory_bytes).toBeGreaterThan(0);
    expect(Array.isArray(ep.host.network_interfaces)).toBe(true);
    expect(ep.labtel_version).toMatch(/^\d+\.\d+\.\d+/);
    expect(ep.preflight.proc).toEqual({ available: true, reason: 'native sampler' });
    expect(Object.keys(ep.preflight)).toEqual(['proc', 'perf', 'pcap', 'netflow', 'qmp', 'guest_agent']);

    const rows = readJsonl(path.join(dir, 'telemetry-proc.jsonl'));
    expect(summary.exit_reason).toBe('duration');
    expect(summary.collectors.proc).toMatchObject({ status: 'ok', rows: rows.length, end: 'stopped', errors: [], detail: { sampler: 'native' } });
    expect(rows.length).toBeGreaterThan(0);
    // The proc file holds its host_cgroup rows too (one at the start, one a second on, in a 2 s episode).
    expect(rows.filter((r) => r.source === 'host_cgroup').length).toBeGreaterThanOrEqual(2);
    for (const r of rows) {
      expect(['host_proc', 'host_cgroup']).toContain(r.source);
      expect(() => ROW_SCHEMAS[r.source as 'host_proc' | 'host_cgroup']!.parse(r)).not.toThrow();
      // Rows are stamped on the episode clock: after the origin, before the stop.
      expect(r.t_mono_ns as number).toBeGreaterThanOrEqual(0);
      expect(r.t_mono_ns as number).toBeLessThanOrEqual(summary.t_mono_stop_ns);
    }

    const agent = readJsonl(path.join(dir, 'telemetry-agent.jsonl'));
    expect(agent.filter((r) => 'event' in r).map((r) => r.event)).toEqual(['episode_started', 'collector_started', 'episode_stopping', 'collector_ended']);
    expect(agent.length).toBeGreaterThan(0);
    for (const r of agent) expect(() => ROW_SCHEMAS.agent!.parse(r)).not.toThrow();
    // The agent measures itself: a row at the start, every second, and after the stop, with each collector's rows.
    const self = agent.filter((r) => !('event' in r));
    expect(self.length).toBeGreaterThanOrEqual(3); // a 2 s episode
    expect(self.at(-1)).toMatchObject({ collectors: { proc: { rows: rows.length, queued: 0 } } });
    expect(self.at(-1)!.rss_bytes as number).toBeGreaterThan(10 << 20);
    expect(self.at(-1)!.cpu_user_s as number).toBeGreaterThan(0);
    expect(summary.agent.cpu_s).toBeGreaterThan(0);
    expect(summary.agent.peak_rss_bytes).toBeGreaterThanOrEqual(self.at(-1)!.rss_bytes as number);
  });

  it('refuses a non-empty episode directory unless forced, and then removes only its own files', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'summary.json'), '{}');
    await expect(runEpisode({ manifest: manifest(dir) })).rejects.toThrow(`episode directory ${dir} is not empty (1 entries); choose another output_dir or pass --force`);
    const { summary } = await runEpisode({ manifest: manifest(dir, { duration_s: undefined }), force: true, stop: abortWhenLines(path.join(dir, 'telemetry-proc.jsonl')) });
    expect(summary.collectors.proc!.status).toBe('ok');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    await expect(runEpisode({ manifest: manifest(dir), force: true })).rejects.toThrow(/holds files labtel did not write \(notes.txt\)/);
    expect(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('refuses a collector that cannot run, unless it is optional, then skips it with the reason', async () => {
    const dir = path.join(tmpDir(), 'ep');
    const withQmp = (optional: boolean) =>
      parseManifest({ output_dir: dir, target: { pid: process.pid }, collectors: { proc: {}, qmp: { socket: '/run/none.sock', optional } } });
    await expect(runEpisode({ manifest: withQmp(false) })).rejects.toThrow(
      'collectors.qmp: cannot run: QMP socket /run/none.sock: ENOENT (mark it "optional": true to run the episode without it)',
    );
    expect(fs.existsSync(dir)).toBe(false); // refused before anything was written
    const { summary } = await runEpisode({ manifest: withQmp(true), stop: abortWhenLines(path.join(dir, 'telemetry-proc.jsonl')) });
    expect(summary.collectors.qmp).toMatchObject({ status: 'skipped', reason: 'QMP socket /run/none.sock: ENOENT', rows: 0 });
    expect(summary.collectors.proc!.status).toBe('ok');
    const agent = readJsonl(path.join(dir, 'telemetry-agent.jsonl'));
    expect(agent.find((r) => r.event === 'collector_skipped')).toMatchObject({ collector: 'qmp' });
  });

  it('ends by itself when the target exits and every collector is done', async () => {
    const child = spawn('sleep', ['2']); // outlives the worker's start-up, then exits on its own
    const dir = path.join(tmpDir(), 'ep');
    const m = parseManifest({ output_dir: dir, target: { pid: child.pid }, collectors: { proc: { interval_ms: 20 } } }); // no duration
    const { summary } = await runEpisode({ manifest: m });
    expect(summary.exit_reason).toBe('collectors_ended');
    expect(summary.collectors.proc).toMatchObject({ status: 'ok', end: 'target_exited' });
  });

  it('stops on an abort signal, as on SIGTERM', async () => {
    const dir = path.join(tmpDir(), 'ep');
    const m = parseManifest({ output_dir: dir, target: { pid: process.pid }, collectors: { proc: { interval_ms: 10 } } });
    const { summary } = await runEpisode({ manifest: m, stop: abortWhenLines(path.join(dir, 'telemetry-proc.jsonl'), 5) });
    expect(summary.exit_reason).toBe('aborted');
    expect(summary.collectors.proc!.rows).toBeGreaterThan(0);
  });
});

describe('collector worker', () => {
  it('reports a collector that throws as a failure message instead of crashing', async () => {
    const dir = tmpDir();
    const w = spawnModuleWorker(new URL('../../src/agent/collector-run.ts', import.meta.url).href, 'collector-worker', {
      name: 'proc', entry: procSpec.entry, config: { interval_ms: 10, threads: false }, target: { pid: 0x3ffffff0 },
      originNs: '0', realtimeMinusMonoNs: '0', outputPath: path.join(dir, 'telemetry-proc.jsonl'), availableInDeployment: true,
    });
    const messages: FromWorker[] = [];
    w.on('message', (m: FromWorker) => messages.push(m));
    const code = await new Promise((resolve) => w.once('exit', resolve));
    expect(code).toBe(0);
    expect(messages).toEqual([
      { type: 'started', tid: expect.any(Number) },
      { type: 'failed', rows: 0, message: 'cannot sample /proc/1073741808: ENOENT (no such process)' },
    ]);
  });
});

describe('runEpisode stopped during start-up', () => {
  it('still writes a summary that says nothing ran and why', async () => {
    const dir = path.join(tmpDir(), 'ep');
    const m = parseManifest({ output_dir: dir, target: { pid: process.pid }, collectors: { proc: {} } });
    const { summary } = await runEpisode({ manifest: m, stop: AbortSignal.abort() });
    expect(summary.exit_reason).toBe('aborted');
    expect(summary.collectors.proc).toMatchObject({ status: 'skipped', reason: 'the episode was stopped (aborted) before it started', rows: 0 });
    expect(fs.existsSync(path.join(dir, 'summary.json'))).toBe(true);
  });
});
