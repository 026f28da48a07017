// The qmp collector against a real QEMU (TCG, paused, a virtio drive), driven
// from a second QMP socket as an operator would. The field carved qmp out of
// its emit tests as "needs a running QEMU"; labtel runs one. Skips only where
// qemu-system-x86_64 is absent (CI installs qemu-system-x86).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEpisode } from '../../../src/agent/run-episode.js';
import { parseManifest } from '../../../src/manifest/load.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import { recordEmitEvidence, witnessProgram } from '../../helpers/emit-witness.js';
import { hasQemu, startQemu } from '../../helpers/qemu.js';
import { readJsonl, tmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

type Row = Record<string, unknown>;
/** Rows of one source; qmp and qmp_event rows share telemetry-qmp.jsonl. */
const rowsOf = (dir: string, source: string): Row[] => {
  try {
    return readJsonl(path.join(dir, `telemetry-${source === 'host_proc' ? 'proc' : 'qmp'}.jsonl`)).filter((r) => r.source === source);
  } catch {
    return [];
  }
};

describe.skipIf(!hasQemu())('qmp collector against a real QEMU', () => {
  it('polls status and block stats, turns cont and quit into RESUME and SHUTDOWN rows, and names the vCPU threads', async () => {
    const q = await startQemu();
    const qemu = witnessProgram('qemu-system-x86_64', q.pid); // the peer is the real QEMU
    const dir = path.join(tmpDir(), 'ep');
    // The manifest names only the QMP socket: the pid and the vCPU threads come from QEMU.
    const manifest = parseManifest({
      output_dir: dir,
      target: { qmp_socket: q.qmp },
      collectors: { qmp: { socket: q.qmp, interval_ms: 200 }, proc: { interval_ms: 100, threads: true } },
    });
    const done = runEpisode({ manifest });

    const first = await waitFor(() => rowsOf(dir, 'qmp')[0], 'a qmp row');
    expect(first).toMatchObject({ source: 'qmp', status: 'prelaunch', running: false, kvm_vm: null });
    expect((first.block as Record<string, Row>).disk0).toMatchObject({ rd_bytes: 0, wr_bytes: 0, rd_operations: 0, failed_rd_operations: 0, flush_operations: 0 });
    expect((first.null_reasons as Record<string, string>).kvm_vm).toMatch(/only under accel=kvm/);
    const [vcpu] = first.vcpus as Array<{ cpu_index: number; thread_id: number }>;
    expect(vcpu!.cpu_index).toBe(0);

    await q.driver.execute('cont');
    const resume = await waitFor(() => rowsOf(dir, 'qmp_event').find((r) => r.event === 'RESUME'), 'RESUME');
    expect(resume).toMatchObject({ time_source: 'qemu', data: null });
    // On the episode clock: after the start of the last poll that saw QEMU paused (a poll row is
    // stamped when its last answer came, poll_ms after its first question), before the first that saw it run.
    const running = await waitFor(() => rowsOf(dir, 'qmp').find((r) => r.running === true), 'a running poll');
    const paused = rowsOf(dir, 'qmp').filter((r) => r.running === false).at(-1)!;
    expect(resume.t_mono_ns as number).toBeGreaterThan((paused.t_mono_ns as number) - (paused.poll_ms as number) * 1e6);
    expect(resume.t_mono_ns as number).toBeLessThan(running.t_mono_ns as number);

    await q.driver.execute('quit').catch(() => {}); // QEMU may close before it answers
    await q.exited;
    const { summary } = await done;
    // The target is gone: qmp ends (it does not wait for a QEMU that will not return), and so does proc.
    expect(summary.exit_reason).toBe('collectors_ended');
    expect(summary.collectors.qmp).toMatchObject({ status: 'ok', end: 'target_exited', errors: [] });
    const events = rowsOf(dir, 'qmp_event').map((r) => r.event);
    expect(events).toEqual(expect.arrayContaining(['RESUME', 'SHUTDOWN']));
    expect(rowsOf(dir, 'qmp_event').find((r) => r.event === 'SHUTDOWN')!.data).toMatchObject({ guest: false, reason: 'host-qmp-quit' });
    for (const name of ['qmp', 'qmp_event']) {
      const rows = rowsOf(dir, name);
      expect(rows.length, `${name} rows`).toBeGreaterThan(0);
      expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i)); // seq counts per source
      for (const r of rows) expect(ROW_SCHEMAS[name as 'qmp']!.safeParse(r).error).toBeUndefined();
    }
    // proc followed QEMU's pid from the socket, and its thread rows name the vCPU thread QEMU reported.
    const ep = JSON.parse(fs.readFileSync(path.join(dir, 'episode.json'), 'utf8'));
    expect(ep.target).toMatchObject({ pid: q.pid, qmp_socket: q.qmp, vcpu_threads: { [vcpu!.thread_id]: 0 } });
    const threads = rowsOf(dir, 'host_proc').filter((r) => r.tid === vcpu!.thread_id);
    expect(threads.length).toBeGreaterThan(0);
    expect(threads.every((r) => r.vcpu === 0)).toBe(true);
    const others = rowsOf(dir, 'host_proc').filter((r) => 'tid' in r && r.tid !== vcpu!.thread_id);
    expect(others.length).toBeGreaterThan(0); // QEMU's main thread at least
    expect(others.every((r) => r.vcpu === null)).toBe(true);
    recordEmitEvidence('qmp', qemu, rowsOf(dir, 'qmp').length + rowsOf(dir, 'qmp_event').length);
  });

  it('refuses an episode whose QMP socket is held by another client, naming why', async () => {
    const q = await startQemu();
    const { QmpClient } = await import('../../../src/qmp/client.js');
    const holder = await QmpClient.connect({ path: q.qmp });
    try {
      const { planCollectors } = await import('../../../src/agent/run-episode.js');
      const m = parseManifest({ output_dir: path.join(tmpDir(), 'ep'), target: { pid: q.pid }, collectors: { qmp: { socket: q.qmp } } });
      await expect(planCollectors(m)).rejects.toThrow(
        `collectors.qmp: cannot run: ${q.qmp}: no QMP greeting within 5000 ms (QEMU serves one client per QMP socket: is another client connected?)`,
      );
    } finally {
      holder.close();
    }
  });
});
