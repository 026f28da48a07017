// labtel report on crafted episodes that an independent review found it
// misread, read back from the page in chromium: a process's CPU dropped as
// "impossible" because it had more threads between two samples than at
// either, perf counters missing mid-run drawn as unexplained gaps, a tid
// reused by a new thread within the same process, and netflow buckets the
// capture covered only in part.
import { afterAll, describe, expect, it } from 'vitest';
import { closeBrowser, hasChromium, openReport, type OpenedReport } from './open-report.js';
import { CraftedEpisode } from './crafted-episode.js';

afterAll(closeBrowser);

const at = (s: Array<[number, number | null]>, x: number): number | null | undefined => s.find(([t]) => Math.abs(t - x) < 1e-6)?.[1];
const round = (n: number) => Math.round(n * 1e6) / 1e6;
const marked = (r: OpenedReport, panel: string, kind: string) => r.panel(panel).markers.filter((m) => m.kind === kind).map((m) => [m.t, m.label]);

interface Thread { tid: number; comm: string; vcpu: number | null; starttime: number; user: number }
function procSample(ep: CraftedEpisode, t: number, pid: number, user: number, threads: Thread[], numThreads = threads.length || 1) {
  ep.row('proc', 'host_proc', t, {
    pid, starttime: 5000, process_event: null, interval_s: 1, state: 'S', processor: 0, cpu_user_jiffies: user, cpu_sys_jiffies: 0, minflt: 0, majflt: 0,
    num_threads: numThreads, vsize_bytes: 1e9, rss_bytes: 100 * 2 ** 20, shared_bytes: 0, text_bytes: 0, data_bytes: 0, rss_peak_bytes: 0, swap_bytes: 0,
    voluntary_ctxt_switches: 0, nonvoluntary_ctxt_switches: 0, io_rchar: 0, io_wchar: 0, io_read_bytes: 0, io_write_bytes: 0,
  });
  for (const th of threads) {
    ep.row('proc', 'host_proc', t, { pid, tid: th.tid, comm: th.comm, vcpu: th.vcpu, starttime: th.starttime, interval_s: 1, state: 'S', processor: 0, cpu_user_jiffies: th.user, cpu_sys_jiffies: 0, minflt: 0, majflt: 0 });
  }
}

