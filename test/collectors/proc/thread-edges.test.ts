// Thread rows at their edges: a schedstat reading "0 0 0" (a thread that has
// not run, on a kernel that keeps the statistics; every thread, on one that
// keeps none), a schedstat that could not be opened at first, and a thread
// that names itself like a kernel vhost worker.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { procLoop } from '../../../src/collectors/proc/run-loop.js';
import { createProcSampler } from '../../../src/collectors/proc/sampler.js';
import { nativeAddon } from '../../../src/native/addon.js';
import { JsonlWriter } from '../../../src/rows/jsonl-writer.js';
import { stopAfterSamples } from '../../helpers/stop-after.js';
import { readJsonl, tmpDir } from '../../helpers/tmp.js';

const kinds = nativeAddon() ? (['native', 'ts'] as const) : (['ts'] as const);
const FIXTURE = path.resolve('test/fixtures/proc/qemu-like/proc');
const PID = 3728;
const TID = 3781; // CPU 0/TCG in the fixture

/** The qemu-like fixture, copied so a test may change it. */
function fixtureCopy(): string {
  const root = path.join(tmpDir(), 'proc');
  fs.cpSync(FIXTURE, root, { recursive: true });
  return root;
}

async function threadRows(procRoot: string, pid: number, kind: (typeof kinds)[number], more: Partial<Parameters<typeof procLoop>[0]> = {}) {
  const out = path.join(tmpDir(), `${kind}.jsonl`);
  const writer = new JsonlWriter(out, { availableInDeployment: true });
  const { clock, signal } = stopAfterSamples(1);
  await procLoop({ pid, writer, clock, intervalMs: 10, signal, threads: true, procRoot, sampler: kind, ...more });
  writer.close();
  return readJsonl(out).filter((r) => 'tid' in r);
}

describe.each(kinds)('thread rows at their edges (%s sampler)', (kind) => {
  // Regression for: "0 0 0" was always written as "this kernel keeps no scheduler statistics" (nulls), though on a
  // kernel that keeps them it is a thread that has not run yet: its figures are zeros.
  it('"0 0 0" is zeros where the kernel keeps scheduler statistics, nulls with the reason where it keeps none', async () => {
    const root = fixtureCopy();
    fs.writeFileSync(path.join(root, String(PID), 'task', String(TID), 'schedstat'), '0 0 0\n');
    const kept = (await threadRows(root, PID, kind, { kernelSchedInfo: true })).find((r) => r.tid === TID)!;
    expect([kept.cpu_time_ns, kept.run_delay_ns, kept.run_periods]).toEqual([0, 0, 0]);
    expect((kept.null_reasons as Record<string, string> | undefined)?.cpu_time_ns).toBeUndefined();
    const none = (await threadRows(root, PID, kind, { kernelSchedInfo: false })).find((r) => r.tid === TID)!;
    expect([none.cpu_time_ns, none.run_delay_ns, none.run_periods]).toEqual([null, null, null]);
    expect((none.null_reasons as Record<string, string>).run_delay_ns).toBe(`${root}/${PID}/task/${TID}/schedstat reads "0 0 0": this kernel keeps no scheduler statistics for it`);
    // This kernel keeps them (the collector's own default).
    const real = (await threadRows(root, PID, kind)).find((r) => r.tid === TID)!;
    expect(real.cpu_time_ns).toBe(0);
  });

  // Regression for: a schedstat that failed to open once (EMFILE, ENOENT) was never opened again, so the thread had no
  // figures for the rest of the episode.
  it('a schedstat that could not be opened is opened again at the next sample', () => {
    const root = fixtureCopy();
    const file = path.join(root, String(PID), 'task', String(TID), 'schedstat');
    const target = path.join(root, 'later-schedstat');
    fs.rmSync(file);
    fs.symlinkSync(target, file); // dangling until the second sample
    const { sampler } = createProcSampler(root, PID, 4096, kind);
    expect(sampler.open()).toBe(0);
    const first = sampler.threads().find((t) => t.tid === TID)!;
    fs.writeFileSync(target, '1000 20 3\n');
    const second = sampler.threads().find((t) => t.tid === TID)!;
    sampler.close();
    expect([first.sched_error, first.cpu_time_ns]).toEqual([2 /* ENOENT */, null]);
    expect([second.sched_error, second.cpu_time_ns, second.run_delay_ns, second.run_periods]).toEqual([0, 1000, 20, 3]);
  });

  // Regression for: a thread of the target that named itself vhost-<pid> was counted as the kernel's vhost worker.
  it("a thread of this process renamed vhost-<pid> is not a vhost worker: the kernel did not make it", async () => {
    const self = fs.readFileSync('/proc/thread-self/stat', 'latin1').split(' ')[0]!;
    const others = fs.readdirSync('/proc/self/task').filter((t) => t !== self && t !== String(process.pid));
    expect(others.length).toBeGreaterThan(0);
    const tid = Number(others[0]);
    const comm = `/proc/self/task/${tid}/comm`;
    const was = fs.readFileSync(comm, 'latin1').trim();
    fs.writeFileSync(comm, `vhost-${process.pid}`);
    try {
      const rows = await threadRows('/proc', process.pid, kind);
      const row = rows.find((r) => r.tid === tid)!;
      expect(row.comm).toBe(`vhost-${process.pid}`);
      expect(row.role).toBe('other');
    } finally {
      fs.writeFileSync(comm, was);
    }
  });
});
