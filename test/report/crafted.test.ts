// labtel report on crafted episodes, read back from the page in chromium:
// what uPlot holds and draws, not what the TypeScript builder meant. Each
// case is a way the old report claimed more than was measured: a pidfile
// restart whose new process starts with lower counters (a negative rate), a
// device missing from one poll (counted as 0, then a negative rate), a QMP
// reconnect to a new QEMU, a perf restart joined to the run before it, CPU
// values no thread could use, and gaps lost to the downsampling.
import { afterAll, describe, expect, it } from 'vitest';
import { closeBrowser, hasChromium, openReport, type OpenedReport, type PagePanel } from './open-report.js';
import { CraftedEpisode } from './crafted-episode.js';

afterAll(closeBrowser);

const BLUE: [number, number, number] = [0x1f, 0x77, 0xb4]; // the first series of every panel
const PURPLE: [number, number, number] = [0x7b, 0x2f, 0xbf]; // break markers

/** Every value the page holds for a panel's series (x excluded). */
const valuesOf = (p: PagePanel): number[] => p.data.slice(1).flatMap((c) => c.filter((v): v is number => v !== null));
/** The value of a series at x (a row's time), or undefined when the page has no point there. */
const at = (s: Array<[number, number | null]>, x: number): number | null | undefined => s.find(([t]) => Math.abs(t - x) < 1e-6)?.[1];
const round = (n: number) => Math.round(n * 1e6) / 1e6;

interface Thread { tid: number; comm: string; vcpu: number | null; starttime: number; user: number }
function procSample(ep: CraftedEpisode, t: number, pid: number, starttime: number, user: number, threads: Thread[], extra: Record<string, unknown> = {}) {
  ep.row('proc', 'host_proc', t, {
    pid, starttime, process_event: null, interval_s: 0.1, state: 'R', processor: 0, cpu_user_jiffies: user, cpu_sys_jiffies: 0, minflt: 0, majflt: 0,
    num_threads: threads.length || 1, vsize_bytes: 1e9, rss_bytes: 100 * 2 ** 20, shared_bytes: 0, text_bytes: 0, data_bytes: 0, rss_peak_bytes: 0, swap_bytes: 0,
    voluntary_ctxt_switches: 0, nonvoluntary_ctxt_switches: 0, io_rchar: 0, io_wchar: 0, io_read_bytes: 0, io_write_bytes: 0, ...extra,
  });
  for (const th of threads) {
    ep.row('proc', 'host_proc', t, {
      pid, tid: th.tid, comm: th.comm, vcpu: th.vcpu, starttime: th.starttime, interval_s: 0.1, state: 'R', processor: 0,
      cpu_user_jiffies: th.user, cpu_sys_jiffies: 0, minflt: 0, majflt: 0,
    });
  }
}
const procExited = (ep: CraftedEpisode, t: number, pid: number, starttime: number) =>
  ep.row('proc', 'host_proc', t, {
    pid, starttime, process_event: 'exited', interval_s: null, state: null, processor: null, cpu_user_jiffies: null, cpu_sys_jiffies: null, minflt: null, majflt: null,
    num_threads: null, vsize_bytes: null, rss_bytes: null, shared_bytes: null, text_bytes: null, data_bytes: null, rss_peak_bytes: null, swap_bytes: null,
    voluntary_ctxt_switches: null, nonvoluntary_ctxt_switches: null, io_rchar: null, io_wchar: null, io_read_bytes: null, io_write_bytes: null,
    null_reasons: { cpu_user_jiffies: 'the target process exited' },
  });

const device = (rd: number | null, wr: number) => ({
  rd_bytes: rd, wr_bytes: wr, rd_operations: 0, wr_operations: 0, flush_operations: 0, rd_total_time_ns: 0, wr_total_time_ns: 0, flush_total_time_ns: 0,
  failed_rd_operations: 0, failed_wr_operations: 0, failed_flush_operations: 0, idle_time_ns: null,
});
const qmpPoll = (ep: CraftedEpisode, t: number, block: Record<string, unknown> | null, reasons?: Record<string, string>) =>
  ep.row('qmp', 'qmp', t, {
    status: 'running', running: true, block, vcpus: null, kvm_vm: null, kvm_vcpu: null, balloon_actual_bytes: null, poll_ms: 1, events_dropped: 0,
    ...(reasons ? { null_reasons: reasons } : {}),
  });

const breaks = (r: OpenedReport, panel: string) => r.panel(panel).markers.filter((m) => m.kind === 'break');

