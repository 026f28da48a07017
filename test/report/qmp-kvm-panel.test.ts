// The "KVM exits per vCPU" panel (qmp-panels.ts) from qmp rows as the
// collector writes them: one line per vCPU, labelled by its index, from
// kvm_vcpu_rates; a gap wherever the collector had no rate (a connection's
// first poll, a poll without KVM statistics) and across lost rows; no panel
// at all in an episode without KVM rates (so reports of TCG episodes do not change).
import { describe, expect, it } from 'vitest';
import { qmpPanels } from '../../src/report/qmp-panels.js';
import type { EpisodeMeta } from '../../src/report/episode-rows.js';

type Row = Record<string, unknown>;
const meta: EpisodeMeta = { clkTck: 100, hostCpus: 2, intervalMs: () => 1000 };
const VCPUS = [
  { cpu_index: 0, thread_id: 11, qom_path: '/machine/unattached/device[0]' },
  { cpu_index: 1, thread_id: 12, qom_path: '/machine/unattached/device[2]' },
];
let seq = 0;
const poll = (t: number, rates: Record<string, Row> | null, reasons: Record<string, string> = {}): Row => ({
  source: 'qmp', t_mono_ns: t * 1e9, seq: seq++, status: 'running', running: true, block: {}, vcpus: VCPUS, kvm_vm: null, kvm_vcpu: null,
  kvm_vcpu_rates: rates, balloon_actual_bytes: null, poll_ms: 1, events_dropped: 0, null_reasons: reasons,
});
const r = (a: number | null, b: number | null) => ({ '/machine/unattached/device[0]': { exits_per_s: a }, '/machine/unattached/device[2]': { exits_per_s: b } });

describe('report panel: KVM exits per vCPU', () => {
  // regression for: per-vCPU exit rates in the rows but nowhere in the report (issue 20, part 5).
  it('one line per vCPU from kvm_vcpu_rates, gaps where no rate, a marker where a counter went backwards', () => {
    seq = 0;
    const sink = qmpPanels(meta, []);
    sink.push(poll(1, null, { kvm_vcpu_rates: 'the first poll of this QMP connection' }));
    sink.push(poll(2, r(1000, 10)));
    sink.push(poll(3, r(2000, 20)));
    sink.push(poll(4, null, { kvm_vcpu_rates: 'no per-vCPU KVM statistics this poll' }));
    sink.push(poll(5, r(3000, null), { 'kvm_vcpu_rates./machine/unattached/device[2].exits_per_s': 'exits went backwards (9 then 1): not a rate' }));
    seq++; // a lost row
    sink.push(poll(7, r(4000, 40)));
    const out = sink.finish();
    const p = out.panels.find((x) => x.id === 'qmp-kvm')!;
    expect(p).toBeDefined();
    expect(p.title).toBe('KVM exits per vCPU');
    expect(p.labels).toEqual(['vCPU 0 exits/s', 'vCPU 1 exits/s']);
    const [xs, v0, v1] = p.data as [number[], Array<number | null>, Array<number | null>];
    const at = (col: Array<number | null>, t: number) => col[xs.indexOf(t)];
    expect([2, 3, 5, 7].map((t) => at(v0, t))).toEqual([1000, 2000, 3000, 4000]);
    expect(at(v1, 3)).toBe(20);
    expect(at(v0, 4)).toBeNull(); // no rates this poll: a gap
    expect(at(v1, 5)).toBeNull();
    // The lost row (seq 5 missing) cuts the line before the next poll.
    expect(xs.some((x) => x > 5 && x < 7)).toBe(true);
    expect(v0[xs.findIndex((x) => x > 5 && x < 7)]).toBeNull();
    expect(out.markers.filter((m) => m.panels?.includes('qmp-kvm')).map((m) => [m.t, m.label])).toEqual([[5, 'qmp: vCPU 1 exits went backwards']]);
  });

  it('no panel, and no marker on it, in an episode without KVM rates', () => {
    seq = 0;
    const sink = qmpPanels(meta, []);
    for (let t = 1; t <= 5; t++) sink.push(poll(t, null, { kvm_vcpu_rates: 'no per-vCPU KVM statistics this poll (query-stats has no vcpu statistics in this QEMU)' }));
    const out = sink.finish();
    expect(out.panels.map((p) => p.id)).toEqual([]);
    expect(out.markers).toEqual([]);
  });

  // regression for: a row with vcpus null (query-cpus-fast refused, or vcpus cut to fit the row) labelled its vCPU by QOM path, so one vCPU became two lines.
  it('a row without vcpus keeps the "vCPU N" labels known from earlier rows of the episode', () => {
    seq = 0;
    const sink = qmpPanels(meta, []);
    sink.push(poll(1, r(100, 10)));
    sink.push({ ...poll(2, r(200, 20)), vcpus: null, null_reasons: { vcpus: 'query-cpus-fast: QEMU answered GenericError: no' } });
    sink.push(poll(3, r(300, 30)));
    const p = sink.finish().panels.find((x) => x.id === 'qmp-kvm')!;
    expect(p).toBeDefined();
    expect(p.labels).toEqual(['vCPU 0 exits/s', 'vCPU 1 exits/s']);
    const [xs, v0] = p.data as [number[], Array<number | null>];
    expect([1, 2, 3].map((t) => v0[xs.indexOf(t)])).toEqual([100, 200, 300]);
  });

  it('a vCPU never named by any row is labelled by its QOM path', () => {
    seq = 0;
    const sink = qmpPanels(meta, []);
    sink.push({ ...poll(1, { '/machine/x': { exits_per_s: 5 } }), vcpus: null });
    const p = sink.finish().panels.find((x) => x.id === 'qmp-kvm')!;
    expect(p.labels).toEqual(['/machine/x exits/s']);
  });
});
