// The deeper QMP figures against a real QEMU under KVM (-machine q35,accel=kvm
// -cpu qemu64: on these machines KVM runs the firmware and accounts its exits
// though no guest kernel boots): per-vCPU KVM exit rates from query-stats,
// block latency histograms, query-migrate and MIGRATION events during a real
// migration (to exec:cat > /dev/null), and a balloon whose guest sends no
// statistics (there is no guest). Gated by hasKvm(), which throws under CI.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EpisodeClock } from '../../../src/clock/origin.js';
import { qmpLoop, type QmpLoopResult } from '../../../src/collectors/qmp/run-loop.js';
import { KVM_RATE_COUNTERS } from '../../../src/collectors/qmp/kvm-rates.js';
import { LATENCY_BOUNDARIES_NS } from '../../../src/collectors/qmp/block-histograms.js';
import { JsonlWriter } from '../../../src/rows/jsonl-writer.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import { hasKvm, startQemu } from '../../helpers/qemu.js';
import { readJsonl, tmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

type Row = Record<string, unknown>;
const reasonsOf = (r: Row) => (r.null_reasons ?? {}) as Record<string, string>;

/** qmpLoop on `socket` writing to a file; rows() reads what it wrote so far; stop() ends it. */
function runLoop(socket: string, pid: number) {
  const out = path.join(tmpDir(), 'telemetry-qmp.jsonl');
  const writer = new JsonlWriter(out, { availableInDeployment: true });
  const clock = new EpisodeClock(process.hrtime.bigint(), BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint());
  const ac = new AbortController();
  const reports: string[] = [];
  const loop = qmpLoop({ socket, intervalMs: 200, pid, writer, clock, signal: ac.signal, reportError: (m) => reports.push(m) });
  const rows = (): Row[] => {
    writer.flush();
    return fs.existsSync(out) ? readJsonl(out) : [];
  };
  return {
    rows,
    qmp: () => rows().filter((r) => r.source === 'qmp'),
    events: () => rows().filter((r) => r.source === 'qmp_event'),
    reports,
    async stop(): Promise<QmpLoopResult> {
      ac.abort();
      const r = await loop;
      writer.close();
      return r;
    },
  };
}

const KVM_ARGS = ['-machine', 'q35,accel=kvm', '-cpu', 'qemu64', '-smp', '2'];

describe.skipIf(!hasKvm())('qmp collector against a real QEMU under KVM', () => {
  // regression for: query-stats collected but never read against a real KVM QEMU, and exit counters
  // written only as totals since QEMU started (no per-interval figure a report can draw).
  it('per-vCPU exit rates: null on the first poll, then (now - before) / window from consecutive polls, for every vCPU', async () => {
    const q = await startQemu({ args: KVM_ARGS });
    const run = runLoop(q.qmp, q.pid);
    await waitFor(() => run.qmp().length >= 1, 'a first qmp row');
    await q.driver.execute('cont'); // the firmware runs: the exit counters move
    const rows = await waitFor(() => {
      const r = run.qmp();
      return r.filter((x) => x.kvm_vcpu_rates && Object.values(x.kvm_vcpu_rates as object).some((v) => (v as Row).exits_per_s as number > 0)).length >= 3 && r;
    }, 'three qmp rows with a vCPU exit rate above 0');
    const result = await run.stop();
    if (process.env.DUMP) fs.writeFileSync(process.env.DUMP, JSON.stringify(run.rows(), null, 1));
    expect(result.connections).toBe(1);

    const first = rows[0]!;
    expect(first.kvm_vcpu_rates).toBeNull();
    expect(reasonsOf(first).kvm_vcpu_rates).toMatch(/^the first poll of this QMP connection/);
    // KVM's real per-vCPU counters: two vCPUs, every rated counter present.
    const paths = Object.keys(rows.at(-1)!.kvm_vcpu as object);
    expect(paths).toHaveLength(2);
    expect(KVM_RATE_COUNTERS.length).toBeGreaterThan(0);
    expect(rows.length).toBeGreaterThan(1);
    for (const p of paths) for (const k of KVM_RATE_COUNTERS) expect(Number.isSafeInteger(((rows.at(-1)!.kvm_vcpu as Row)[p] as Row)[k]), `${p} ${k}`).toBe(true);
    // Each rate is the difference of the two polls' counters over the window the row states.
    let checked = 0;
    for (const [i, b] of rows.entries()) {
      if (i === 0) continue;
      const a = rows[i - 1]!;
      expect(b.kvm_vcpu_rates, `row ${i}`).not.toBeNull();
      const w = b.kvm_rate_window_ms as number;
      expect(w).toBeGreaterThan(0);
      for (const p of paths)
        for (const k of KVM_RATE_COUNTERS) {
          const d = (((b.kvm_vcpu as Row)[p] as Row)[k] as number) - (((a.kvm_vcpu as Row)[p] as Row)[k] as number);
          expect(((b.kvm_vcpu_rates as Row)[p] as Row)[`${k}_per_s`]).toBeCloseTo(d / (w / 1000), 6);
          checked++;
        }
    }
    expect(checked).toBeGreaterThan(0);
    const all = run.rows();
    expect(all.length).toBeGreaterThan(0);
    for (const r of all) expect(ROW_SCHEMAS[r.source as 'qmp']!.safeParse(r).error).toBeUndefined();
  });

  // regression for: block latency, migration and the balloon's guest statistics not collected at all (issue 20, part 4).
  it('block latency histograms after the firmware read the disk, a migration seen active then completed with its events, a balloon without guest statistics', async () => {
    const q = await startQemu({ args: [...KVM_ARGS, '-device', 'virtio-balloon-pci,id=balloon0'] });
    const run = runLoop(q.qmp, q.pid);
    const first = await waitFor(() => run.qmp()[0], 'a first qmp row');
    // The poll that sets the histograms says so; from the next they are there.
    expect(reasonsOf(first)['block.disk0.rd_latency_histogram']).toMatch(/^not set yet on this connection: labtel asks block-latency-histogram-set after this poll's queries/);
    expect(first.migration_events).toBe(true);
    expect(first.migration).toBeNull();
    expect(reasonsOf(first).migration).toBe('no migration has run on this QEMU (query-migrate answered without a status)');
    await waitFor(() => run.qmp().length >= 2, 'a second qmp row');
    await q.driver.execute('cont'); // SeaBIOS reads the virtio disk's first sector looking for something to boot
    const read = await waitFor(() => run.qmp().find((r) => ((r.block as Record<string, Row>).disk0!.rd_operations as number) > 0), 'a poll after the firmware read the disk');
    const disk = (read.block as Record<string, Row>).disk0!;
    const h = disk.rd_latency_histogram as { boundaries: number[]; bins: number[] };
    expect(h.boundaries).toEqual([...LATENCY_BOUNDARIES_NS]);
    expect(h.bins).toHaveLength(7);
    // Set before the firmware ran: every read is in the histogram.
    expect(h.bins.reduce((a, b) => a + b, 0)).toBe(disk.rd_operations);

    // The balloon exists (query-balloon answers) but no guest driver sends statistics.
    expect(read.balloon_actual_bytes).toBe(64 << 20);
    expect(read.balloon_guest).toBeNull();
    expect(reasonsOf(read).balloon_guest).toMatch(/^the guest has sent no memory statistics \(last-update 0\)/);
    const polling = await q.driver.execute<number>('qom-get', { path: '/machine/peripheral/balloon0', property: 'guest-stats-polling-interval' });
    expect(polling).toBe(1); // interval 200 ms: at least 1 s

    // A slow migration to nowhere: active for some polls, then completed.
    await q.driver.execute('stop');
    await q.driver.execute('migrate-set-parameters', { 'max-bandwidth': 256 << 10 });
    await q.driver.execute('migrate', { uri: 'exec:cat > /dev/null' });
    const active = await waitFor(() => run.qmp().find((r) => (r.migration as Row | null)?.status === 'active'), 'a poll during the migration');
    const done = await waitFor(() => run.qmp().find((r) => (r.migration as Row | null)?.status === 'completed'), 'a poll after the migration');
    await waitFor(() => run.events().some((e) => e.event === 'MIGRATION' && (e.data as Row)?.status === 'completed'), 'MIGRATION completed');
    const result = await run.stop();
    expect(result.connections).toBe(1);
    const m = active.migration as Row;
    expect(m.ram_total_bytes as number).toBeGreaterThanOrEqual(64 << 20);
    expect(m.ram_transferred_bytes as number).toBeGreaterThan(0);
    expect(m.total_time_ms).toEqual(expect.any(Number));
    expect(m.downtime_ms).toBeNull();
    expect(reasonsOf(active)['migration.downtime_ms']).toBe('QEMU did not report downtime (status active)');
    const d = done.migration as Row;
    expect(d.downtime_ms).toEqual(expect.any(Number));
    expect(d.ram_remaining_bytes).toBe(0);
    const statuses = run.events().filter((e) => e.event === 'MIGRATION').map((e) => (e.data as Row).status);
    expect(statuses).toEqual(expect.arrayContaining(['setup', 'active', 'completed']));
    const all = run.rows();
    expect(all.length).toBeGreaterThan(0);
    for (const r of all) expect(ROW_SCHEMAS[r.source as 'qmp']!.safeParse(r).error).toBeUndefined();
  });
});
