// Every collector against a real booted guest: the tiny guest of
// scripts/build-test-guest.sh under QEMU (TCG) on a bridge in a network
// namespace, recorded by `labtel run` from a manifest naming only the QMP
// socket, the bridge and the guest channel. The field carved qmp and
// guest_agent out of its emit tests as "needs a running VM"; this runs one.
// Skips only where QEMU, tcpdump or root are missing (CI has them all).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runVmEpisode, type VmEpisode } from '../../src/demo/vm-episode.js';
import { nativeAddon } from '../../src/native/addon.js';
import { ROW_SCHEMAS } from '../../src/rows/registry.js';
import { parseMountinfo } from '../../src/collectors/proc/cgroup-parse.js';
import type { Source } from '../../src/rows/envelope.js';
import { verifyEpisode } from '../../src/verify/verify-episode.js';
import { canMakeNetns } from '../helpers/guest-net.js';
import { has } from '../helpers/programs.js';
import { readJsonl, tmpDir } from '../helpers/tmp.js';

type Row = Record<string, unknown>;
const rows = (e: VmEpisode, collector: string, source?: string): Row[] =>
  readJsonl(path.join(e.dir, `telemetry-${collector}.jsonl`)).filter((r) => !source || r.source === source);

/** Processes whose program is one of `names` (by argv[0]). */
function running(names: string[]): string[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => {
      try {
        return fs.readFileSync(`/proc/${d}/cmdline`, 'latin1').split('\0')[0]!;
      } catch {
        return '';
      }
    })
    .filter((a) => names.includes(path.basename(a)));
}

const ready = canMakeNetns() && has('qemu-system-x86_64') && has('tcpdump') && has('apt-get');

