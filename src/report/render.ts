// `labtel report`: one self-contained HTML file (uPlot and the data inline,
// nothing fetched) with time-aligned panels on the episode clock, the
// qmp_event rows as markers across every panel, the verify verdict per
// collector on top, zoom (drag; wheel) and pan (shift+wheel) shared by all
// panels, values on hover. Names that come from the guest or QEMU are data:
// the JSON is escaped for a script element and text is set as text.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { verifyEpisode } from '../verify/verify-episode.js';
import { buildPanels } from './panels.js';

const require = createRequire(import.meta.url);
const UPLOT_JS = require.resolve('uplot/dist/uPlot.iife.min.js');
const UPLOT_CSS = path.join(path.dirname(UPLOT_JS), 'uPlot.min.css');

const CLIENT = `
const { episode, verdict, panels, markers } = JSON.parse(document.getElementById('labtel-data').textContent);
const COLORS = ['#1f77b4', '#e6ab02', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f'];
document.title = 'labtel report: ' + episode;
document.getElementById('episode').textContent = episode;
const v = document.getElementById('verdict');
const badge = (text, cls) => { const s = document.createElement('span'); s.className = 'badge ' + cls; s.textContent = text; return s; };
v.append(badge('episode: ' + verdict.verdict, verdict.verdict));
for (const [name, c] of Object.entries(verdict.collectors)) {
  const b = badge(name + ': ' + c.verdict, c.verdict);
  b.title = c.reasons.join('\\n');
  v.append(b);
}
const plots = [];
let syncing = false;
const shareX = (u) => {
  if (syncing) return;
  syncing = true;
  for (const o of plots) if (o !== u) o.setScale('x', { min: u.scales.x.min, max: u.scales.x.max });
  syncing = false;
};
const markerPlugin = { hooks: { draw: [(u) => {
  const c = u.ctx, b = u.bbox;
  c.save();
  c.strokeStyle = '#c00'; c.fillStyle = '#c00'; c.lineWidth = Math.max(1, devicePixelRatio);
  c.font = (10 * devicePixelRatio) + 'px sans-serif';
  for (const m of markers) {
    const x = Math.round(u.valToPos(m.t, 'x', true));
    if (x < b.left || x > b.left + b.width) continue;
    c.beginPath(); c.moveTo(x, b.top); c.lineTo(x, b.top + b.height); c.stroke();
    c.fillText(m.label, x + 3 * devicePixelRatio, b.top + 12 * devicePixelRatio);
  }
  c.restore();
}] } };
const wheelPlugin = { hooks: { ready: [(u) => {
  u.over.addEventListener('wheel', (e) => {
    e.preventDefault();
    const { min, max } = u.scales.x, span = max - min;
    if (e.shiftKey) { const d = span * 0.1 * Math.sign(e.deltaY); u.setScale('x', { min: min + d, max: max + d }); return; }
    const at = u.posToVal(e.offsetX, 'x'), f = e.deltaY < 0 ? 0.8 : 1.25;
    u.setScale('x', { min: at - (at - min) * f, max: at + (max - at) * f });
  }, { passive: false });
}] } };
const main = document.getElementById('panels');
const width = () => Math.max(400, main.clientWidth - 20);
for (const p of panels) {
  const sec = document.createElement('section');
  const h = document.createElement('h2');
  h.textContent = p.title;
  sec.append(h);
  main.append(sec);
  const u = new uPlot({
    width: width(), height: 180,
    scales: { x: { time: false } },
    series: [{ label: 't (s)', value: (u, v) => v == null ? '' : v.toFixed(3) }, ...p.labels.map((l, i) => ({ label: l, stroke: COLORS[i % COLORS.length], width: 1, spanGaps: false }))],
    axes: [{ label: 'seconds on the episode clock' }, { label: p.unit, size: 70 }],
    cursor: { sync: { key: 'labtel' } },
    hooks: { setScale: [(u, key) => key === 'x' && shareX(u)] },
    plugins: [markerPlugin, wheelPlugin],
  }, p.data, sec);
  u.root.dataset.panel = p.id;
  plots.push(u);
}
window.addEventListener('resize', () => plots.forEach((u) => u.setSize({ width: width(), height: 180 })));
window.labtelReport = { plots, markers, panels: panels.map((p) => p.id) };
`;

const CSS = `
body { font: 14px system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 18px; margin: 0 0 8px; } h2 { font-size: 14px; margin: 16px 0 4px; }
.badge { display: inline-block; padding: 2px 8px; margin: 2px 4px 2px 0; border-radius: 10px; font-size: 12px; cursor: default; }
.ok { background: #d4edda; } .degraded { background: #fff3cd; } .failed { background: #f8d7da; }
.hint { color: #666; font-size: 12px; }
`;

export function renderReport(dir: string): { html: string; panels: number; markers: number } {
  const ep = JSON.parse(fs.readFileSync(path.join(dir, 'episode.json'), 'utf8')) as { episode?: string; clock?: { clk_tck?: number } };
  const verdict = verifyEpisode(dir);
  const { panels, markers } = buildPanels(dir, ep.clock?.clk_tck ?? 100);
  // Escaped for a <script> element: nothing in the data (guest keys, QEMU event names) can close it.
  const data = JSON.stringify({ episode: verdict.episode, verdict, panels, markers }).replace(/</g, '\\u003c');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>labtel report</title>
<style>${fs.readFileSync(UPLOT_CSS, 'utf8')}${CSS}</style>
</head><body>
<h1>labtel report: <span id="episode"></span></h1>
<div id="verdict"></div>
<p class="hint">Drag to zoom, wheel to zoom, shift+wheel to pan, double-click to reset; every panel follows. Red lines: QMP events.</p>
<main id="panels"></main>
<script type="application/json" id="labtel-data">${data}</script>
<script>${fs.readFileSync(UPLOT_JS, 'utf8')}</script>
<script>${CLIENT}</script>
</body></html>
`;
  return { html, panels: panels.length, markers: markers.length };
}
