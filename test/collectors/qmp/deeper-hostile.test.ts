// What a broken or hostile QEMU may answer to the deeper queries (KVM exit
// rates, block latency histograms, query-migrate, the balloon's guest
// statistics): counters that go backwards, are negative or are not numbers,
// a histogram of a million bins, refusals. Each: null with what was wrong, a
// cut said where something was left out, never a rate across a gap, and
// every row valid against its schema.
import { describe, expect, it } from 'vitest';
import { newPollState, pollQemu, type PollState } from '../../../src/collectors/qmp/poll.js';
import { QMP_BOUNDS } from '../../../src/collectors/qmp/bounds.js';
import type { QmpClient } from '../../../src/qmp/client.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import { QapiError } from '../../../src/util/qapi-error.js';
import { fakeQmp, okReply, runQmpLoop } from '../../helpers/fake-qmp.js';

type Row = Record<string, unknown>;
type Answers = Record<string, (args?: Record<string, unknown>) => unknown>;

/** A QEMU answering each command with what `answers` gives (throwing is refusing); unknown commands answer []. */
const stub = (answers: Answers, sent: Array<[string, unknown]> = []) =>
  ({
    execute: async (command: string, args?: Record<string, unknown>) => {
      sent.push([command, args]);
      const a = answers[command];
      if (a) return a(args);
      if (command === 'query-stats-schemas') return [{ target: 'vm' }, { target: 'vcpu' }];
      if (command === 'query-status') return { status: 'running', running: true };
      return [];
    },
  }) as unknown as QmpClient;

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
    for (const r of run.rows) expect(valid(r as Row), `seq ${String(r.seq)}`).toBeUndefined();
  });
});
