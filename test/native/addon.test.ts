import { execFileSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { E_TASKSTATS, PROC_FIELDS, TASKSTATS_FELL, TASKSTATS_TWICE } from '../../src/collectors/proc/fields.js';
import { BUILT_ADDON_PATH, nativeAddon, nativeStatus } from '../../src/native/addon.js';
import { LABTEL_BIN } from '../helpers/cli.js';

describe('native addon', () => {
  it('is built by npm install and loaded', () => {
    // CI builds it; a silent fall back to the TS path would hide a broken build.
    expect(nativeStatus()).toMatchObject({ available: true, path: BUILT_ADDON_PATH });
  });

  it('lays out samples exactly as the TS side reads them', () => {
    expect(nativeAddon()!.procFieldNames()).toEqual([...PROC_FIELDS]);
  });

  it('loads and samples inside worker threads, several at once, with no shared native state', async () => {
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const addon = require(workerData.path);
      const s = new addon.ProcSampler('/proc', process.pid, addon.sysconf().pageSize);
      const open = s.open();
      const v = new Float64Array(addon.procFieldNames().length), e = new Int32Array(6);
      let ok = 0;
      for (let i = 0; i < 200; i++) { s.sample(v, e); if (e[0] === 0 && v[0] >= 0) ok++; }
      s.close();
      parentPort.postMessage({ open, ok, errors: Array.from(e) });
    `;
    const run = () =>
      new Promise<{ open: number; ok: number; errors: number[] }>((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: { path: BUILT_ADDON_PATH } });
        w.once('message', resolve);
        w.once('error', reject);
      });
    const results = await Promise.all([run(), run(), run()]);
    expect(results).toHaveLength(3);
    // Each file and the CPU clock read; taskstats too, unless it answered while one of these workers' threads was
    // exiting (the kernel counts such a thread twice for a moment, and the sampler says so rather than write it).
    for (const r of results) {
      expect({ ...r, errors: r.errors.slice(0, E_TASKSTATS) }).toEqual({ open: 0, ok: 200, errors: [0, 0, 0, 0, 0] });
      expect([0, TASKSTATS_TWICE, TASKSTATS_FELL]).toContain(r.errors[E_TASKSTATS]);
    }
    // And the main thread's instance still works after the workers' environments were torn down.
    const s = new (nativeAddon()!.ProcSampler)('/proc', process.pid, 4096);
    expect(s.open()).toBe(0);
    s.close();
  });

  it('rejects wrong arguments with a TypeError that says what it expected', () => {
    const a = nativeAddon()!;
    expect(() => new a.ProcSampler(1 as unknown as string, 1, 4096)).toThrow('Expected (procRoot: string, pid: number, pageSize: number)');
    const s = new a.ProcSampler('/proc', process.pid, 4096);
    s.open();
    expect(() => s.sample(new Float64Array(3), new Int32Array(6))).toThrow('Expected values to be a Float64Array of at least procFieldNames().length');
    s.close();
  });
});

describe('loader and doctor', () => {
  const doctor = (env: NodeJS.ProcessEnv) =>
    JSON.parse(execFileSync(process.execPath, [LABTEL_BIN, 'doctor', '--json'], { env: { ...process.env, ...env }, encoding: 'utf8' })) as {
      native: { available: boolean; reason: string };
      collectors: Record<string, { available: boolean; reason: string }>;
    };

  it('doctor --json reports the addon and every collector', () => {
    const r = doctor({});
    expect(r.native.available).toBe(true);
    expect(Object.keys(r.collectors)).toEqual(['proc', 'perf', 'pcap', 'netflow', 'qmp', 'guest_agent']);
    expect(r.collectors.proc).toEqual({ available: true, reason: 'native sampler' });
    expect(r.collectors.qmp).toEqual({ available: true, reason: 'needs a QMP socket (collectors.qmp.socket) or a libvirt domain (collectors.qmp.libvirt, target.libvirt_domain)' });
    expect(r.collectors.guest_agent).toEqual({ available: true, reason: "needs the guest channel (collectors.guest_agent.socket), or a libvirt domain with the guest agent's channel (protocol qga)" });
    expect((r as { pure_ts_path?: unknown }).pure_ts_path).toBeNull();
  });

  it('tries LABTEL_NATIVE_PATH first and names every failed attempt', () => {
    const r = doctor({ LABTEL_NATIVE_PATH: '/nonexistent/labtel.node' });
    expect(r.native.available).toBe(true); // fell through to the built addon
    expect(r.native.reason).toMatch(/^loaded the addon built by npm install \(.*\); before it, LABTEL_NATIVE_PATH \(\/nonexistent\/labtel.node\): Cannot find module/);
  });

  it('falls back to the pure-TS path and says so', () => {
    const r = doctor({ LABTEL_NATIVE: '0' });
    expect(r.native).toEqual({ available: false, reason: 'disabled by LABTEL_NATIVE=0; using the pure-TypeScript path', path: null });
    expect(r.collectors.proc).toEqual({ available: true, reason: 'pure-TS sampler (the addon is not loaded)' });
    // Regression for: doctor said nothing of what the fallback reads (pcapng and --skip-bad once needed the addon).
    expect((r as { pure_ts_path?: unknown }).pure_ts_path).toMatch(/pcapng.*--skip-bad/);
  });
});