describe.skipIf(!ready)('a real guest, end to end', () => {
  it('all six collectors record it, and labtel verify says ok for every one', { timeout: 240_000 }, async () => {
    const before = running(['qemu-system-x86_64', 'tcpdump', 'perf']).length;
    const e = await runVmEpisode({ outputDir: path.join(tmpDir(), 'ep'), seconds: 6 });
    expect(e.code).toBe(0); // every collector ok (labtel run exits 1 when one failed)

    // Every collector has rows with real values in its core metrics.
    const procRows = rows(e, 'proc', 'host_proc');
    expect(procRows.some((r) => !('tid' in r) && typeof r.cpu_user_jiffies === 'number' && typeof r.rss_bytes === 'number')).toBe(true);
    // The whole QEMU process's CPU clock, under the addon (the native sampler): a number that grew, never falling.
    const procCpu = procRows.filter((r) => !('tid' in r) && r.process_event !== 'exited').map((r) => r.cpu_time_ns);
    expect(procCpu.length).toBeGreaterThan(0);
    if (nativeAddon()) {
      expect(procCpu.every((x) => typeof x === 'number')).toBe(true);
      expect((procCpu[procCpu.length - 1] as number) > 0).toBe(true);
      expect((procCpu as number[]).every((x, i) => i === 0 || x >= (procCpu[i - 1] as number))).toBe(true);
    }
    expect(rows(e, 'perf').some((r) => typeof r.cpu_clock_ms === 'number' && (r.cpu_clock_ms as number) > 0)).toBe(true);
    expect(rows(e, 'pcap').some((r) => typeof r.pkts === 'number' && (r.pkts as number) > 0)).toBe(true);
    // The captured interface's own counters on every pcap interval row: numbers, on one ifindex, that grew with the pings.
    const pcapIntervals = rows(e, 'pcap').filter((r) => !('event' in r));
    expect(pcapIntervals.length).toBeGreaterThan(2);
    for (const r of pcapIntervals) expect([r.if_rx_packets, r.if_tx_packets, r.if_ifindex]).toEqual([expect.any(Number), expect.any(Number), expect.any(Number)]);
    expect(new Set(pcapIntervals.map((r) => r.if_ifindex)).size).toBe(1);
    // The bridge's queue capacity is known (sysfs is this namespace's), so verify's cross-check below is made, not skipped.
    const queueFrames = new Set(pcapIntervals.map((r) => r.if_tx_queue_frames));
    expect([...queueFrames]).toEqual([expect.any(Number)]);
    const ifPkts = (r: Row) => (r.if_rx_packets as number) + (r.if_tx_packets as number);
    expect(ifPkts(pcapIntervals.at(-1)!)).toBeGreaterThan(ifPkts(pcapIntervals[0]!));
    expect(rows(e, 'qmp', 'qmp').some((r) => r.status === 'running')).toBe(true);
    const lines = rows(e, 'guest_agent').filter((r) => r.kind === 'line');
    expect(lines.length).toBeGreaterThan(5);
    expect((lines[0]!.guest as Row).cpu).toMatchObject({ user: expect.any(Number), idle: expect.any(Number) });

    // The pid and the vCPU threads came through QMP: per-thread rows name the vCPU thread.
    const ep = JSON.parse(fs.readFileSync(path.join(e.dir, 'episode.json'), 'utf8'));
    expect(ep.target.pid).toBe(e.guest.pid);
    const vcpuTid = Number(Object.keys(ep.target.vcpu_threads)[0]);
    const vcpuRows = procRows.filter((r) => r.tid === vcpuTid);
    expect(vcpuRows.length).toBeGreaterThan(0);
    expect(vcpuRows.every((r) => r.vcpu === 0)).toBe(true);
    expect(procRows.some((r) => r.tid === vcpuTid && (r.cpu_user_jiffies as number) > 0)).toBe(true);
    // Each thread's role and its scheduler statistics: the vCPU thread is 'vcpu' and ran (CPU time, waits, periods),
    // QEMU's main thread (tid = pid) is 'main'.
    expect(vcpuRows.every((r) => r.role === 'vcpu')).toBe(true);
    expect(vcpuRows.some((r) => (r.cpu_time_ns as number) > 0 && typeof r.run_delay_ns === 'number' && (r.run_periods as number) > 0)).toBe(true);
    // The whole QEMU process's run delay and run periods (taskstats of the thread group, under the addon): numbers
    // that fall only across a null saying the one before was too high (the kernel counts an exiting thread twice for
    // a moment), at least the vCPU thread's at the same sample.
    if (nativeAddon()) {
      const all = procRows.filter((r) => !('tid' in r) && r.process_event !== 'exited');
      const procs = all.filter((r) => typeof r.run_periods === 'number');
      expect(procs.length).toBeGreaterThan(1);
      expect(procs.every((r) => typeof r.run_delay_ns === 'number')).toBe(true);
      const unexplained: string[] = [];
      let last: Row | null = null;
      let fell = false;
      for (const r of all) {
        if (typeof r.run_periods !== 'number') {
          fell ||= /gave less than the run delay or run periods last written/.test(((r.null_reasons ?? {}) as Record<string, string>).run_periods ?? '');
          continue;
        }
        if (last && (r.run_periods as number) < (last.run_periods as number) && !fell) unexplained.push(`seq ${String(r.seq)}`);
        last = r;
        fell = false;
      }
      expect(unexplained).toEqual([]);
      const procAt = new Map(procs.map((r) => [r.t_mono_ns, r]));
      const paired = vcpuRows.filter((r) => procAt.has(r.t_mono_ns) && typeof r.run_periods === 'number');
      expect(paired.length).toBeGreaterThan(0);
      expect(paired.every((r) => (procAt.get(r.t_mono_ns)!.run_periods as number) >= (r.run_periods as number))).toBe(true);
    }
    const mainRows = procRows.filter((r) => r.tid === e.guest.pid);
    expect(mainRows.length).toBeGreaterThan(0);
    expect(mainRows.every((r) => r.role === 'main')).toBe(true);
    // The VM's cgroup (v2): QEMU's host_cgroup rows, from the first, with its pressure totals and CPU usage measured.
    const cgroupRows = rows(e, 'proc', 'host_cgroup');
    expect(cgroupRows.length).toBeGreaterThan(0);
    expect(cgroupRows[0]!.cgroup_event).toBe('started');
    const live = cgroupRows.filter((r) => r.cgroup_event !== 'exited'); // (the guest powers off: QEMU's exit may end them)
    expect(live.length).toBeGreaterThan(0);
    expect(live.every((r) => r.pid === e.guest.pid && typeof r.cgroup_path === 'string')).toBe(true);
    expect(cgroupRows.some((r) => typeof r.cpu_pressure_some_total_us === 'number' && typeof r.cpu_usage_us === 'number')).toBe(true);
    // QEMU's own cgroup (the demo made it), not the root's host-wide totals; QEMU alone in it; removed after the demo.
    expect(live.every((r) => r.cgroup_root === false && /^\/labtel-demo-[0-9a-f]{8}$/.test(r.cgroup_path as string) && r.cgroup_other_processes === 0)).toBe(true);
    expect(live.some((r) => (r.cpu_usage_us as number) > 0)).toBe(true);
    const v2 = parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8')).v2!;
    expect(fs.existsSync(path.join(v2.mountPoint, live[0]!.cgroup_path as string))).toBe(false);

    // netflow sees the guest's packets in the right direction: its pings out, the replies in.
    const nf = rows(e, 'netflow');
    const sum = (k: string) => nf.reduce((s, r) => s + (r[k] as number), 0);
    expect(sum('pkts_out')).toBeGreaterThanOrEqual(20);
    expect(sum('pkts_in')).toBeGreaterThanOrEqual(20);
    expect(sum('pkts_icmp')).toBeGreaterThanOrEqual(40);

    // QMP saw the guest power itself off, on the episode clock.
    const shutdown = rows(e, 'qmp', 'qmp_event').find((r) => r.event === 'SHUTDOWN');
    expect(shutdown).toMatchObject({ data: { guest: true, reason: 'guest-shutdown' }, time_source: 'qemu' });
    // The block device saw the guest's writes.
    expect(rows(e, 'qmp', 'qmp').some((r) => Object.values(r.block as Record<string, Row>).some((d) => (d.wr_bytes as number) >= 4 << 20))).toBe(true);
    // Issue 20 part 4: the guest's 4 MiB of O_DIRECT writes (64 of 64 KiB) are in the write latency histogram labtel set at
    // connect (before the guest ran, so every write is counted); the balloon's guest statistics come from its virtio_balloon driver.
    const lastBlock = Object.values(rows(e, 'qmp', 'qmp').findLast((r) => r.block !== null)!.block as Record<string, Row>);
    expect(lastBlock.length).toBeGreaterThan(0);
    const wr = lastBlock.map((d) => d.wr_latency_histogram as { bins: number[] } | null).find((h) => h !== null)!;
    expect(wr.bins).toHaveLength(7);
    expect(wr.bins.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(64);
    const balloon = rows(e, 'qmp', 'qmp').filter((r) => r.balloon_guest !== null).map((r) => r.balloon_guest as Row);
    expect(balloon.length).toBeGreaterThan(0);
    expect(balloon.some((b) => (b.free_memory_bytes as number) > 0 && (b.total_memory_bytes as number) > 0 && (b.last_update_s as number) > 0)).toBe(true);
    const qmpRows = rows(e, 'qmp', 'qmp');
    expect(qmpRows.length).toBeGreaterThan(0);
    expect(qmpRows.every((r) => r.migration_events === true && r.migration === null)).toBe(true);

    // Every row valid; the verification layer's verdict: ok, for every collector.
    for (const c of ['proc', 'perf', 'pcap', 'netflow', 'qmp', 'guest_agent']) {
      const all = rows(e, c);
      expect(all.length, c).toBeGreaterThan(0);
      for (const r of all) expect(ROW_SCHEMAS[r.source as Source]!.safeParse(r).error).toBeUndefined();
    }
    const v = verifyEpisode(e.dir);
    expect(Object.fromEntries(Object.entries(v.collectors).map(([k, c]) => [k, [c.verdict, c.reasons]]))).toEqual({
      proc: ['ok', []], perf: ['ok', []], pcap: ['ok', []], netflow: ['ok', []], qmp: ['ok', []], guest_agent: ['ok', []],
    });
    expect(v.verdict).toBe('ok');

    // Nothing left behind.
    expect(running(['qemu-system-x86_64', 'tcpdump', 'perf']).length).toBe(before);
  });
});
