// Thread rows of a real QEMU (TCG, paused, two vCPUs and an iothread): each
// thread's role from QMP's query-cpus-fast and query-iothreads, and its
// scheduler statistics from task/TID/schedstat, on both samplers. With
// debug-threads=off QEMU gives every thread its own name, so only QMP can
// tell them apart; with debug-threads=on the iothread is known by its name
// ("IO iothread1") too.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { procLoop } from '../../../src/collectors/proc/run-loop.js';
import { JsonlWriter } from '../../../src/rows/jsonl-writer.js';
import { qmpTarget } from '../../../src/qmp/target.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import { hasQemu, startQemu } from '../../helpers/qemu.js';
import { stopAfterSamples } from '../../helpers/stop-after.js';
import { readJsonl, tmpDir } from '../../helpers/tmp.js';

type Row = Record<string, unknown>;

async function threadRows(pid: number, kind: 'native' | 'ts', vcpuThreads?: Record<string, number>, ioThreads?: Record<string, string>): Promise<Row[]> {
  const out = path.join(tmpDir(), `${kind}.jsonl`);
  const writer = new JsonlWriter(out, { availableInDeployment: true });
  const { clock, signal } = stopAfterSamples(2);
  await procLoop({ pid, writer, clock, intervalMs: 50, signal, threads: true, vcpuThreads, ioThreads, sampler: kind });
  writer.close();
  return readJsonl(out).filter((r) => 'tid' in r);
}

const roles = (rows: Row[]) => Object.fromEntries(rows.map((r) => [String(r.tid), r.role]));

describe.skipIf(!hasQemu())('thread roles and schedstat of a real QEMU', () => {
  it('debug-threads=off: vCPUs and the iothread from QMP, the main thread by its tid, on both samplers', async () => {
    const q = await startQemu({ args: ['-smp', '2', '-object', 'iothread,id=iothread1', '-name', 'labtel-test,debug-threads=off'] });
    const t = await qmpTarget(q.qmp);
    expect(t.pid).toBe(q.pid);
    expect(Object.keys(t.vcpuThreads)).toHaveLength(2);
    expect(Object.values(t.ioThreads)).toEqual(['iothread1']);
    const native = await threadRows(q.pid, 'native', t.vcpuThreads, t.ioThreads);
    const ts = await threadRows(q.pid, 'ts', t.vcpuThreads, t.ioThreads);
    expect(native.length).toBeGreaterThan(0);
    const last = native.filter((r) => r.interval_s !== null); // the second sample
    expect(last.length).toBeGreaterThan(0);
    const byRole = (role: string) => last.filter((r) => r.role === role).map((r) => r.tid as number).sort((a, b) => a - b);
    expect(byRole('main')).toEqual([q.pid]);
    expect(byRole('vcpu')).toEqual(Object.keys(t.vcpuThreads).map(Number).sort((a, b) => a - b));
    expect(byRole('io')).toEqual(Object.keys(t.ioThreads).map(Number));
    expect(byRole('vhost')).toEqual([]);
    // Every comm is QEMU's own name here: the roles came from QMP, not from names.
    expect(new Set(last.map((r) => r.comm)).size).toBe(1);
    expect(roles(ts)).toEqual(roles(native));
    for (const r of last) {
      expect(() => ROW_SCHEMAS.host_proc!.parse(r)).not.toThrow();
      // This kernel keeps scheduler statistics: every thread has them, and every thread has run.
      expect(r.cpu_time_ns, `thread ${String(r.tid)}`).toEqual(expect.any(Number));
      expect(r.run_delay_ns).toEqual(expect.any(Number));
      expect(r.run_periods as number).toBeGreaterThan(0);
    }
    // The main thread ran to set the machine up: it has CPU time, more than its jiffies say to the tick.
    const main = last.find((r) => r.role === 'main')!;
    expect(main.cpu_time_ns as number).toBeGreaterThan(0);
  }, 60_000);

  it('debug-threads=on: the iothread is also known by its name, without QMP', async () => {
    const q = await startQemu({ args: ['-object', 'iothread,id=iothread1', '-name', 'labtel-test,debug-threads=on'] });
    const rows = await threadRows(q.pid, 'native');
    expect(rows.length).toBeGreaterThan(0);
    const io = rows.filter((r) => r.role === 'io');
    expect(io.length).toBeGreaterThan(0);
    for (const r of io) expect(r.comm as string).toMatch(/^IO /);
    expect(io.map((r) => r.comm)).toContain('IO iothread1');
    // vCPUs by their names (CPU 0/TCG) when no QMP answer is given.
    expect(rows.filter((r) => r.role === 'vcpu').map((r) => r.comm)).toContain('CPU 0/TCG');
  }, 60_000);
});
