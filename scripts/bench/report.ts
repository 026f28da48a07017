// Benchmark (not a test): `labtel report` on a generated one-hour episode
// with every collector (scripts/bench/gen-episode.ts: rows with every field of
// their schemas, which labtel verify judges ok): the HTML's size, the time to
// build it and, in the same run, the time of the verify pass alone, then in
// Debian's chromium (headless) the time from navigation to every panel drawn
// and a shared zoom across panels.
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
import { generateEpisode } from './gen-episode.js';
import { commandLine, fmt, int, intEnv, log, machine, mdTable, median, printSection } from './section.js';

const HOUR_S = intEnv('BENCH_EPISODE_S', 3600, 360);
const mach = machine();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-bench-report-'));
const written = generateEpisode(dir, HOUR_S);
const pageErrors: string[] = [];

const t0 = performance.now();
const r = renderReport(dir);
const buildMs = performance.now() - t0;
const v0 = performance.now();
const verdict = verifyEpisode(dir);
const verifyMs = performance.now() - v0;
log(`verify: ${JSON.stringify(verdict).slice(0, 2000)}`);
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
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
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
      `A generated episode of ${int(HOUR_S)} s (\`scripts/bench/gen-episode.ts\`: every field of each row schema, episode.json and summary.json): ` +
        Object.entries(written).map(([src, n]) => `${src} ${int(n)} rows`).join(', ') +
        ` (${int(total)} in all). proc at 100 ms writes the process and 8 threads (4 named vCPU threads) per sample; perf at 200 ms; netflow 100 ms buckets inside one capture run; pcap interval rows, qmp polls, guest lines and guest channel rows at 1 s; a QMP STOP at 90.5 s and a RESUME 180 s later, every 360 s (the markers). ` +
        `\`labtel verify\` on it: ${verdict.verdict} (` + Object.entries(verdict.collectors).map(([c, v]) => `${c} ${v.verdict}`).join(', ') + `). ${browserLine}; errors on the page: ${pageErrors.length === 0 ? 'none' : pageErrors.slice(0, 3).join('; ')}.`,
      mdTable(
        ['measure', 'value'],
        [
          ['HTML file (uPlot and the data inline, nothing fetched)', `**${fmt(r.html.length / 1e6, 2)} MB**, ${r.panels} panels, ${r.markers} markers; series above ${int(MAX_POINTS)} points are binned to about that many (each bin's largest value kept, so spikes stay, and gaps kept)`],
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
