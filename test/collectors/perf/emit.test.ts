// The perf collector against the real perf: the field's emit test, plus what
// its lifecycle promises. Skips only where perf is absent (CI installs it).
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runLoop } from '../../../src/collectors/perf/run-loop.js';
import { LABTEL_BIN } from '../../helpers/cli.js';
import { recordEmitEvidence, witnessProgram } from '../../helpers/emit-witness.js';
import { has } from '../../helpers/programs.js';
import { abortWhenLines, never, readJsonl, tmpDir } from '../../helpers/tmp.js';

const exec = promisify(execFile);
const hasPerf = has('perf');

/** `exec yes` so the pid is the busy process itself, not a shell waiting on it. */
const busy = () => spawn('sh', ['-c', 'exec yes >/dev/null'], { stdio: 'ignore' });

/** Once `file` holds at least `lines` whole lines. */
const untilLines = (file: string, lines: number) => new Promise<void>((r) => abortWhenLines(file, lines).addEventListener('abort', () => r()));

/** Whether process `pid` holds perf event descriptors: perf stat has attached its counters. */
function holdsPerfEvents(pid: number): boolean {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:[perf_event]';
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** perf processes attached to `target` (by their argv, read from /proc). */
function perfPids(target: number): number[] {
  const found: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'latin1').split('\0');
      if (/(^|\/)perf$/.test(argv[0]!) && argv[1] === 'stat' && argv.includes('-p') && argv[argv.indexOf('-p') + 1] === String(target)) found.push(Number(d));
    } catch {
      // gone
    }
  }
  return found;
}