describe.skipIf(!hasChromium())('labtel report on crafted edge cases, read from the page in chromium', () => {
  it('a process with one thread at both samples that ran short-lived threads between them: its CPU is drawn, not dropped as impossible', { timeout: 60_000 }, async () => {
    // Regression for: the process's CPU was bounded by num_threads at the two samples, but /proc/PID/stat's utime + stime
    // include threads that started and exited between them (a QEMU's I/O workers), so a true 190% was dropped as "more than one core could give".
    const ep = new CraftedEpisode({ proc: { interval_ms: 1000, threads: true } }, { hostCpus: 4 });
    const main = (user: number): Thread => ({ tid: 100, comm: 'main', vcpu: null, starttime: 5000, user });
    [100, 150, 340, 390, 1000].forEach((user, i) => procSample(ep, 1 + i, 100, user, [main(50 + 10 * i)]));
    const r = await openReport(ep.write());
    expect(r.errors).toEqual([]);
    const proc = r.series('proc-cpu', 'process');
    expect(at(proc, 2)).toBeCloseTo(50);
    expect(at(proc, 3), 'a true 190% (short-lived threads on a 4-CPU host) was dropped').toBeCloseTo(190);
    expect(at(proc, 4)).toBeCloseTo(50);
    // What no process can do on this host stays dropped: 610% on 4 CPUs.
    expect(at(proc, 5)).toBeNull();
    expect(marked(r, 'proc-cpu', 'dropped')).toEqual([[5, 'proc: process: 610% is more than 4 cores could give: dropped']]);
    expect(r.panel('proc-cpu').notes.join('\n')).toContain('CPU values dropped as impossible 1');
    expect(r.panel('proc-rss').notes.join('\n'), 'the RSS panel speaks of CPU markers it does not have').not.toContain('CPU values dropped');
    // A thread is still held to one core.
    expect(Math.max(...r.series('proc-cpu', 'main (100)').map(([, v]) => v ?? 0))).toBeLessThanOrEqual(100);
  });

  it('perf counters missing in a row of a run: a gap with a marker that says which and why, on the panels they feed', { timeout: 60_000 }, async () => {
    // Regression for: a perf row whose counters perf did not count was drawn as a gap no marker or note explained.
    const ep = new CraftedEpisode({ perf: { interval_ms: 200 } }, { hostCpus: 2 });
    for (let k = 1; k <= 6; k++) {
      const missing = k === 3 ? ['cycles'] : k === 4 ? ['page_faults', 'cpu_clock_ms'] : [];
      const row: Record<string, unknown> = {
        pid: 100, process_event: k === 1 ? 'started' : null, interval_s: 0.2, perf_interval_s: round(k * 0.2), cycles: 1e8, instructions: 2e8, branches: null, branch_misses: null,
        cache_references: null, cache_misses: null, page_faults: 10, context_switches: 20, cpu_clock_ms: 100, running_pct: {},
      };
      for (const f of missing) row[f] = null;
      if (missing.length) row.null_reasons = Object.fromEntries(missing.map((f) => [f, '<not counted>']));
      ep.row('perf', 'host_perf', round(1 + k * 0.2), row);
    }
    const r = await openReport(ep.write());
    expect(r.errors).toEqual([]);
    expect(at(r.series('perf-ipc', 'IPC'), 1.6)).toBeNull();
    expect(at(r.series('perf-ipc', 'IPC'), 1.8)).toBeCloseTo(2);
    expect(at(r.series('perf-cpu', 'CPU % (cpu-clock)'), 1.8)).toBeNull();
    expect(at(r.series('perf', 'page faults/s'), 1.8)).toBeNull();
    expect(at(r.series('perf', 'context switches/s'), 1.8)).toBeCloseTo(100);
    expect(marked(r, 'perf-ipc', 'break')).toEqual([[1.6, 'perf: cycles not counted (<not counted>)']]);
    expect(marked(r, 'perf-cpu', 'break')).toEqual([[1.8, 'perf: cpu_clock_ms not counted (<not counted>)']]);
    expect(marked(r, 'perf', 'break')).toEqual([[1.8, 'perf: page_faults not counted (<not counted>)']]);
    expect(r.panel('perf').notes.join('\n')).toContain('counters not counted 1');
    expect(r.panel('perf-ipc').notes.join('\n')).toContain('counters not counted 1');
    expect(r.panel('perf-cpu').notes.join('\n')).toContain('counters not counted 1');
  });

  it('a tid reused by a new thread of the same process: a gap and a marker, never a rate against the old thread', { timeout: 60_000 }, async () => {
    // Regression for: a new thread under a reused tid was a gap in its line that nothing on the panel explained.
    const ep = new CraftedEpisode({ proc: { interval_ms: 1000, threads: true } });
    for (let i = 0; i <= 6; i++) {
      const old = i < 3;
      procSample(ep, 1 + i, 100, 1000 + 100 * i, [{ tid: 101, comm: 'worker', vcpu: null, starttime: old ? 5001 : 7000, user: old ? 500 + 30 * i : 20 * i }]);
    }
    const r = await openReport(ep.write());
    expect(r.errors).toEqual([]);
    const w = r.series('proc-cpu', 'worker (101)');
    expect(at(w, 3)).toBeCloseTo(30);
    expect(at(w, 4), 'the new thread rated against the old one').toBeNull();
    expect(at(w, 5)).toBeCloseTo(20);
    expect(marked(r, 'proc-cpu', 'break')).toEqual([[4, 'proc: worker (101): a new thread under the same tid']]);
    expect(at(r.series('proc-cpu', 'process'), 4), 'the process itself did not restart').toBeCloseTo(100);
  });

  it('a thread row lost inside a sample (a seq gap between two rows of one time): marked at that sample, and no rate spans it', { timeout: 60_000 }, async () => {
    // Regression for: only gaps between samples were read, so a row lost in the middle of one made a gap in vCPU 0's line that nothing explained.
    const ep = new CraftedEpisode({ proc: { interval_ms: 1000, threads: true } });
    for (let i = 0; i <= 5; i++) {
      const threads = [
        { tid: 101, comm: 'CPU 0/KVM', vcpu: 0, starttime: 5001, user: 100 + 30 * i },
        { tid: 102, comm: 'CPU 1/KVM', vcpu: 1, starttime: 5002, user: 100 + 20 * i },
      ];
      procSample(ep, 1 + i, 100, 1000 + 50 * i, threads);
    }
    const dir = ep.write();
    // The sample at 4 s: its process row is seq 9, vCPU 0's row seq 10 (lost), vCPU 1's seq 11.
    const fs = await import('node:fs');
    const file = `${dir}/telemetry-proc.jsonl`;
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').split('\n').filter((l) => !l.includes('"seq":10,')).join('\n'));
    const r = await openReport(dir);
    expect(r.errors).toEqual([]);
    const v0 = r.series('proc-cpu', 'vCPU 0');
    expect(at(v0, 3)).toBeCloseTo(30);
    expect(at(v0, 4)).toBeNull();
    expect(at(v0, 5), 'a rate across the lost row').toBeNull();
    expect(at(v0, 6)).toBeCloseTo(30);
    expect(at(r.series('proc-cpu', 'vCPU 1'), 4)).toBeCloseTo(20);
    expect(at(r.series('proc-cpu', 'process'), 5), 'the rows after the loss are whole: the process goes on').toBeCloseTo(50);
    expect(marked(r, 'proc-cpu', 'break')).toEqual([[4, 'proc: 1 rows missing (seq 9→11)']]);
  });

  it('netflow buckets the capture covered only in part are marked, and two runs\' parts of one bucket are added', { timeout: 60_000 }, async () => {
    // Regression for: a partial bucket (a capture run ending or starting inside it) was drawn as a whole bucket's count: a dip no one measured, unmarked.
    const ep = new CraftedEpisode({ netflow: { bucket_ms: 100 } });
    const bucket = (t: number, pkts: number, partial: boolean) =>
      ep.row('netflow', 'netflow', t, {
        bucket_ms: 100, partial, pkts_in: pkts, pkts_out: 1, bytes_in: 100 * pkts, bytes_out: 100, pkts_unmatched: 0, bytes_unmatched: 0, flows: 1, new_flows: 0, peers: 1,
        dst_ports: 1, distinct_estimated: false, tcp_syn: 0, tcp_synack: 0, tcp_fin: 0, tcp_rst: 0, pkts_tcp: pkts + 1, pkts_udp: 0, pkts_icmp: 0, pkts_other_ip: 0,
        pkts_arp: 0, pkts_non_ip: 0, pkts_truncated: 0, pkts_malformed: 0, pkts_late: 0,
      });
    for (const t of [1.0, 1.1, 1.2]) bucket(t, 10, false);
    bucket(1.3, 4, true); // run 1 ends inside 1.3 ...
    bucket(1.3, 3, true); // ... run 2 starts inside it
    for (const t of [1.4, 1.5]) bucket(t, 10, false);
    bucket(1.6, 2, true); // run 2 ends inside 1.6; run 3 starts inside 2.0
    bucket(2.0, 5, true);
    for (const t of [2.1, 2.2]) bucket(t, 10, false);
    const r = await openReport(ep.write());
    expect(r.errors).toEqual([]);
    const pin = r.series('netflow-pkts', 'pkts in');
    expect(at(pin, 1.3)).toBe(7);
    expect(at(pin, 1.6)).toBe(2);
    expect(marked(r, 'netflow-pkts', 'break')).toEqual([
      [1.3, 'netflow: capture restarted inside this bucket (its rows are added)'],
      [1.6, 'netflow: a bucket the capture covered only in part'],
      [2, 'netflow: no bucket for 0.40 s'],
      [2, 'netflow: a bucket the capture covered only in part'],
    ]);
    expect(r.panel('netflow-pkts').notes.join('\n')).toContain('buckets covered only in part 2');
  });
});

