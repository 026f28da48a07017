// Every collector against a real booted guest that libvirt runs: the test
// guest as a transient TCG domain under a real libvirtd, its tap on a bridge
// joined to a test namespace (10.x addresses that exist only there), recorded
// by `labtel run` from a manifest that names only the domain. QMP and the
// domain's facts come through libvirt; the telemetry channel's socket, the tap
// and the pid are resolved from it. Gated by hasLibvirtd(), which throws
// under CI (.ci/run starts a libvirtd).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { startLibvirtGuest } from '../../src/lab/libvirt-guest.js';
import { buildGuest } from '../../src/lab/vm-guest.js';
import { ROW_SCHEMAS } from '../../src/rows/registry.js';
import type { Source } from '../../src/rows/envelope.js';
import { verifyEpisode } from '../../src/verify/verify-episode.js';
import { LABTEL_BIN, ROOT } from '../helpers/cli.js';
import { canMakeNetns } from '../helpers/guest-net.js';
import { hasLibvirtd } from '../helpers/libvirt.js';
import { has } from '../helpers/programs.js';
import { readJsonl, tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

type Row = Record<string, unknown>;

/** Processes whose program is one of `names` (by argv[0]), and the virsh ones that name `domain`. */
function running(names: string[], domain?: string): string[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => {
      try {
        return fs.readFileSync(`/proc/${d}/cmdline`, 'latin1').split('\0');
      } catch {
        return [];
      }
    })
    .filter((argv) => argv.length > 0 && (names.includes(path.basename(argv[0]!)) || (domain !== undefined && argv.some((a) => a.endsWith('virsh')) && argv.includes(domain))))
    .map((argv) => argv.join(' '));
}

const ready = hasLibvirtd() && canMakeNetns() && has('qemu-system-x86_64') && has('tcpdump') && has('perf');