describe.skipIf(!hasPerf)('perf collector against real perf', () => {
  // Regression for: perf writes its statistics to stderr when attached with -p, so reading stdout gave 0 rows.
  // (It stops once 3 rows are on disk, not after a set time: no clock in the test.)
  it('emits rows against a busy pid, the count on disk equals the returned count, and some metric is non-null', async () => {
    const b = busy();
    const out = path.join(tmpDir(), 'telemetry-perf.jsonl');
    const stop = new AbortController();
    let rows: number;
    let perf: ReturnType<typeof witnessProgram>;
    try {
      const done = runLoop({ pid: b.pid!, outputPath: out, tMonoOriginNs: 0, intervalMs: 200, events: ['page-faults', 'context-switches', 'cpu-clock'], signal: stop.signal });
      await untilLines(out, 1);
      const attached = perfPids(b.pid!);
      expect(attached).toHaveLength(1);
      perf = witnessProgram('perf', attached[0]!); // the process that wrote them is the real perf
      await untilLines(out, 3);
      stop.abort();
      rows = await done;
    } finally {
      b.kill();
    }
    expect(rows).toBeGreaterThanOrEqual(3);
    const parsed = readJsonl(out);
    expect(parsed).toHaveLength(rows);
    expect(parsed[0]).toMatchObject({ source: 'host_perf', available_in_deployment: false });
    for (const r of parsed) {
      expect(r).toHaveProperty('t_mono_ns');
      expect(r.interval_s as number).toBeGreaterThan(0);
    }
    // Regression for: `cycles:u` names left every metric null for weeks.
    const metrics = ['cycles', 'instructions', 'page_faults', 'context_switches', 'branches', 'cpu_clock_ms'];
    const measured = parsed.filter((r) => metrics.some((k) => r[k] !== null && r[k] !== undefined));
    expect(measured.length).toBeGreaterThan(0);
    recordEmitEvidence('perf', perf, measured.length);
  });

  it('ends by itself when the target exits, and leaves no perf behind', async () => {
    const b = spawn('sleep', ['0.8']);
    const out = path.join(tmpDir(), 'telemetry-perf.jsonl');
    const rows = await runLoop({ pid: b.pid!, outputPath: out, tMonoOriginNs: 0, intervalMs: 100, events: ['cpu-clock'], signal: never() });
    expect(rows).toBeGreaterThanOrEqual(1);
    expect(perfPids(b.pid!)).toEqual([]);
  });

  it('page faults summed over the rows are within 5% of a direct perf stat of the same workload', async () => {
    // The workload starts up, says "ready", waits for a byte on stdin, then touches 64 MiB:
    // perf attached after "ready" sees exactly the same work in both runs.
    const work = 'import sys; print("ready", flush=True); sys.stdin.read(1); b = bytearray(64 << 20)\nfor i in range(0, len(b), 4096): b[i] = 1';
    const start = async () => {
      const p = spawn('python3', ['-c', work], { stdio: ['pipe', 'pipe', 'ignore'] });
      await new Promise((r) => p.stdout!.once('data', r));
      return p;
    };
    // Direct: plain perf stat attached the same way, one total at the end.
    const w0 = await start();
    const direct = spawn('perf', ['stat', '-j', '-e', 'page-faults', '-p', String(w0.pid), '--log-fd', '1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    direct.stdout.on('data', (d) => (text += d));
    // Not a fixed wait: the workload goes on once perf holds its counters on it.
    while (!holdsPerfEvents(direct.pid!)) await new Promise((r) => setTimeout(r, 10));
    w0.stdin!.end('x');
    await new Promise((r) => direct.once('exit', r));
    const expected = Number(JSON.parse(text.trim().split('\n').pop()!)['counter-value']);
    const w = await start();
    const out = path.join(tmpDir(), 'telemetry-perf.jsonl');
    const done = runLoop({ pid: w.pid!, outputPath: out, tMonoOriginNs: 0, intervalMs: 100, events: ['page-faults'], signal: never() });
    // perf is attached once its first interval row is on disk.
    await new Promise<void>((r) => abortWhenLines(out, 1).addEventListener('abort', () => r()));
    w.stdin!.end('x');
    await done;
    const sum = readJsonl(out).reduce((n, r) => n + ((r.page_faults as number) ?? 0), 0);
    expect(expected).toBeGreaterThan(16000);
    expect(Math.abs(sum - expected) / expected).toBeLessThan(0.05);
  });

  it('restarts perf with backoff when it is killed, and reports it', async () => {
    const b = busy();
    const dir = tmpDir();
    const manifest = path.join(dir, 'm.json');
    fs.writeFileSync(manifest, JSON.stringify({ output_dir: path.join(dir, 'ep'), target: { pid: b.pid }, collectors: { perf: { interval_ms: 100, events: ['cpu-clock'] } } }));
    const agent = spawn(process.execPath, [LABTEL_BIN, 'run', manifest, '--quiet'], { stdio: 'ignore' });
    const file = path.join(dir, 'ep', 'telemetry-perf.jsonl');
    try {
      await new Promise<void>((r) => abortWhenLines(file, 2).addEventListener('abort', () => r()));
      for (const p of perfPids(b.pid!)) process.kill(p, 'SIGKILL');
      const before = fs.readFileSync(file, 'utf8').split('\n').length;
      await new Promise<void>((r) => abortWhenLines(file, before + 3).addEventListener('abort', () => r()));
      agent.kill('SIGTERM');
      await new Promise((r) => agent.once('exit', r));
    } finally {
      b.kill();
    }
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'ep', 'summary.json'), 'utf8'));
    expect(summary.collectors.perf.status).toBe('ok');
    expect(summary.collectors.perf.detail.restarts).toBeGreaterThanOrEqual(1);
    expect(summary.collectors.perf.errors[0]).toMatch(/^perf killed by SIGKILL; restarting in 500 ms$/);
    expect(perfPids(b.pid!)).toEqual([]);
  });

  it('leaves no perf running when the agent itself is SIGKILLed', async () => {
    const b = busy();
    const dir = tmpDir();
    const manifest = path.join(dir, 'm.json');
    fs.writeFileSync(manifest, JSON.stringify({ output_dir: path.join(dir, 'ep'), target: { pid: b.pid }, collectors: { perf: { interval_ms: 100, events: ['cpu-clock'] } } }));
    const agent = spawn(process.execPath, [LABTEL_BIN, 'run', manifest, '--quiet'], { stdio: 'ignore' });
    try {
      await new Promise<void>((r) => abortWhenLines(path.join(dir, 'ep', 'telemetry-perf.jsonl'), 1).addEventListener('abort', () => r()));
      expect(perfPids(b.pid!).length).toBe(1);
      agent.kill('SIGKILL');
      await new Promise((r) => agent.once('exit', r));
      // Until it is gone (pdeathsig): a perf that never goes is this test's timeout, not a clock in it.
      while (perfPids(b.pid!).length) await new Promise((r) => setTimeout(r, 50));
      expect(perfPids(b.pid!)).toEqual([]);
    } finally {
      b.kill();
    }
  });

  it('doctor reports perf, perf_event_paranoid and which events count', async () => {
    const { stdout } = await exec(process.execPath, [LABTEL_BIN, 'doctor', '--json']);
    const perf = JSON.parse(stdout).collectors.perf;
    expect(perf.available).toBe(true);
    expect(perf.reason).toMatch(/^perf at \/\S+perf, perf_event_paranoid -?\d+; counts .*cpu-clock/);
  });
});