describe.skipIf(!hasChromium())('labtel report: a panel with nothing to draw but what broke it', () => {
  it('block stats missing from every poll: the block panel is there, empty, with its marker and the reason', { timeout: 60_000 }, async () => {
    // Regression for: a panel with no value was left out, and with it the markers and notes saying why (QEMU's answer to query-blockstats was nowhere on the page).
    const ep = new CraftedEpisode({ qmp: { socket: '/nonexistent', interval_ms: 200 }, proc: { interval_ms: 1000, threads: false } });
    for (let k = 0; k <= 5; k++) {
      ep.row('qmp', 'qmp', round(1 + k * 0.2), {
        status: 'running', running: true, block: null, vcpus: null, kvm_vm: null, kvm_vcpu: null, balloon_actual_bytes: null, poll_ms: 1, events_dropped: 0,
        null_reasons: { block: 'query-blockstats: GenericError: no answer' },
      });
    }
    for (let i = 0; i <= 3; i++) procSample(ep, 1 + i, 100, 1000 + 100 * i, []);
    const r = await openReport(ep.write());
    expect(r.errors).toEqual([]);
    const block = r.panel('qmp-block');
    expect(block.data.slice(1).flat().filter((v) => v !== null)).toEqual([]);
    expect(marked(r, 'qmp-block', 'break')).toEqual([[1, 'qmp: block stats missing (query-blockstats: GenericError: no answer)']]);
    expect(block.notes.join('\n')).toContain('polls without block stats 1');
    expect(r.panels.map((p) => p.id)).toEqual(['proc-cpu', 'proc-rss', 'qmp-block']);
  });
});

