// What a broken or hostile QEMU may answer to the deeper queries (KVM exit
// rates, block latency histograms, query-migrate, the balloon's guest
// statistics): counters that go backwards, are negative or are not numbers,
// a histogram of a million bins, refusals. Each: null with what was wrong, a
// cut said where something was left out, never a rate across a gap, and
// every row valid against its schema.
import { describe, expect, it } from 'vitest';
import { newPollState, pollQemu, type PollState } from '../../../src/collectors/qmp/poll.js';
import { QMP_BOUNDS } from '../../../src/collectors/qmp/bounds.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import { QapiError } from '../../../src/util/qapi-error.js';
import { fakeQmp, okReply, runQmpLoop, stubQmp, type StubAnswers } from '../../helpers/fake-qmp.js';

type Row = Record<string, unknown>;
type Answers = StubAnswers;
const stub = stubQmp;

const vcpuStats = (stats: Record<string, unknown>) => (args?: Record<string, unknown>) =>
  args?.target === 'vcpu' ? [{ provider: 'kvm', 'qom-path': '/machine/cpu0', stats: Object.entries(stats).map(([name, value]) => ({ name, value })) }] : [];

/** A poll row as the loop would write it (for the schema check). */
const asRow = (p: Awaited<ReturnType<typeof pollQemu>>, seq = 0): Row => ({
  source: 'qmp', t_mono_ns: 1, seq, available_in_deployment: true, ...p.fields, poll_ms: 1, events_dropped: 0, ...(Object.keys(p.reasons).length ? { null_reasons: p.reasons } : {}),
});
const valid = (r: Row) => ROW_SCHEMAS.qmp!.safeParse(r).error;

describe('kvm_vcpu_rates from a hostile QEMU', () => {
  // regression for: a rate computed across a gap (a poll without kvm_vcpu) or from a counter that went backwards, negative or not a number.
  it('first poll null; then rates; a backwards, negative, non-numeric or missing counter null with why; a failed poll breaks the chain', async () => {
    const st: PollState = newPollState();
    let stats: Record<string, unknown> = { exits: 100, io_exits: 10, halt_exits: 5 };
    let refuse = false;
    const c = stub({ 'query-stats': (a) => { if (refuse && a?.target === 'vcpu') throw new QapiError('query-stats', 'GenericError', 'no'); return vcpuStats(stats)(a); } });
    const p1 = await pollQemu(c, st);
    expect(p1.fields.kvm_vcpu_rates).toBeNull();
    expect(p1.reasons.kvm_vcpu_rates).toMatch(/^the first poll of this QMP connection/);
    expect(valid(asRow(p1))).toBeUndefined();

    stats = { exits: 50, io_exits: -3, halt_exits: 'many', mmio_exits: 1 };
    const p2 = await pollQemu(c, st);
    const r2 = (p2.fields.kvm_vcpu_rates as Record<string, Row>)['/machine/cpu0']!;
    expect(r2).toMatchObject({ exits_per_s: null, io_exits_per_s: null, halt_exits_per_s: null, mmio_exits_per_s: null, irq_exits_per_s: null });
    expect(p2.reasons).toMatchObject({
      'kvm_vcpu_rates./machine/cpu0.exits_per_s': 'exits went backwards (100 then 50): not a rate',
      'kvm_vcpu_rates./machine/cpu0.io_exits_per_s': 'QEMU sent io_exits -3',
      'kvm_vcpu_rates./machine/cpu0.halt_exits_per_s': 'no halt_exits for this vCPU in kvm_vcpu (KVM did not report it, or QEMU sent no number)',
      'kvm_vcpu_rates./machine/cpu0.mmio_exits_per_s': 'the previous poll had no mmio_exits for this vCPU',
      'kvm_vcpu_rates./machine/cpu0.irq_exits_per_s': 'no irq_exits for this vCPU in kvm_vcpu (KVM did not report it, or QEMU sent no number)',
    });
    expect(valid(asRow(p2))).toBeUndefined();

    stats = { exits: 80, mmio_exits: 3 };
    const p3 = await pollQemu(c, st);
    const r3 = (p3.fields.kvm_vcpu_rates as Record<string, Row>)['/machine/cpu0']!;
    const w = p3.fields.kvm_rate_window_ms as number;
    expect(w).toBeGreaterThan(0);
    expect(r3.exits_per_s).toBeCloseTo(30 / (w / 1000), 6);
    expect(r3.mmio_exits_per_s).toBeCloseTo(2 / (w / 1000), 6);

    refuse = true;
    const p4 = await pollQemu(c, st);
    expect(p4.fields.kvm_vcpu_rates).toBeNull();
    expect(p4.reasons.kvm_vcpu_rates).toBe('no per-vCPU KVM statistics this poll (query-stats: QEMU answered GenericError: no)');
    refuse = false;
    stats = { exits: 90 };
    const p5 = await pollQemu(c, st);
    expect(p5.fields.kvm_vcpu_rates).toBeNull(); // not (90 - 80) over two intervals
    expect(p5.reasons.kvm_vcpu_rates).toMatch(/^the first poll/);
  });

  // regression for: rates carried over a reconnect (a restarted QEMU has new counters: a rate across it is a lie).
  it('after a reconnect the first poll has no rate again', async () => {
    const fake = await fakeQmp();
    let exits = 0;
    fake.on('query-stats-schemas', (req) => okReply(req.id, [{ target: 'vm' }, { target: 'vcpu' }]));
    fake.on('query-stats', (req, conn) => {
      if ((req.arguments as Row)?.target !== 'vcpu') return okReply(req.id, []);
      exits += 1000; // grows over both connections: only a reset state keeps the rate from spanning them
      return okReply(req.id, [{ provider: 'kvm', 'qom-path': '/machine/cpu0', stats: [{ name: 'exits', value: exits }] }]);
    });
    // QEMU goes after answering the 3rd poll whole (its last query), so that poll's counters are the state a reconnect must drop.
    fake.on('query-migrate', (req, conn) => {
      if (req.n === 3) setTimeout(() => conn.close(), 20);
      return okReply(req.id, {});
    });
    const run = await runQmpLoop(fake, () => fake.connections >= 2 && fake.count('query-stats', 1) >= 6);
    expect(run.result.connections).toBe(2);
    const firsts = run.qmp.filter((r) => /^the first poll/.test(((r.null_reasons ?? {}) as Row).kvm_vcpu_rates as string));
    expect(firsts).toHaveLength(2);
    expect(run.qmp.filter((r) => r.kvm_vcpu_rates !== null).length).toBeGreaterThan(2);
    expect(run.rows.length).toBeGreaterThan(0);
    for (const r of run.rows) expect(valid(r as Row), `seq ${String(r.seq)}`).toBeUndefined();
  });
});

