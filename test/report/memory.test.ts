// labtel report stays within memory on an episode whose QEMU runs
// short-lived threads all along (I/O workers that come and go under new
// tids): 20 minutes of proc rows at 100 ms, the process, 4 vCPU threads and
// a new worker thread every second (1,200 thread labels). Run as a user
// runs it, in a node whose heap is held to 96 MB; and since a series keeps
// its points in typed arrays, whose memory is outside that heap, the whole
// process's peak resident memory is held to the same 96 MB over what the
// same command takes on a 10 s episode.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const HEAP_MB = 96;

/** Tells the process's peak resident memory (KiB) on stderr as it exits. */
const PEAK = `data:text/javascript,process.on('exit', () => process.stderr.write('\\npeak_rss_kib ' + process.resourceUsage().maxRSS + '\\n'))`;

/** `labtel report dir` in a node whose heap is held to HEAP_MB: its exit and its peak resident memory, MiB. */
function report(dir: string): { status: number | null; signal: NodeJS.Signals | null; stderr: string; peakMiB: number } {
  const out = path.join(dir, 'r.html');
  const r = spawnSync(process.execPath, [`--max-old-space-size=${HEAP_MB}`, '--import', PEAK, '--import', 'tsx', 'src/cli/main.ts', 'report', dir, '-o', out], { cwd: ROOT, encoding: 'utf8' });
  const peak = /peak_rss_kib (\d+)/.exec(r.stderr);
  return { status: r.status, signal: r.signal, stderr: r.stderr, peakMiB: peak ? Number(peak[1]) / 1024 : NaN };
}

function churnEpisode(dir: string, seconds: number): number {
  fs.writeFileSync(
    path.join(dir, 'episode.json'),
    JSON.stringify({ episode: 'churn', clock: { clk_tck: 100 }, host: { cpu: { cores: 4 } }, manifest: { output_dir: dir, target: { pid: 4242 }, collectors: { proc: { enabled: true, optional: false, interval_ms: 100, threads: true } } } }),
  );
  const fd = fs.openSync(path.join(dir, 'telemetry-proc.jsonl'), 'w');
  let seq = 0;
  let buf = '';
  const row = (t: number, r: Record<string, unknown>) => (buf += JSON.stringify({ source: 'host_proc', t_mono_ns: t, seq: seq++, available_in_deployment: true, ...r }) + '\n');
  for (let i = 0; i < seconds * 10; i++) {
    const t = i * 1e8;
    row(t, { pid: 4242, starttime: 5000, process_event: null, interval_s: 0.1, cpu_user_jiffies: 10 * i, cpu_sys_jiffies: 0, num_threads: 6, rss_bytes: 1e8 });
    for (let k = 0; k < 4; k++) row(t, { pid: 4242, tid: 4243 + k, comm: `CPU ${k}/KVM`, vcpu: k, starttime: 5001 + k, interval_s: 0.1, cpu_user_jiffies: 2 * i, cpu_sys_jiffies: 0 });
    const w = Math.floor(i / 10); // a new worker every second
    row(t, { pid: 4242, tid: 10_000 + w, comm: 'worker', vcpu: null, starttime: 6000 + w, interval_s: 0.1, cpu_user_jiffies: i % 10, cpu_sys_jiffies: 0 });
    if (buf.length > 1 << 20) (fs.writeSync(fd, buf), (buf = ''));
  }
  fs.writeSync(fd, buf);
  fs.closeSync(fd);
  return seq;
}

describe('labtel report memory', () => {
  it(`an episode with 1,200 short-lived threads is reported within a ${HEAP_MB} MB heap, its resident memory growing at most as much over a 10 s episode's`, { timeout: 300_000 }, () => {
    // Regression for: every label kept a value for every point (threads × samples: 1.7 GB for an hour of this), so the report ran out of memory.
    const dir = path.join(tmpDir(), 'ep');
    fs.mkdirSync(dir);
    expect(churnEpisode(dir, 1200)).toBe(72_000);
    const r = report(dir);
    expect({ status: r.status, signal: r.signal, stderr: r.stderr.slice(-600) }).toMatchObject({ status: 0, signal: null });
    const html = fs.readFileSync(path.join(dir, 'r.html'), 'utf8');
    expect(html).toContain('1196 more threads not drawn (the 8 with the most CPU are)');
    expect(r.stderr).toContain('2 panels');
    // regression for: the series' typed arrays live outside the heap --max-old-space-size holds, so labels × points
    // kept there (~190 MB here) passed the heap bound above; the process's own growth is held to it too.
    const small = path.join(tmpDir(), 'ep');
    fs.mkdirSync(small);
    expect(churnEpisode(small, 10)).toBe(600);
    const base = report(small);
    expect({ status: base.status, signal: base.signal }).toEqual({ status: 0, signal: null });
    expect(Number.isFinite(base.peakMiB) && Number.isFinite(r.peakMiB), `peak resident memory told: ${r.peakMiB}, ${base.peakMiB}`).toBe(true);
    expect(r.peakMiB - base.peakMiB, `peak resident memory ${r.peakMiB.toFixed(0)} MiB, ${base.peakMiB.toFixed(0)} MiB for a 10 s episode`).toBeLessThanOrEqual(HEAP_MB);
  });
});