describe.skipIf(!hasChromium())('labtel report on crafted episodes, read from the page in chromium', () => {
  it('a pidfile restart whose new process starts with lower counters: no negative rate, a gap and a marker at the exit and the restart', { timeout: 60_000 }, async () => {
    // Regression for: the report subtracted the old process's CPU ticks from the new one's (key 'process', and 'vCPU 0'), drawing a large negative rate.
    const ep = new CraftedEpisode({ proc: { interval_ms: 100, threads: true } });
    for (let i = 0; i <= 10; i++) {
      procSample(ep, round(1 + i / 10), 100, 5000, 1000 + 6 * i, [
        { tid: 100, comm: 'qemu-system-x86', vcpu: null, starttime: 5000, user: 300 + i },
        { tid: 101, comm: 'CPU 0/TCG', vcpu: 0, starttime: 5001, user: 800 + 4 * i },
      ]);
    }
    procExited(ep, 2.1, 100, 5000);
    for (let i = 0; i <= 10; i++) {
      procSample(ep, round(2.5 + i / 10), 200, 9000, 3 + 6 * i, [
        { tid: 200, comm: 'qemu-system-x86', vcpu: null, starttime: 9000, user: 1 + i },
        { tid: 201, comm: 'CPU 0/TCG', vcpu: 0, starttime: 9001, user: 1 + 4 * i },
      ], i === 0 ? { process_event: 'restarted' } : {});
    }
    // The same pid again, another process (a new starttime): proc says 'restarted' too.
    for (let i = 0; i <= 4; i++) procSample(ep, round(3.6 + i / 10), 200, 9500, 2 + 6 * i, [], i === 0 ? { process_event: 'restarted' } : {});
    const r = await openReport(ep.write());
    expect(r.errors).toEqual([]);

    const cpu = r.panel('proc-cpu');
    const all = valuesOf(cpu);
    expect(all.length).toBeGreaterThan(40);
    expect(Math.min(...all), 'a CPU value on the page is negative').toBeGreaterThanOrEqual(0);
    const proc = r.series('proc-cpu', 'process');
    for (const x of [2.1, 2.5, 3.6]) expect(at(proc, x), `process CPU at ${x} s must be a gap`).toBeNull();
    expect(at(proc, 2.0)).toBeCloseTo(60);
    expect(at(proc, 2.6)).toBeCloseTo(60);
    expect(at(proc, 3.7)).toBeCloseTo(60);
    const vcpu = r.series('proc-cpu', 'vCPU 0');
    expect(at(vcpu, 2.5), 'vCPU 0 of the new process must not be joined to the old one').toBeNull();
    expect(at(vcpu, 2.6)).toBeCloseTo(40);

    expect(breaks(r, 'proc-cpu').map((m) => [m.t, m.label])).toEqual([
      [2.1, 'proc: target exited (pid 100)'],
      [2.5, 'proc: target restarted (pid 100→200)'],
      [3.6, 'proc: target restarted (pid 200, a new process)'],
    ]);
    expect(breaks(r, 'proc-rss').map((m) => m.label)).toEqual(breaks(r, 'proc-cpu').map((m) => m.label));
    expect(at(r.series('proc-rss', 'RSS MiB'), 2.1)).toBeNull();

    // Drawn as a gap: no line of the process series between the exit and the restart, and the marker is there.
    expect(await r.pixelsAt('proc-cpu', 1.55, BLUE), 'the process line is drawn where it was measured').toBeGreaterThan(0);
    expect(await r.pixelsAt('proc-cpu', 2.3, BLUE), 'a line is drawn across the restart').toBe(0);
    expect(await r.pixelsAt('proc-rss', 2.3, BLUE), 'the RSS line is drawn across the restart').toBe(0);
    expect(await r.pixelsAt('proc-cpu', 2.5, PURPLE), 'the restart marker is not drawn').toBeGreaterThan(0);
    expect(cpu.spanGaps.length).toBeGreaterThan(0);
    for (const g of cpu.spanGaps) expect(g).toBe(false);
  });

  it('block counters missing for one poll: null, not 0 and not a negative rate; other devices go on', { timeout: 60_000 }, async () => {
    // Regression for: a device missing from a poll was summed as 0 bytes, giving a negative rate, then a doubled one.
    const ep = new CraftedEpisode({ qmp: { socket: '/nonexistent', interval_ms: 200 } });
    for (let k = 0; k <= 10; k++) {
      const t = round(1 + k * 0.2);
      const d0 = device(k === 6 ? null : 40960 * k, 8192 * k);
      const d1 = device(4096 * k, 0);
      if (k === 3) qmpPoll(ep, t, { disk1: d1 });
      else if (k === 8) qmpPoll(ep, t, null, { block: 'query-blockstats: no answer in 5 s' });
      else qmpPoll(ep, t, { disk0: d0, disk1: d1 });
    }
    const r = await openReport(ep.write());
    expect(r.errors).toEqual([]);
    const all = valuesOf(r.panel('qmp-block'));
    expect(all.length).toBeGreaterThan(10);
    expect(Math.min(...all), 'a block rate on the page is negative').toBeGreaterThanOrEqual(0);
    const rd0 = r.series('qmp-block', 'disk0 read B/s');
    const wr0 = r.series('qmp-block', 'disk0 write B/s');
    const rd1 = r.series('qmp-block', 'disk1 read B/s');
    expect(at(rd0, 1.4)).toBeCloseTo(204800);
    for (const x of [1.6, 1.8, 2.2, 2.4, 2.6, 2.8]) expect(at(rd0, x), `disk0 read at ${x} s must be a gap`).toBeNull();
    expect(at(rd0, 2.0)).toBeCloseTo(204800);
    expect(at(wr0, 2.2), 'disk0 write was answered at 2.2 s').toBeCloseTo(40960);
    expect(at(rd1, 1.6), 'disk1 answered in every poll but one').toBeCloseTo(20480);
    for (const x of [2.6, 2.8]) expect(at(rd1, x)).toBeNull();
    expect(at(rd1, 3.0)).toBeCloseTo(20480);
    expect(breaks(r, 'qmp-block').map((m) => [m.t, m.label])).toEqual([
      [1.6, 'qmp: disk0 block stats missing'],
      [2.2, 'qmp: disk0 rd_bytes missing'],
      [2.6, 'qmp: block stats missing (query-blockstats: no answer in 5 s)'],
    ]);
  });

  it('a QMP reconnect breaks the rates (to a new QEMU whose counters start lower, and to the same one), and counters that go backwards do too', { timeout: 60_000 }, async () => {
    // Regression for: the report subtracted across a reconnect, drawing the new QEMU's lower counters as a negative rate.
    const ep = new CraftedEpisode({ qmp: { socket: '/nonexistent', interval_ms: 200 } });
    for (let k = 0; k <= 4; k++) qmpPoll(ep, round(1 + k * 0.2), { disk0: device(1e6 + 40960 * k, 0) });
    ep.row('agent', 'agent', 1.9, { event: 'collector_error', collector: 'qmp', message: 'qmp: connection lost; reconnecting in 500 ms' });
    for (let k = 0; k <= 4; k++) qmpPoll(ep, round(2.5 + k * 0.2), { disk0: device(4096 * k, 0) });
    ep.row('qmp', 'qmp_event', 2.6, { event: 'RESUME', data: null, qemu_wall_ns: null, time_source: 'received' });
    ep.row('agent', 'agent', 3.4, { event: 'collector_error', collector: 'qmp', message: 'qmp: connection lost; reconnecting in 500 ms' });
    for (let k = 0; k <= 2; k++) qmpPoll(ep, round(3.9 + k * 0.2), { disk0: device(4096 * (5 + k), 0) });
    // No agent row this time (an episode pulled without them): counters that went backwards still break.
    for (let k = 0; k <= 2; k++) qmpPoll(ep, round(4.5 + k * 0.2), { disk0: device(100 * k, 0) });
    const r = await openReport(ep.write());
    expect(r.errors).toEqual([]);
    const all = valuesOf(r.panel('qmp-block'));
    expect(all.length).toBeGreaterThan(5);
    expect(Math.min(...all), 'a block rate on the page is negative').toBeGreaterThanOrEqual(0);
    const rd = r.series('qmp-block', 'disk0 read B/s');
    for (const x of [2.5, 3.9, 4.5]) expect(at(rd, x), `disk0 read at ${x} s must be a gap`).toBeNull();
    expect(at(rd, 2.7)).toBeCloseTo(20480);
    expect(at(rd, 4.1)).toBeCloseTo(20480);
    expect(at(rd, 4.7)).toBeCloseTo(500);
    expect(breaks(r, 'qmp-block').map((m) => [m.t, m.label])).toEqual([
      [2.5, 'qmp: reconnected'],
      [3.9, 'qmp: reconnected'],
      [4.5, 'qmp: disk0 counters went backwards (a new QEMU?)'],
    ]);
    expect(r.panel('qmp-block').markers.filter((m) => m.kind === 'event')).toEqual([{ t: 2.6, label: 'RESUME', kind: 'event' }]);
  });

  it('a perf restart is not joined to the run before it: a gap and a marker in every perf panel', { timeout: 60_000 }, async () => {
    // Regression for: perf rows of two runs were drawn as one line across the restart.
    const ep = new CraftedEpisode({ perf: { interval_ms: 200 } }, { hostCpus: 2 });
    const perfRow = (t: number, pid: number, perfT: number, event: string | null, cpuMs: number) =>
      ep.row('perf', 'host_perf', t, {
        pid, process_event: event, interval_s: 0.2, perf_interval_s: perfT, cycles: 1e8, instructions: 2e8, branches: null, branch_misses: null, cache_references: null,
        cache_misses: null, page_faults: 10, context_switches: 20, cpu_clock_ms: cpuMs, running_pct: {},
      });
    for (let k = 1; k <= 5; k++) perfRow(round(1 + k * 0.2), 100, round(k * 0.2), k === 1 ? 'started' : null, 100);
    // The target restarted under a new pid; perf re-attached.
    for (let k = 1; k <= 5; k++) perfRow(round(2.5 + k * 0.2), 200, round(k * 0.2), k === 1 ? 'restarted' : null, 100);
    // perf itself died and was restarted on the same target: its own clock starts over.
    for (let k = 1; k <= 5; k++) perfRow(round(4.0 + k * 0.2), 200, round(k * 0.2), null, k === 3 ? 500 : 100);
    const r = await openReport(ep.write());
    expect(r.errors).toEqual([]);
    const perfPanels = r.panels.filter((p) => p.id.startsWith('perf'));
    expect(perfPanels.length).toBeGreaterThan(0);
    for (const p of perfPanels) {
      expect(p.labels.length).toBeGreaterThan(0);
      for (const label of p.labels) {
        const s = r.series(p.id, label);
        for (const [from, to] of [[2.0, 2.7], [3.5, 4.2]] as const) {
          expect(s.some(([x, v]) => x > from && x < to && v === null), `${p.id} ${label}: no gap between ${from} s and ${to} s`).toBe(true);
        }
      }
    }
    expect(perfPanels.map((p) => p.id)).toEqual(['perf', 'perf-cpu', 'perf-ipc']);
    for (const p of perfPanels) {
      expect(p.markers.filter((m) => m.kind === 'break').map((m) => [m.t, m.label])).toEqual([
        [2.7, 'perf: target restarted, perf re-attached (pid 100→200)'],
        [4.2, 'perf: perf restarted (a new run)'],
      ]);
    }
    const cpu = r.series('perf-cpu', 'CPU % (cpu-clock)');
    expect(at(cpu, 1.4)).toBeCloseTo(50);
    expect(at(cpu, 4.6), '250% from cpu-clock on a 2-CPU host cannot be true').toBeNull();
    expect(r.panel('perf-cpu').markers.filter((m) => m.kind === 'dropped').map((m) => m.label)).toEqual(['perf: cpu-clock 250% is more than 2 CPUs could give: dropped']);
    expect(at(r.series('perf', 'page faults/s'), 1.4)).toBeCloseTo(50);
    expect(at(r.series('perf-ipc', 'IPC'), 1.4)).toBeCloseTo(2);
  });

  it('CPU values no thread could use are dropped with a marker, never drawn; readings within the counters\' resolution are drawn at the bound and counted', { timeout: 60_000 }, async () => {
    // Regression for: 150% for one thread, 450% for a two-thread process on a 2-CPU host, and a counter going backwards were drawn as measured.
    const ep = new CraftedEpisode({ proc: { interval_ms: 100, threads: true } }, { hostCpus: 2 });
    const procSteps = [10, 10, 45, 10, 21, 10, 10, 10, 10, 10];
    const vcpu0Steps = [5, 5, 15, 5, 11, 5, 5, 5, 5, 5];
    let p = 1000;
    let v0 = 500;
    for (let i = 0; i <= 10; i++) {
      if (i > 0) (p += procSteps[i - 1]!), (v0 += vcpu0Steps[i - 1]!);
      procSample(ep, round(1 + i / 10), 100, 5000, p, [
        { tid: 101, comm: 'CPU 0/KVM', vcpu: 0, starttime: 5001, user: v0 },
        { tid: 102, comm: 'CPU 1/KVM', vcpu: 1, starttime: 5002, user: i < 6 ? 100 + i : 90 + (i - 6) },
      ]);
    }
    const r = await openReport(ep.write());
    expect(r.errors).toEqual([]);
    const proc = r.series('proc-cpu', 'process');
    const v0s = r.series('proc-cpu', 'vCPU 0');
    const v1s = r.series('proc-cpu', 'vCPU 1');
    const threadValues = [...v0s, ...v1s].map(([, v]) => v).filter((v): v is number => v !== null);
    const procValues = proc.map(([, v]) => v).filter((v): v is number => v !== null);
    expect(threadValues.length).toBeGreaterThan(10);
    expect(procValues.length).toBeGreaterThan(5);
    expect(Math.max(...threadValues), 'a thread drawn above one core').toBeLessThanOrEqual(100);
    expect(Math.min(...threadValues), 'a thread drawn below 0').toBeGreaterThanOrEqual(0);
    expect(Math.max(...procValues), 'the process drawn above its 2 threads').toBeLessThanOrEqual(200);
    expect(at(proc, 1.3), '450% for 2 threads').toBeNull();
    expect(at(v0s, 1.3), '150% for one thread').toBeNull();
    expect(at(v1s, 1.6), 'a counter that went backwards').toBeNull();
    expect(at(v1s, 1.7), 'rates go on from the reading after the one that went backwards').toBeCloseTo(10);
    expect(at(proc, 1.5)).toBe(200); // 210%: within 2 ticks of the bound
    expect(at(v0s, 1.5)).toBe(100); // 110%: likewise
    expect(r.panel('proc-cpu').markers.filter((m) => m.kind === 'dropped').map((m) => [m.t, m.label])).toEqual([
      [1.3, 'proc: process: 450% is more than 2 cores could give: dropped'],
      [1.3, 'proc: vCPU 0: 150% is more than one core could give: dropped'],
      [1.6, 'proc: vCPU 1: its CPU counter went back 15 ticks: dropped'],
    ]);
    const notes = r.panel('proc-cpu').notes.join('\n');
    expect(notes).toContain('drawn at that bound: 2');
    expect(notes).toContain('CPU values dropped as impossible 3');
  });

  it('the downsampling keeps gaps: a restart and a silence in a long episode stay nulls on the page', { timeout: 120_000 }, async () => {
    // Regression for: max per bin turned a bin holding a null and a value into the value, and a silence was drawn across.
    const ep = new CraftedEpisode({ proc: { interval_ms: 10 } });
    const N = 50_000;
    const EXIT = 20_000;
    const SILENCE = [35_000, 35_100];
    for (let i = 0; i < N; i++) {
      const t = round(1 + i / 100);
      if (i >= SILENCE[0]! && i < SILENCE[1]!) continue;
      if (i === EXIT) procExited(ep, t, 100, 5000);
      else if (i < EXIT) procSample(ep, t, 100, 5000, i, []);
      else procSample(ep, t, 200, 9000, i - EXIT, [], i === EXIT + 1 ? { process_event: 'restarted', rss_bytes: 120 * 2 ** 20 } : { rss_bytes: 120 * 2 ** 20 });
    }
    const r = await openReport(ep.write());
    expect(r.errors).toEqual([]);
    const cpu = r.panel('proc-cpu');
    expect(cpu.data[0]!.length, 'the panel was not downsampled').toBeLessThan(N / 2);
    const all = valuesOf(cpu);
    expect(all.length).toBeGreaterThan(1000);
    expect(Math.min(...all)).toBeGreaterThanOrEqual(0);
    const tExit = 1 + EXIT / 100;
    const silence = [1 + SILENCE[0]! / 100, 1 + SILENCE[1]! / 100] as const;
    for (const [panel, label] of [['proc-cpu', 'process'], ['proc-rss', 'RSS MiB']] as const) {
      const s = r.series(panel, label);
      expect(s.some(([x, v]) => x >= tExit && x <= tExit + 0.011 && v === null), `${label}: the restart's gap was lost`).toBe(true);
      expect(s.some(([x, v]) => x > silence[0] && x <= silence[1] + 0.001 && v === null), `${label}: the silence was drawn across`).toBe(true);
      expect(s.some(([x, v]) => x > silence[0] && x < silence[1] && v !== null), `${label}: a value inside the silence`).toBe(false);
    }
    expect(breaks(r, 'proc-cpu').map((m) => m.label)).toEqual(['proc: target exited (pid 100)', 'proc: target restarted (pid 100→200)', 'proc: no sample for 1.01 s']);
  });
});