describe.skipIf(!hasChromium())('labtel report: guest rows lost, and what a panel leaves out', () => {
  it('guest rows missing (a seq gap): the guest lines break there, with a marker', { timeout: 60_000 }, async () => {
    // Regression for: the guest panel never read seq, so a line was drawn across rows that were lost, and nothing said so.
    const ep = new CraftedEpisode({ guest_agent: { socket: '/nonexistent', interval_ms: 1000 } });
    for (let k = 0; k <= 8; k++) {
      if (k === 4) {
        ep.row('guest_agent', 'guest', 1 + k, { kind: 'line', guest: { load: 1 }, guest_t: null });
        ep.row('guest_agent', 'guest', 1 + k, { kind: 'line', guest: { load: 1 }, guest_t: null });
        continue;
      }
      ep.row('guest_agent', 'guest', 1 + k, { kind: 'line', guest: { load: k }, guest_t: null });
    }
    // Rows 4 and 5 (both at 5 s) are lost between the writer and the file.
    const dir = ep.write();
    const fs = await import('node:fs');
    const file = `${dir}/telemetry-guest_agent.jsonl`;
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').split('\n').filter((l) => !/"seq":(4|5),/.test(l)).join('\n'));
    const r = await openReport(dir);
    expect(r.errors).toEqual([]);
    const load = r.series('guest', 'load');
    expect(at(load, 4)).toBe(3);
    expect(at(load, 6)).toBe(5);
    expect(load.some(([x, v]) => x > 4 && x < 6 && v === null), 'a line drawn across the lost rows').toBe(true);
    expect(marked(r, 'guest', 'break')).toEqual([[6, 'guest: 2 rows missing (seq 3→6)']]);
  });

  it('guest values that are strings, flags or nested past 3 levels are not drawn, and the notes name them', { timeout: 60_000 }, async () => {
    // Regression for: a guest key sent as a string ("42"), a flag or deep nesting was left out of the panel without a word.
    const ep = new CraftedEpisode({ guest_agent: { socket: '/nonexistent', interval_ms: 1000 } });
    for (let k = 0; k <= 3; k++) {
      ep.row('guest_agent', 'guest', 1 + k, { kind: 'line', guest: { load: k, cpu: String(10 * k), up: true, state: null, mem: { free: 100 - k, zone: { dma: { pages: k } } } }, guest_t: null });
    }
    const r = await openReport(ep.write());
    expect(r.errors).toEqual([]);
    const g = r.panel('guest');
    expect(g.labels).toEqual(['load', 'mem.free']);
    expect(at(r.series('guest', 'mem.free'), 3)).toBe(98);
    const notes = g.notes.join('\n');
    expect(notes).toContain('2 keys whose values are not numbers, not drawn: cpu, up');
    expect(notes).toContain('1 keys nested deeper than 3 levels, not drawn: mem.zone.dma');
  });

  it('the series a panel leaves out are counted in its notes: threads past the 8 busiest, devices past 8 series, guest keys past 8', { timeout: 60_000 }, async () => {
    // Regression for: threads, devices and guest keys past each panel's cap were left out without a word; a guest key named __proto__ was lost.
    const ep = new CraftedEpisode({ proc: { interval_ms: 1000, threads: true }, qmp: { socket: '/nonexistent', interval_ms: 1000 }, guest_agent: { socket: '/nonexistent', interval_ms: 1000 } });
    for (let i = 0; i <= 3; i++) {
      procSample(ep, 1 + i, 100, 1000 + 300 * i, Array.from({ length: 11 }, (_, k) => ({ tid: 101 + k, comm: `worker-${k}`, vcpu: null, starttime: 5001 + k, user: 10 + (k + 1) * i })));
      const block = Object.fromEntries(Array.from({ length: 5 }, (_, d) => [`disk${d}`, { rd_bytes: 1000 * (d + 1) * i, wr_bytes: 100 * (d + 1) * i }]));
      ep.row('qmp', 'qmp', 1 + i, { status: 'running', running: true, block, vcpus: null, kvm_vm: null, kvm_vcpu: null, balloon_actual_bytes: null, poll_ms: 1, events_dropped: 0 });
      ep.row('guest_agent', 'guest', 1 + i, { kind: 'line', guest: JSON.parse(`{"__proto__": ${i}, ${Array.from({ length: 9 }, (_, k) => `"k${k}": ${k * i}`).join(', ')}}`), guest_t: null });
    }
    const r = await openReport(ep.write());
    expect(r.errors).toEqual([]);
    expect(r.panel('proc-cpu').labels).toHaveLength(9);
    expect(r.panel('proc-cpu').notes.join('\n')).toContain('3 more threads not drawn (the 8 with the most CPU are)');
    expect(r.panel('qmp-block').labels).toHaveLength(8);
    expect(r.panel('qmp-block').notes.join('\n')).toContain('2 more series not drawn (the 8 with the most bytes are)');
    expect(r.panel('guest').labels).toEqual(['__proto__', 'k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6']);
    expect(at(r.series('guest', '__proto__'), 3)).toBe(2);
    expect(r.panel('guest').notes.join('\n')).toContain('2 more keys not drawn (the first 8 the guest sent are): k7, k8');
  });
});

