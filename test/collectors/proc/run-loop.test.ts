import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runLoop } from '../../../src/collectors/proc/run-loop.js';
import { nativeAddon } from '../../../src/native/addon.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import { recordEmitEvidence, witnessProgram } from '../../helpers/emit-witness.js';
import { abortWhenLines, abortWhenRows, never, readJsonl, tmpDir } from '../../helpers/tmp.js';

const kinds = nativeAddon() ? (['native', 'ts'] as const) : (['ts'] as const);

describe.each(kinds)('proc collector (%s sampler)', (sampler) => {
  // Regression for the field's "collector silently writes zero rows": a live pid must give rows with core fields.
  // (It runs until 3 rows are on disk, not for a set time: no clock in the test.)
  it('emits rows against its own live process until stopped (3 on disk), the count on disk equals the returned count, with the core fields non-null', async () => {
    const out = path.join(tmpDir(), 'telemetry-proc.jsonl');
    const target = witnessProgram('node', process.pid); // the real program here is the live target itself
    const rows = await runLoop({ pid: process.pid, outputPath: out, tMonoOriginNs: 0, intervalMs: 100, signal: abortWhenLines(out, 3), sampler });
    expect(rows).toBeGreaterThanOrEqual(3);
    const parsed = readJsonl(out);
    expect(parsed).toHaveLength(rows);
    for (const [i, r] of parsed.entries()) {
      expect(r.source).toBe('host_proc');
      expect(r.seq).toBe(i);
      expect(r.available_in_deployment).toBe(true);
      expect(r.cpu_user_jiffies).not.toBeNull();
      expect(r.rss_bytes).not.toBeNull();
      expect(r.vsize_bytes).not.toBeNull();
      expect(r).not.toHaveProperty('tid');
      expect(() => ROW_SCHEMAS.host_proc!.parse(r)).not.toThrow();
    }
    expect(parsed[0]!.process_event).toBe('started');
    expect(parsed[0]!.interval_s).toBeNull();
    expect((parsed[0]!.null_reasons as Record<string, string>).interval_s).toBe('first sample');
    expect(parsed[1]!.interval_s).toBeGreaterThan(0);
    recordEmitEvidence('proc', target, parsed.filter((r) => r.source === 'host_proc' && r.cpu_user_jiffies !== null).length);
  });

  it('writes thread rows with tid and comm when threads is on, and process rows without tid', async () => {
    const out = path.join(tmpDir(), 'telemetry-proc.jsonl');
    const twoSamples = abortWhenRows(out, (rows) => rows.filter((r) => !('tid' in r)).length >= 2);
    await runLoop({ pid: process.pid, outputPath: out, tMonoOriginNs: 0, intervalMs: 50, signal: twoSamples, sampler, threads: true });
    const parsed = readJsonl(out);
    const threads = parsed.filter((r) => 'tid' in r);
    const procs = parsed.filter((r) => !('tid' in r));
    expect(procs.length).toBeGreaterThanOrEqual(2);
    expect(threads.length).toBeGreaterThan(procs.length); // Node has several threads
    expect(threads.some((t) => t.tid === process.pid)).toBe(true); // the main thread's tid is the pid
    for (const t of threads) {
      expect(typeof t.comm).toBe('string');
      expect(t.pid).toBe(process.pid);
      expect(() => ROW_SCHEMAS.host_proc!.parse(t)).not.toThrow();
    }
    expect(parsed.map((r) => r.seq)).toEqual(parsed.map((_, i) => i)); // one seq over both kinds
  });

  it('records the exit of its target and ends by itself', async () => {
    const child = spawn('sleep', ['0.4']);
    const out = path.join(tmpDir(), 'telemetry-proc.jsonl');
    const rows = await runLoop({ pid: child.pid!, outputPath: out, tMonoOriginNs: 0, intervalMs: 20, signal: never(), sampler });
    const parsed = readJsonl(out);
    expect(rows).toBe(parsed.length);
    const last = parsed[parsed.length - 1]!;
    expect(last.process_event).toBe('exited');
    expect(last.cpu_user_jiffies).toBeNull();
    expect((last.null_reasons as Record<string, string>).cpu_user_jiffies).toBe('the target process exited');
    expect(parsed.filter((r) => r.process_event === 'exited')).toHaveLength(1);
  });

  it('follows a pidfile target to its next process and says so, so nobody subtracts across the restart', async () => {
    const dir = tmpDir();
    const pidfile = path.join(dir, 'qemu.pid');
    const first = spawn('sleep', ['0.3']);
    fs.writeFileSync(pidfile, `${first.pid}\n`);
    const second = spawn('sleep', ['30']);
    first.on('exit', () => fs.writeFileSync(pidfile, `${second.pid}\n`));
    const out = path.join(dir, 'telemetry-proc.jsonl');
    const { procLoop } = await import('../../../src/collectors/proc/run-loop.js');
    const { JsonlWriter } = await import('../../../src/rows/jsonl-writer.js');
    const { EpisodeClock } = await import('../../../src/clock/origin.js');
    const writer = new JsonlWriter(out, { availableInDeployment: true });
    const controller = new AbortController();
    const watch = setInterval(() => {
      // stop once a row of the second process has been written
      writer.flush();
      if (fs.readFileSync(out, 'utf8').includes(`"pid":${second.pid},`)) controller.abort();
    }, 50);
    try {
      await procLoop({ pid: first.pid!, pidfile, writer, clock: new EpisodeClock(0), intervalMs: 20, signal: controller.signal, sampler });
    } finally {
      clearInterval(watch);
      writer.close();
      second.kill();
    }
    const parsed = readJsonl(out);
    const events = parsed.map((r) => r.process_event).filter(Boolean);
    expect(events).toEqual(['started', 'exited', 'restarted']);
    const restarted = parsed.find((r) => r.process_event === 'restarted')!;
    expect(restarted.pid).toBe(second.pid);
    expect(restarted.interval_s).toBeNull();
    expect(restarted.pid).not.toBe(parsed[0]!.pid); // starttime has 10 ms ticks: two spawns may share one
  });

  it('refuses a pid that does not exist with the path and errno', async () => {
    const out = path.join(tmpDir(), 'telemetry-proc.jsonl');
    await expect(runLoop({ pid: 0x3ffffff0, outputPath: out, tMonoOriginNs: 0, intervalMs: 10, signal: never(), sampler })).rejects.toThrow(
      /cannot sample \/proc\/1073741808: ENOENT \(no such process\)/,
    );
  });
});
