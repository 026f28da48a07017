// Benchmark (not a test): `labtel report` on a generated one-hour episode
// (proc at 100 ms: the process and 8 threads; perf at 200 ms; netflow 100 ms
// buckets; qmp and guest at 1 s; a QMP STOP or RESUME event every 180 s; no
// pcap rows): the HTML's size, the time to build it and, in the same run, the
// time of the verify pass alone, then in Debian's chromium (headless) the
// time from navigation to every panel drawn and a shared zoom across panels.
// stdout: the markdown section of BENCHMARKS.md; stderr: progress and JSON.
//
//   npm run bench:report
//   BENCH_EPISODE_S (3600); BENCH_QUICK=1: 360
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { MAX_POINTS } from '../../src/report/panels.js';
import { renderReport } from '../../src/report/render.js';
import { which } from '../../src/util/which.js';
import { verifyEpisode } from '../../src/verify/verify-episode.js';
import { commandLine, fmt, int, intEnv, log, machine, mdTable, median, printSection } from './section.js';

const HOUR_S = intEnv('BENCH_EPISODE_S', 3600, 360);
const mach = machine();
const written: Record<string, number> = {};
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-bench-report-'));
const w = (name: string, rows: Iterable<object>) => {
  const fd = fs.openSync(path.join(dir, `telemetry-${name}.jsonl`), 'w');
  let buf = '';
  for (const r of rows) {
    const src = (r as { source: string }).source;
    written[src] = (written[src] ?? 0) + 1;
    buf += JSON.stringify(r) + '\n';
    if (buf.length > 1 << 20) (fs.writeSync(fd, buf), (buf = ''));
  }
  fs.writeSync(fd, buf);
  fs.closeSync(fd);
};
const seqs = new Map<string, number>();
const env = (source: string, t: number) => {
  const seq = seqs.get(source) ?? 0;
  seqs.set(source, seq + 1);
  return { source, t_mono_ns: Math.round(t * 1e9), seq, available_in_deployment: true };
};
const wave = (t: number, p: number) => 0.5 + 0.5 * Math.sin((2 * Math.PI * t) / p);

fs.writeFileSync(path.join(dir, 'episode.json'), JSON.stringify({ episode: 'one-hour', clock: { clk_tck: 100 }, manifest: { collectors: {
  proc: { interval_ms: 100 }, perf: { interval_ms: 200 }, netflow: { bucket_ms: 100 }, pcap: { interval_ms: 1000 }, qmp: { interval_ms: 1000 }, guest_agent: { interval_ms: 1000 } } } }));
w('proc', (function* () {
  for (let i = 0; i < HOUR_S * 10; i++) {
    const t = i / 10;
    yield { ...env('host_proc', t), pid: 1, cpu_user_jiffies: Math.round(t * 40 * (1 + wave(t, 300))), cpu_sys_jiffies: Math.round(t * 10), rss_bytes: 5e8 + 1e8 * wave(t, 900) };
    for (let k = 0; k < 8; k++) yield { ...env('host_proc', t), pid: 1, tid: 100 + k, comm: k < 4 ? `CPU ${k}/KVM` : 'qemu-system-x86', vcpu: k < 4 ? k : null, cpu_user_jiffies: Math.round(t * 5 * (k + 1) * (1 + wave(t, 120 + k))), cpu_sys_jiffies: Math.round(t * 2) };
  }
})());
w('perf', (function* () {
  for (let i = 0; i < HOUR_S * 5; i++) yield { ...env('host_perf', i / 5), cpu_clock_ms: 150 * wave(i / 5, 200), page_faults: Math.round(1000 * wave(i / 5, 50)), context_switches: 300, cycles: 5e8, instructions: 7e8 * (0.5 + wave(i / 5, 100)) };
})());
w('netflow', (function* () {
  for (let i = 0; i < HOUR_S * 10; i++) yield { ...env('netflow', i / 10), pkts_in: Math.round(500 * wave(i / 10, 60)), pkts_out: Math.round(400 * wave(i / 10, 45)), bytes_in: 60000, bytes_out: 50000, tcp_syn: i % 1000 < 50 ? 300 : 2, tcp_rst: 1 };
})());
w('qmp', (function* () {
  for (let i = 0; i < HOUR_S; i++) {
    yield { ...env('qmp', i), status: 'running', block: { disk0: { rd_bytes: i * 4096 * 10, wr_bytes: i * 8192 * (1 + wave(i, 600)) } } };
    if (i % 180 === 90) yield { ...env('qmp_event', i + 0.5), event: i % 360 === 90 ? 'STOP' : 'RESUME', data: null };
  }
})());
w('guest_agent', (function* () {
  for (let i = 0; i < HOUR_S; i++) yield { ...env('guest', i), kind: 'line', guest: { seq: i, uptime: i, cpu: { user: i * 50, idle: i * 40 }, mem: { free_kb: 100000 * wave(i, 700) } }, guest_t: i };
})());