describe.skipIf(!hasChromium())('labtel report: events outside the samples', () => {
  it('a QMP event before the first sample and one after the last (a SHUTDOWN after the last poll) are drawn on every panel', { timeout: 60_000 }, async () => {
    // Regression for: each panel's x range was its own data's, so an event before every sample or after the last was drawn nowhere and said nowhere.
    const ep = new CraftedEpisode({ proc: { interval_ms: 1000, threads: false }, qmp: { socket: '/nonexistent', interval_ms: 1000 } });
    for (let i = 0; i <= 4; i++) procSample(ep, 2 + i, 100, 1000 + 50 * i, []);
    for (let k = 3; k <= 5; k++) {
      ep.row('qmp', 'qmp', k, { status: 'running', running: true, block: { disk0: { rd_bytes: 1000 * k, wr_bytes: 0 } }, vcpus: null, kvm_vm: null, kvm_vcpu: null, balloon_actual_bytes: null, poll_ms: 1, events_dropped: 0 });
    }
    ep.row('qmp', 'qmp_event', 1.0, { event: 'RESUME', data: null, qemu_wall_ns: null, time_source: 'received' });
    ep.row('qmp', 'qmp_event', 7.5, { event: 'SHUTDOWN', data: null, qemu_wall_ns: null, time_source: 'received' });
    const r = await openReport(ep.write());
    expect(r.errors).toEqual([]);
    const ranges = await r.page.evaluate(() =>
      (globalThis as unknown as { labtelReport: { plots: Array<{ root: { dataset: Record<string, string> }; scales: { x: { min: number; max: number } } }> } }).labtelReport.plots.map((u) => [u.root.dataset.panel, u.scales.x.min, u.scales.x.max]),
    );
    expect(ranges.map(([p]) => p)).toEqual(['proc-cpu', 'proc-rss', 'qmp-block']);
    for (const [panel, min, max] of ranges) {
      expect(min, `${panel} starts after the RESUME`).toBeLessThanOrEqual(1.0);
      expect(max, `${panel} ends before the SHUTDOWN`).toBeGreaterThanOrEqual(7.5);
    }
    const RED: [number, number, number] = [0xcc, 0, 0];
    for (const panel of ['proc-cpu', 'proc-rss', 'qmp-block']) {
      expect(await r.pixelsAt(panel, 7.5, RED), `no SHUTDOWN marker on ${panel}`).toBeGreaterThan(0);
      expect(await r.pixelsAt(panel, 1.0, RED), `no RESUME marker on ${panel}`).toBeGreaterThan(0);
    }
    expect(r.panel('proc-cpu').notes.join('\n')).not.toContain('outside the episode');
    // The padding draws nothing: the values are those measured.
    expect(at(r.series('proc-cpu', 'process'), 3)).toBeCloseTo(50);
    expect(at(r.series('qmp-block', 'disk0 read B/s'), 4)).toBeCloseTo(1000);
  });

  it('an event QEMU stamped far outside the episode is not drawn and does not stretch the panels: it is said in their notes', { timeout: 60_000 }, async () => {
    // Regression for: an event stamped by a hostile QEMU 500 s before the episode (its clock may be up to 600 s off) was drawn nowhere and said nowhere.
    const ep = new CraftedEpisode({ proc: { interval_ms: 1000, threads: false }, qmp: { socket: '/nonexistent', interval_ms: 1000 } });
    for (let i = 0; i <= 4; i++) procSample(ep, 2 + i, 100, 1000 + 50 * i, []);
    ep.row('qmp', 'qmp_event', -500, { event: '<b>RESET</b>', data: null, qemu_wall_ns: '1', time_source: 'qemu' });
    ep.row('qmp', 'qmp_event', 7.5, { event: 'SHUTDOWN', data: null, qemu_wall_ns: null, time_source: 'received' });
    const dir = ep.write();
    const fs = await import('node:fs');
    fs.writeFileSync(`${dir}/summary.json`, JSON.stringify({ episode: 'crafted', t_mono_start_ns: 0.5e9, t_mono_stop_ns: 8e9, collectors: {} }));
    const r = await openReport(dir);
    expect(r.errors).toEqual([]);
    const [min, max] = await r.page.evaluate(() => {
      const u = (globalThis as unknown as { labtelReport: { plots: Array<{ scales: { x: { min: number; max: number } } }> } }).labtelReport.plots[0]!;
      return [u.scales.x.min, u.scales.x.max];
    });
    expect(min, 'the panels were stretched to the hostile event').toBeGreaterThanOrEqual(0);
    expect(max).toBeGreaterThanOrEqual(7.5);
    expect(r.panels.length).toBe(2);
    for (const p of r.panels) expect(p.notes).toContain("1 QMP events stamped outside the episode's time (by QEMU's clock), not drawn: <b>RESET</b> at -500.000 s");
  });
});
