// The qmp collector's loop through libvirt, beside the same loop on a QMP
// socket of the same QEMU (a real libvirtd, a transient TCG domain, paused):
// the same rows, field for field, apart from what differs by nature (the
// poll's own time). Gated by hasLibvirtd(), which throws under CI.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EpisodeClock } from '../../../src/clock/origin.js';
import { qmpLoop, type QmpLoopOptions, type QmpLoopResult } from '../../../src/collectors/qmp/run-loop.js';
import { JsonlWriter } from '../../../src/rows/jsonl-writer.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import { hasLibvirtd, startProbeDomain, TEST_URI } from '../../helpers/libvirt-domain.js';
import { readJsonl, tmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

type Row = Record<string, unknown>;

function runLoop(how: Pick<QmpLoopOptions, 'socket' | 'libvirt'>, pid: number) {
  const out = path.join(tmpDir(), 'telemetry-qmp.jsonl');
  const writer = new JsonlWriter(out, { availableInDeployment: true });
  const clock = new EpisodeClock(process.hrtime.bigint(), BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint());
  const ac = new AbortController();
  const reports: string[] = [];
  const loop = qmpLoop({ ...how, intervalMs: 200, pid, writer, clock, signal: ac.signal, reportError: (m) => reports.push(m) });
  const rows = (): Row[] => {
    writer.flush();
    return fs.existsSync(out) ? readJsonl(out) : [];
  };
  return {
    qmp: () => rows().filter((r) => r.source === 'qmp'),
    events: () => rows().filter((r) => r.source === 'qmp_event'),
    reports,
    /** The loop's end, however it comes. */
    ended: loop.then((r) => (writer.close(), r)),
    async stop(): Promise<QmpLoopResult> {
      ac.abort();
      const r = await loop;
      writer.close();
      return r;
    },
  };
}

/** A row without what differs by nature between two pollers: when, how long the poll took, and how long ago an answer came (in words). */
const comparable = (r: Row): Row => {
  const { t_mono_ns: _t, poll_ms: _p, seq: _s, ...rest } = r;
  return JSON.parse(JSON.stringify(rest).replace(/\d+ ms before/g, 'N ms before')) as Row;
};

describe.runIf(hasLibvirtd())('qmp collector through libvirt', () => {
  it('writes the rows a direct socket gives, and the same events at the same QEMU time', async () => {
    const d = await startProbeDomain();
    const direct = runLoop({ socket: d.qmp }, d.pid);
    const via = runLoop({ libvirt: { domain: d.name, uri: TEST_URI } }, d.pid);
    try {
      // A few polls each, once both have set up what they set up (the balloon's period, histograms).
      await waitFor(() => direct.qmp().length >= 6 && via.qmp().length >= 6, 'six polls each');
      const a = comparable(direct.qmp().at(-1)!);
      const b = comparable(via.qmp().at(-1)!);
      expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
      expect(b).toEqual(a);
      expect(b).toMatchObject({ status: 'prelaunch', running: false });
      expect((b.vcpus as unknown[]).length).toBe(2);
      expect(Object.keys(b.block as object)).not.toHaveLength(0);
      expect(via.qmp().length).toBeGreaterThan(0);
      for (const r of via.qmp()) expect(ROW_SCHEMAS.qmp!.safeParse(r).success).toBe(true);

      d.virsh('resume', d.name);
      d.virsh('suspend', d.name);
      await waitFor(() => via.events().some((e) => e.event === 'STOP') && direct.events().some((e) => e.event === 'STOP'), 'STOP on both');
      const stamp = (rows: Row[]) => rows.filter((e) => e.event === 'RESUME' || e.event === 'STOP').map((e) => [e.event, e.qemu_wall_ns, e.time_source]);
      expect(stamp(via.events())).toEqual(stamp(direct.events()));
      expect(stamp(via.events())[0]).toEqual(['RESUME', expect.stringMatching(/^\d+$/), 'qemu']);
    } finally {
      const [ra, rb] = [await direct.stop(), await via.stop()];
      expect(rb.connections).toBe(1);
      expect(rb.qemuVersion).toBe(ra.qemuVersion);
      expect(rb.problems).toEqual({});
      expect(via.reports).toEqual([]);
    }
  });

  it('the domain destroyed: the loop ends target_exited, as when QEMU exits under a socket', async () => {
    const d = await startProbeDomain();
    const via = runLoop({ libvirt: { domain: d.name, uri: TEST_URI } }, d.pid);
    await waitFor(() => via.qmp().length >= 1, 'a poll');
    d.destroy();
    // Ended by itself (the test's timeout is the bound): the next poll's error, then QEMU gone.
    const r = await via.ended;
    expect(r.end).toBe('target_exited');
    expect(via.qmp().length).toBeGreaterThan(0);
  });

  it('started again under its name before the loop connects: the QEMU it was given is gone, so no poll of the new one is written', async () => {
    const d = await startProbeDomain();
    const pid = d.pid;
    await d.restart();
    expect(d.pid).not.toBe(pid);
    const via = runLoop({ libvirt: { domain: d.name, uri: TEST_URI } }, pid);
    const r = await via.ended;
    expect(r.end).toBe('target_exited');
    expect(via.qmp()).toEqual([]);
  });
});