const t0 = performance.now();
const r = renderReport(dir);
const buildMs = performance.now() - t0;
const v0 = performance.now();
verifyEpisode(dir);
const verifyMs = performance.now() - v0;
const file = path.join(dir, 'report.html');
fs.writeFileSync(file, r.html);
log(`report: ${r.html.length} bytes, ${r.panels} panels, ${r.markers} markers, built in ${buildMs.toFixed(0)} ms (verify alone ${verifyMs.toFixed(0)} ms)`);
const exe = which('chromium');
let browserLine: string;
let loads: number[] = [];
let zoom: number | null = null;
if (!exe) browserLine = 'chromium is not installed: not measured';
else {
  const browser = await chromium.launch({ executablePath: exe, args: ['--no-sandbox'] });
  try {
    browserLine = `Chromium ${browser.version()} headless through playwright-core, viewport 1400 × 1000`;
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    for (let i = 0; i < 3; i++) {
      const l0 = performance.now();
      await page.goto(`file://${file}`);
      await page.waitForFunction(() => (globalThis as unknown as { labtelReport?: { plots: unknown[] } }).labtelReport?.plots.length);
      loads.push(performance.now() - l0);
    }
    // Each zoom: every panel follows; timed to the next painted frame. (A string: tsx would wrap a function's names.)
    zoom = (await page.evaluate(`(async () => {
      const plots = globalThis.labtelReport.plots;
      await new Promise((r) => requestAnimationFrame(r));
      const z0 = performance.now();
      for (let i = 0; i < 20; i++) {
        plots[0].setScale('x', { min: 600 + i * 60, max: 1200 + i * 60 });
        await new Promise((r) => requestAnimationFrame(r));
      }
      return (performance.now() - z0) / 20;
    })()`)) as number;
    log(`chromium: loads ${loads.map((x) => x.toFixed(0)).join(', ')} ms; zoom ${zoom.toFixed(1)} ms`);
  } finally {
    await browser.close();
  }
}
fs.rmSync(dir, { recursive: true, force: true });

const total = Object.values(written).reduce((a, b) => a + b, 0);
printSection(
  {
    title: `\`labtel report\` on a ${HOUR_S === 3600 ? 'one-hour' : `${HOUR_S} s`} episode`,
    command: commandLine('bench:report', ['BENCH_EPISODE_S']),
    machine: mach,
    body: [
      `A generated episode of ${int(HOUR_S)} s, written by this script: ` +
        Object.entries(written).map(([src, n]) => `${src} ${int(n)} rows`).join(', ') +
        ` (${int(total)} in all). proc at 100 ms writes the process and 8 threads (4 named vCPU threads) per sample; perf at 200 ms; netflow 100 ms buckets; qmp and guest at 1 s; a QMP STOP or RESUME event every 180 s (the markers); no pcap rows. ${browserLine}.`,
      mdTable(
        ['measure', 'value'],
        [
          ['HTML file (uPlot and the data inline, nothing fetched)', `**${fmt(r.html.length / 1e6, 2)} MB**, ${r.panels} panels, ${r.markers} markers; series above ${int(MAX_POINTS)} points are binned (each bin's largest value kept, so spikes stay)`],
          [`building it (\`renderReport\`: reading the ${int(total)} rows, running verify for the verdicts, building the HTML string)`, `${fmt(buildMs / 1000, 2)} s`],
          ['verify alone (`verifyEpisode` on the same directory, run again after the build and timed by itself)', `${fmt(verifyMs / 1000, 2)} s`],
          ['chromium: navigation to every panel drawn, median of 3', loads.length ? `**${fmt(median(loads) / 1000, 2)} s** (${loads.map((x) => fmt(x / 1000, 2)).join(', ')})` : 'not measured'],
          [`a zoom of the first panel, every panel following, to the next painted frame, mean of 20`, zoom === null ? 'not measured' : `**${fmt(zoom, 1)} ms**`],
        ],
      ),
    ],
  },
  { bench: 'report', machine: mach, seconds: HOUR_S, rows: written, html_bytes: r.html.length, panels: r.panels, markers: r.markers, build_ms: buildMs, verify_ms: verifyMs, loads_ms: loads, zoom_ms: zoom },
);
