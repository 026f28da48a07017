// The report's "run delay per vCPU" panel, read back from the page in chromium: each vCPU thread's run_delay_ns
// over the interval (ms per s), from two consecutive samples of the same thread under the same process only.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderReport } from '../../src/report/render.js';
import { closeBrowser, hasChromium, openReport } from './open-report.js';
import { CraftedEpisode } from './crafted-episode.js';

afterAll(closeBrowser);

const round = (n: number) => Math.round(n * 1e6) / 1e6;
const at = (s: Array<[number, number | null]>, x: number): number | null | undefined => s.find(([t]) => Math.abs(t - x) < 1e-6)?.[1];

interface Th { tid: number; comm: string; vcpu: number | null; role: string; delay: number | null }

function sample(ep: CraftedEpisode, t: number, pid: number, starttime: number, threads: Th[], extra: Record<string, unknown> = {}): void {
  ep.row('proc', 'host_proc', t, {
    pid, starttime, process_event: null, interval_s: 0.1, state: 'R', processor: 0, cpu_user_jiffies: Math.round(t * 100), cpu_sys_jiffies: 0, minflt: 0, majflt: 0,
    num_threads: threads.length, vsize_bytes: 1e9, rss_bytes: 2 ** 27, shared_bytes: 0, text_bytes: 0, data_bytes: 0, rss_peak_bytes: 0, swap_bytes: 0,
    voluntary_ctxt_switches: 0, nonvoluntary_ctxt_switches: 0, io_rchar: 0, io_wchar: 0, io_read_bytes: 0, io_write_bytes: 0,
    cpu_time_ns: Math.round(t * 1e9), run_delay_ns: Math.round(t * 1e7), run_periods: Math.round(t * 100), ...extra,
  });
  for (const th of threads) {
    ep.row('proc', 'host_proc', t, {
      pid, tid: th.tid, comm: th.comm, vcpu: th.vcpu, role: th.role, starttime: starttime + 1, interval_s: 0.1, state: 'R', processor: 0,
      cpu_user_jiffies: Math.round(t * 50), cpu_sys_jiffies: 0, minflt: 0, majflt: 0, cpu_time_ns: Math.round(t * 5e8), run_delay_ns: th.delay, run_periods: 1,
      ...(th.delay === null ? { null_reasons: { run_delay_ns: 'crafted: EACCES' } } : {}),
    });
  }
}

describe.skipIf(!hasChromium())('the run delay per vCPU panel', () => {
  // Regression for (each a way a run delay line could claim more than was measured): a difference taken across a
  // pidfile restart (the new QEMU's counters start low: a negative delay), across a null, or across a silence;
  // and threads that are not vCPUs drawn as if they were.
  it('ms per s from consecutive samples of the same vCPU thread; gaps at a null, an exit, a restart and a silence', { timeout: 60_000 }, async () => {
    const ep = new CraftedEpisode({ proc: { interval_ms: 100, threads: true } });
    const threads = (i: number, base: number): Th[] => [
      { tid: 100, comm: 'qemu-system-x86', vcpu: null, role: 'main', delay: 9e6 * i },
      { tid: 101, comm: 'CPU 0/KVM', vcpu: 0, role: 'vcpu', delay: base + 2e6 * i }, // 2 ms per 100 ms: 20 ms per s
      { tid: 102, comm: 'CPU 1/KVM', vcpu: 1, role: 'vcpu', delay: i === 5 ? null : base + 5e6 * i }, // 50 ms per s, one null
    ];
    for (let i = 0; i <= 10; i++) sample(ep, round(1 + i / 10), 100, 5000, threads(i, 7e9), i === 0 ? { process_event: 'started' } : {});
    ep.row('proc', 'host_proc', 2.1, { pid: 100, starttime: 5000, process_event: 'exited', interval_s: null, null_reasons: { state: 'the target process exited' } });
    // The pidfile's next QEMU: counters start low again.
    for (let i = 0; i <= 10; i++) sample(ep, round(2.5 + i / 10), 200, 9000, threads(i, 0).map((t) => ({ ...t, tid: t.tid + 100 })), i === 0 ? { process_event: 'restarted' } : {});
    // A silence of a second, then the same threads again.
    for (let i = 12; i <= 14; i++) sample(ep, round(3.5 + i / 10 + 1), 200, 9000, threads(i, 0).map((t) => ({ ...t, tid: t.tid + 100 })));
    const dir = ep.write();
    const r = await openReport(dir);
    const panel = r.panel('proc-run-delay');
    expect(panel.labels).toEqual(['vCPU 0', 'vCPU 1']); // not the main thread, whose run delay moves too
    const v0 = r.series('proc-run-delay', 'vCPU 0');
    const v1 = r.series('proc-run-delay', 'vCPU 1');
    expect(v0.length).toBeGreaterThan(20);
    expect(v1.length).toBeGreaterThan(20);
    for (const [x, v] of v0) if (v !== null) expect(v, `at ${x}`).toBeGreaterThan(0);
    for (const [x, v] of v1) if (v !== null) expect(v, `at ${x}`).toBeGreaterThan(0);
    // First samples: no value; then 20 and 50 ms per s.
    expect(at(v0, 1)).toBeNull();
    for (let i = 1; i <= 10; i++) expect(at(v0, round(1 + i / 10))).toBeCloseTo(20, 9);
    for (const i of [1, 2, 3, 4, 7, 8, 9, 10]) expect(at(v1, round(1 + i / 10))).toBeCloseTo(50, 9);
    // The null, and the sample after it (no previous reading): gaps, never a difference across it.
    expect(at(v1, 1.5)).toBeNull();
    expect(at(v1, 1.6)).toBeNull();
    // The restart: the first sample of the new process has no value (7 s of run delay would have gone negative).
    expect(at(v0, 2.5)).toBeNull();
    expect(at(v0, 2.6)).toBeCloseTo(20, 9);
    // The silence: no value across it; the sample after it has one again.
    expect(at(v0, 5.7)).toBeNull();
    expect(at(v0, 5.8)).toBeCloseTo(20, 9);
    const labels = panel.markers.map((m) => m.label);
    expect(labels).toEqual(expect.arrayContaining(['proc: vCPU 1 run delay not read (crafted: EACCES)', 'proc: target exited (pid 100)', 'proc: target restarted (pid 100→200)']));
    expect(labels.some((l) => /^proc: no sample for /.test(l))).toBe(true);
  });

  it('no panel for an episode without vCPU threads', () => {
    const ep = new CraftedEpisode({ proc: { interval_ms: 100, threads: true } });
    for (let i = 0; i <= 5; i++) sample(ep, round(1 + i / 10), 100, 5000, [{ tid: 100, comm: 'node', vcpu: null, role: 'main', delay: 1e6 * i }]);
    const dir = ep.write();
    expect(fs.existsSync(path.join(dir, 'telemetry-proc.jsonl'))).toBe(true);
    const { html } = renderReport(dir);
    expect(html).toContain('"proc-cpu"');
    expect(html).not.toContain('proc-run-delay');
  });
});
