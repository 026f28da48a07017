// Frozen copy of src/report/client.ts as of da5b2d9 (before the one-pass report): the old path, kept only for
// test/report/one-pass.test.ts, which holds the new report to its bytes. Do not edit.
// The report page's script: draws the panels with uPlot from the data the
// page carries, every QMP event as a red line on every panel, each source's
// breaks (purple, dashed) and dropped values (orange, dotted) on its own
// panels, zoom and pan shared by all panels. null values are gaps
// (spanGaps false): nothing is drawn across what was not measured.
// window.labtelReport exposes the plots for tests and benchmarks.
export const CLIENT = `
const { episode, verdict, panels, markers } = JSON.parse(document.getElementById('labtel-data').textContent);
const COLORS = ['#1f77b4', '#e6ab02', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f'];
const STYLE = { event: { color: '#cc0000', dash: [], row: 0 }, break: { color: '#7b2fbf', dash: [6, 3], row: 1 }, dropped: { color: '#e08000', dash: [2, 3], row: 2 } };
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
// Labels go on the first text row (from the kind's own) where they do not run into the one before.
const LABEL_ROWS = 5;
const markerPlugin = (mine) => ({ hooks: { draw: [(u) => {
  const c = u.ctx, b = u.bbox, px = devicePixelRatio;
  c.save();
  c.lineWidth = Math.max(1, px);
  c.font = (10 * px) + 'px sans-serif';
  c.textAlign = 'left';
  c.textBaseline = 'alphabetic';
  const rightEdge = new Array(LABEL_ROWS).fill(-Infinity);
  const inView = mine.map((m) => ({ m, x: Math.round(u.valToPos(m.t, 'x', true)) })).filter(({ x }) => x >= b.left && x <= b.left + b.width).sort((p, q) => p.x - q.x);
  for (const { m, x } of inView) {
    const s = STYLE[m.kind] || STYLE.event;
    c.strokeStyle = s.color; c.fillStyle = s.color; c.setLineDash(s.dash.map((d) => d * px));
    c.beginPath(); c.moveTo(x, b.top); c.lineTo(x, b.top + b.height); c.stroke();
    for (let k = 0; k < LABEL_ROWS; k++) {
      const row = (s.row + k) % LABEL_ROWS;
      if (x + 3 * px <= rightEdge[row]) continue;
      c.fillText(m.label, x + 3 * px, b.top + (12 + 12 * row) * px);
      rightEdge[row] = x + 3 * px + c.measureText(m.label).width + 4 * px;
      break;
    }
  }
  c.restore();
}] } });
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
  for (const n of p.notes) {
    const note = document.createElement('p');
    note.className = 'note';
    note.textContent = n;
    sec.append(note);
  }
  main.append(sec);
  const mine = markers.filter((m) => m.panels === null || m.panels.includes(p.id));
  const u = new uPlot({
    width: width(), height: 180,
    scales: { x: { time: false } },
    series: [{ label: 't (s)', value: (u, v) => v == null ? '' : v.toFixed(3) }, ...p.labels.map((l, i) => ({ label: l, stroke: COLORS[i % COLORS.length], width: 1, spanGaps: false }))],
    axes: [{ label: 'seconds on the episode clock' }, { label: p.unit, size: 70 }],
    cursor: { sync: { key: 'labtel' } },
    hooks: { setScale: [(u, key) => key === 'x' && shareX(u)] },
    plugins: [markerPlugin(mine), wheelPlugin],
  }, p.data, sec);
  u.root.dataset.panel = p.id;
  plots.push(u);
}
window.addEventListener('resize', () => plots.forEach((u) => u.setSize({ width: width(), height: 180 })));
window.labtelReport = { plots, markers, panels: panels.map((p) => p.id), notes: Object.fromEntries(panels.map((p) => [p.id, p.notes])) };
`;