describe.runIf(ready)('a libvirt domain, end to end', () => {
  let kernel = '';
  let initrd = '';
  beforeAll(() => ({ kernel, initrd } = buildGuest(ROOT)), 600_000);

  it('a manifest naming only the domain records all six collectors, and labtel verify says ok for every one', { timeout: 240_000 }, async () => {
    const before = running(['tcpdump', 'perf']).length;
    const g = await startLibvirtGuest({ kernel, initrd, seconds: 30 });
    try {
      const dir = path.join(tmpDir(), 'ep');
      const manifestFile = path.join(tmpDir(), 'manifest.json');
      fs.writeFileSync(
        manifestFile,
        JSON.stringify({
          output_dir: dir,
          duration_s: 10,
          target: { libvirt_domain: g.name, libvirt_uri: g.uri },
          collectors: { proc: { interval_ms: 200, threads: true }, perf: { interval_ms: 500 }, pcap: { interval_ms: 500 }, netflow: {}, qmp: { interval_ms: 500 }, guest_agent: { interval_ms: 500 } },
        }),
      );
      const check = spawnSync(process.execPath, [LABTEL_BIN, 'check', manifestFile], { encoding: 'utf8' });
      expect(check.status, check.stdout + check.stderr).toBe(0);
      expect(check.stdout).toContain(g.name);
      expect(check.stdout).toContain(g.tap);

      const run = spawn(process.execPath, [LABTEL_BIN, 'run', manifestFile], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      run.stdout.on('data', (d) => (out += d));
      run.stderr.on('data', (d) => (out += d));
      const code = new Promise<number | null>((resolve) => run.once('exit', (c) => resolve(c)));
      // The guest runs once labtel watches it: its boot, pings and writes are all in the episode.
      await waitFor(() => fs.existsSync(path.join(dir, 'telemetry-proc.jsonl')) && fs.statSync(path.join(dir, 'telemetry-proc.jsonl')).size > 0, 'the first proc rows');
      await g.resume();
      expect(await code, out).toBe(0);

      const rows = (collector: string, source?: string): Row[] => readJsonl(path.join(dir, `telemetry-${collector}.jsonl`)).filter((r) => !source || r.source === source);
      const ep = JSON.parse(fs.readFileSync(path.join(dir, 'episode.json'), 'utf8'));
      expect(ep.target.pid).toBe(g.pid);
      expect(ep.target.libvirt).toMatchObject({ domain: g.name, uri: g.uri });
      // The manifest named no socket and no interface: they came from the domain.
      expect(ep.manifest.collectors.pcap.iface).toBe(g.tap);
      expect(ep.manifest.collectors.guest_agent.socket).toBe(g.telemetry);
      expect(ep.manifest.collectors.qmp.libvirt).toEqual({ domain: g.name, uri: g.uri, uuid: ep.target.libvirt.uuid });

      const procRows = rows('proc', 'host_proc');
      const vcpuTid = Number(Object.keys(ep.target.vcpu_threads)[0]);
      expect(procRows.some((r) => r.tid === vcpuTid && r.role === 'vcpu' && r.vcpu === 0 && (r.cpu_user_jiffies as number) > 0)).toBe(true);
      expect(rows('perf').some((r) => typeof r.cpu_clock_ms === 'number' && (r.cpu_clock_ms as number) > 0)).toBe(true);
      expect(rows('pcap').some((r) => typeof r.pkts === 'number' && (r.pkts as number) > 0)).toBe(true);
      // netflow's direction from the tap's MAC in the domain XML: the guest's pings out, the replies in.
      expect(ep.manifest.collectors.netflow.guest_mac).toMatch(/^52:54:00:/);
      const nf = rows('netflow');
      const sum = (k: string) => nf.reduce((s, r) => s + (r[k] as number), 0);
      expect(sum('pkts_icmp')).toBeGreaterThanOrEqual(40);
      expect(sum('pkts_out')).toBeGreaterThanOrEqual(20);
      expect(sum('pkts_in')).toBeGreaterThanOrEqual(20);
      // QMP through libvirt: the guest running, its vCPUs, its writes, the balloon at libvirt's period, events at QEMU's time.
      const qmp = rows('qmp', 'qmp');
      expect(qmp.some((r) => r.status === 'running')).toBe(true);
      expect(qmp.some((r) => Object.values(r.block as Record<string, Row>).some((d) => (d.wr_bytes as number) >= 4 << 20))).toBe(true);
      expect(qmp.some((r) => r.balloon_guest !== null && ((r.balloon_guest as Row).free_memory_bytes as number) > 0)).toBe(true);
      expect(rows('qmp', 'qmp_event').find((r) => r.event === 'RESUME')).toMatchObject({ time_source: 'qemu' });
      const lines = rows('guest_agent').filter((r) => r.kind === 'line');
      expect(lines.length).toBeGreaterThan(5);

      for (const c of ['proc', 'perf', 'pcap', 'netflow', 'qmp', 'guest_agent']) {
        const all = rows(c);
        expect(all.length, c).toBeGreaterThan(0);
        for (const r of all) expect(ROW_SCHEMAS[r.source as Source]!.safeParse(r).error).toBeUndefined();
      }
      const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
      expect(Object.fromEntries(Object.entries(summary.collectors as Record<string, { status: string }>).map(([k, s]) => [k, s.status]))).toEqual({
        proc: 'ok', perf: 'ok', pcap: 'ok', netflow: 'ok', qmp: 'ok', guest_agent: 'ok',
      });
      const v = verifyEpisode(dir);
      expect(Object.fromEntries(Object.entries(v.collectors).map(([k, c]) => [k, [c.verdict, c.reasons]]))).toEqual({
        proc: ['ok', []], perf: ['ok', []], pcap: ['ok', []], netflow: ['ok', []], qmp: ['ok', []], guest_agent: ['ok', []],
      });
      expect(v.verdict).toBe('ok');
      // labtel's own children are gone with it: no tcpdump, perf or virsh of the episode.
      expect(running(['tcpdump', 'perf'], g.name).length).toBe(before);
    } finally {
      await g.destroy();
    }
    // The domain destroyed: no QEMU of it, no domain of that name.
    expect(fs.existsSync(`/proc/${g.pid}`)).toBe(false);
    expect(spawnSync('virsh', ['-q', '-c', g.uri, 'list', '--all', '--name'], { encoding: 'utf8' }).stdout.split('\n')).not.toContain(g.name);
  });
});