const blockstats = (stats: Record<string, unknown>) => () => [
  { device: '', qdev: '/machine/peripheral/disk0/virtio-backend', 'node-name': 'n0', stats: { rd_bytes: 0, ...stats } },
];

describe('block latency histograms from a hostile QEMU', () => {
  // regression for: a histogram of a million bins written whole (a row of megabytes), or a malformed one written as data.
  it('a huge histogram is left out with a cut; mismatched, non-numeric or falling ones are null with why; set once per device', async () => {
    const sent: Array<[string, unknown]> = [];
    const st = newPollState();
    const big = { boundaries: Array.from({ length: 1_000_000 }, (_, i) => i + 1), bins: Array.from({ length: 1_000_001 }, () => 1) };
    const c = stub(
      {
        'query-blockstats': blockstats({
          rd_latency_histogram: big,
          wr_latency_histogram: { boundaries: [1, 2], bins: [1, 2] },
          flush_latency_histogram: { boundaries: [5, 2], bins: [0, -1, 0] },
        }),
      },
      sent,
    );
    const p1 = await pollQemu(c, st);
    const key = (k: string) => `block./machine/peripheral/disk0/virtio-backend.${k}`;
    // Before labtel's set took, what QEMU reports is not written (it is another client's, or an earlier connection's).
    expect((p1.fields.block as Record<string, Row>)['/machine/peripheral/disk0/virtio-backend']).toMatchObject({ rd_latency_histogram: null, wr_latency_histogram: null, flush_latency_histogram: null });
    expect(p1.reasons[key('rd_latency_histogram')]).toMatch(/^not set yet on this connection: labtel asks block-latency-histogram-set after this poll's queries/);
    // Set by the QOM path (the device has no id), with labtel's boundaries, once.
    expect(sent.filter(([cmd]) => cmd === 'block-latency-histogram-set')).toEqual([
      ['block-latency-histogram-set', { id: '/machine/peripheral/disk0/virtio-backend', boundaries: [10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000] }],
    ]);
    const p2 = await pollQemu(c, st);
    const d = (p2.fields.block as Record<string, Row>)['/machine/peripheral/disk0/virtio-backend']!;
    expect(d).toMatchObject({ rd_latency_histogram: null, wr_latency_histogram: null, flush_latency_histogram: null });
    expect(p2.reasons[key('rd_latency_histogram')]).toBe(`QEMU sent a histogram of 1000001 bins and 1000000 boundaries, more than the ${QMP_BOUNDS.histogramBuckets} kept: left out`);
    expect(p2.reasons[key('wr_latency_histogram')]).toBe('QEMU sent 2 boundaries and 2 bins (a histogram has one bin more than boundaries)');
    expect(p2.reasons[key('flush_latency_histogram')]).toBe('QEMU sent a boundary or bin that is not a count: -1');
    expect(p2.cut.block).toBe(`1 latency histogram of more than ${QMP_BOUNDS.histogramBuckets} bins left out`);
    expect(valid(asRow(p1))).toBeUndefined();
    expect(valid(asRow(p2))).toBeUndefined();
    expect(sent.filter(([cmd]) => cmd === 'block-latency-histogram-set')).toHaveLength(1);
  });

  it("a refused set: the histograms are null with QEMU's answer on every poll, asked once", async () => {
    const sent: Array<[string, unknown]> = [];
    const st = newPollState();
    const c = stub(
      {
        'query-blockstats': blockstats({}),
        'block-latency-histogram-set': () => {
          throw new QapiError('block-latency-histogram-set', 'GenericError', 'Device has no medium');
        },
      },
      sent,
    );
    await pollQemu(c, st);
    const p2 = await pollQemu(c, st);
    expect(p2.reasons['block./machine/peripheral/disk0/virtio-backend.rd_latency_histogram']).toBe('block-latency-histogram-set: QEMU answered GenericError: Device has no medium (not asked again on this connection)');
    expect(sent.filter(([cmd]) => cmd === 'block-latency-histogram-set')).toHaveLength(1);
  });
});

describe('query-migrate and the balloon from a hostile QEMU', () => {
  // regression for: QEMU's migration figures and guest statistics taken unchecked (negative, strings, u64 -1 as data).
  it('migration figures that are not counts are null with what QEMU sent; a status that is no string nulls the whole', async () => {
    let answer: unknown = { status: 'active', 'total-time': 'long', ram: { transferred: -1, remaining: 5, total: 10, mbps: 1e400 } };
    const c = stub({ 'query-migrate': () => answer });
    const st = newPollState();
    const p = await pollQemu(c, st);
    expect(p.fields.migration).toMatchObject({ status: 'active', total_time_ms: null, ram_transferred_bytes: null, ram_remaining_bytes: 5, ram_total_bytes: 10, ram_mbps: null });
    expect(p.reasons).toMatchObject({
      'migration.total_time_ms': 'QEMU sent total-time "long"',
      'migration.ram_transferred_bytes': 'QEMU sent ram.transferred -1',
      'migration.ram_mbps': 'QEMU sent ram.mbps Infinity (a number past what a double holds)',
    });
    expect(valid(asRow(p))).toBeUndefined();
    answer = { status: { evil: true } };
    const p2 = await pollQemu(c, st);
    expect(p2.fields.migration).toBeNull();
    expect(p2.reasons.migration).toBe('query-migrate: QEMU sent status {"evil":true}');
  });

  it('balloon guest statistics: -1 and 2^64-1 are "not provided", a string is what QEMU sent; a QOM listing of 100,000 children is looked at only in part', async () => {
    const sent: Array<[string, unknown]> = [];
    let last: unknown = 1_700_000_000;
    const c = stub(
      {
        'query-balloon': () => ({ actual: 1 << 30 }),
        'qom-list': (a) =>
          a?.path === '/machine/peripheral'
            ? [...Array.from({ length: 100_000 }, (_, i) => ({ name: `x${i}`, type: 'child<e1000>' })), { name: 'late', type: 'child<virtio-balloon-pci>' }]
            : [{ name: 'device[3]', type: 'child<virtio-balloon-pci>' }],
        'qom-get': () => ({ 'last-update': last, stats: { 'stat-free-memory': 4096, 'stat-swap-in': -1, 'stat-total-memory': 18446744073709551615, 'stat-minor-faults': 'lots' } }),
      },
      sent,
    );
    let t = 0;
    const st = newPollState({ intervalMs: 2500, nowMs: () => t });
    const p = await pollQemu(c, st);
    expect(sent.find(([cmd]) => cmd === 'qom-set')).toEqual(['qom-set', { path: '/machine/peripheral-anon/device[3]', property: 'guest-stats-polling-interval', value: 3 }]);
    expect(p.fields.balloon_guest).toMatchObject({ last_update_s: 1_700_000_000, free_memory_bytes: 4096, swap_in_bytes: null, total_memory_bytes: null, minor_faults: null, major_faults: null });
    expect(p.reasons).toMatchObject({
      'balloon_guest.swap_in_bytes': 'the guest did not provide stat-swap-in (QEMU reports -1)',
      'balloon_guest.total_memory_bytes': 'the guest did not provide stat-total-memory (QEMU reports -1)',
      'balloon_guest.minor_faults': 'QEMU sent stat-minor-faults "lots"',
      'balloon_guest.major_faults': 'QEMU did not report stat-major-faults',
    });
    expect(valid(asRow(p))).toBeUndefined();
    last = 'yesterday';
    t = 3000; // a guest-stats-polling-interval (3 s) later: asked again
    const p2 = await pollQemu(c, st);
    expect(p2.fields.balloon_guest).toBeNull();
    expect(p2.reasons.balloon_guest).toMatch(/^qom-get guest-stats: QEMU sent last-update "yesterday"/);
    expect(sent.filter(([cmd]) => cmd === 'qom-set')).toHaveLength(1); // once per connection
  });
});
