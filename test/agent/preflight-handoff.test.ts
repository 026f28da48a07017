// A collector's preflight runs once, on the agent's thread, whose findings go to the collector's
// worker (Availability.handoff -> ctx.preflight): the worker does not probe a second time.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { pcap } from '../../src/collectors/pcap/collector.js';
import { pcapConfig } from '../../src/collectors/pcap/config.js';
import { isPcapHandoff, pcapHandoff, type PcapPreflight } from '../../src/collectors/pcap/preflight.js';
import { which } from '../../src/util/which.js';
import { LABTEL_BIN } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import type { CollectorConfigs } from '../../src/manifest/schema.js';

describe('the preflight handoff', () => {
  // regression for: perf's worker ran the `perf stat ... true` preflight again after the agent's thread had (issue 19: start-up CPU).
  it('runs perf\'s preflight once per episode (the real perf, through a wrapper on PATH that logs its argv)', () => {
    const perf = which('perf');
    expect(perf, 'perf is installed (Debian: linux-perf)').not.toBeNull();
    const dir = tmpDir();
    const shim = path.join(dir, 'bin');
    const log = path.join(dir, 'perf-argv.log');
    fs.mkdirSync(shim);
    fs.writeFileSync(path.join(shim, 'perf'), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${JSON.stringify(log)}\nexec ${JSON.stringify(perf)} "$@"\n`, { mode: 0o755 });
    const busy = spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' });
    onTestFinished(() => {
      busy.kill('SIGKILL');
    });
    const manifest = path.join(dir, 'm.json');
    fs.writeFileSync(manifest, JSON.stringify({ output_dir: path.join(dir, 'ep'), duration_s: 2, target: { pid: busy.pid }, collectors: { perf: { interval_ms: 200 } } }));
    const r = spawnSync(process.execPath, [LABTEL_BIN, 'run', manifest], { encoding: 'utf8', env: { ...process.env, PATH: `${shim}:${process.env.PATH}` }, timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const calls = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
    const preflights = calls.filter((c) => / true$/.test(c));
    const runs = calls.filter((c) => / -I /.test(c));
    expect(runs.length, calls.join('\n')).toBeGreaterThan(0);
    expect(preflights, calls.join('\n')).toHaveLength(1);
    // What the worker reports is the agent's preflight, as it was when the worker ran its own.
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'ep', 'summary.json'), 'utf8'));
    expect(summary.collectors.perf.detail.preflight).toMatchObject({ perf: path.join(shim, 'perf'), error: null });
    expect(Object.values(summary.collectors.perf.detail.preflight.events)).toContain(null);
  });

  it("hands pcap's worker what its run needs only from a preflight that passed with a config", () => {
    const passed: PcapPreflight = { tcpdump: '/usr/bin/tcpdump', setpriv: '/usr/bin/setpriv', identity: { user: 'tcpdump', uid: 104, gid: 110, switchUser: true }, wrapper: ['/usr/bin/setpriv', '--reuid=104'], error: null };
    const h = pcapHandoff(passed);
    expect(h).toEqual({ tcpdump: '/usr/bin/tcpdump', setpriv: '/usr/bin/setpriv', wrapper: ['/usr/bin/setpriv', '--reuid=104'] });
    expect(isPcapHandoff(structuredClone(h))).toBe(true);
    // regression for: a failed or config-less preflight handed over, so the worker skipped the checks that refused it.
    expect(pcapHandoff({ ...passed, error: 'interface x does not exist on this host' })).toBeUndefined();
    expect(pcapHandoff({ ...passed, wrapper: null, identity: null })).toBeUndefined();
    for (const bad of [undefined, null, {}, { tcpdump: 'x', setpriv: 'y' }, { tcpdump: 'x', setpriv: 'y', wrapper: [1] }]) expect(isPcapHandoff(bad), JSON.stringify(bad)).toBe(false);
  });

  // regression for: pcap's real probe giving no handoff its run recognizes (a field of PcapPreflight renamed, the probe
  // returning before it), so the worker silently checked again: two more tcpdump starts per episode, the same rows.
  it("pcap's probe with a config gives a handoff its run takes (the real tcpdump, on lo)", async () => {
    const a = await pcap.probe((pcapConfig.parse({ iface: 'lo' }) as CollectorConfigs['pcap']));
    expect(a.available, a.reason).toBe(true);
    expect(isPcapHandoff(structuredClone(a.handoff)), JSON.stringify(a.handoff)).toBe(true);
  });
});
