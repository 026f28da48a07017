// `labtel report`: one self-contained HTML file (uPlot and the data inline,
// nothing fetched) with time-aligned panels on the episode clock, the
// qmp_event rows as markers across every panel, each source's breaks
// (restarts, reconnects, missing answers) and dropped values on its own
// panels, the verify verdict per collector on top, zoom (drag; wheel) and
// pan (shift+wheel) shared by all panels, values on hover. Names that come
// from the guest or QEMU are data: the JSON is escaped for a script element
// and text is set as text.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { readEpisodeJson } from '../episode/episode-json.js';
import { verifyEpisode } from '../verify/verify-episode.js';
import { CLIENT } from './client.js';
import { episodeMeta, episodeTimes } from './episode-rows.js';
import { PANEL_FILES, panelBuilder } from './panels.js';

const require = createRequire(import.meta.url);
const UPLOT_JS = require.resolve('uplot/dist/uPlot.iife.min.js');
const UPLOT_CSS = path.join(path.dirname(UPLOT_JS), 'uPlot.min.css');

const CSS = `
body { font: 14px system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 18px; margin: 0 0 8px; } h2 { font-size: 14px; margin: 16px 0 4px; }
.badge { display: inline-block; padding: 2px 8px; margin: 2px 4px 2px 0; border-radius: 10px; font-size: 12px; cursor: default; }
.ok { background: #d4edda; } .degraded { background: #fff3cd; } .failed { background: #f8d7da; }
.hint { color: #666; font-size: 12px; }
.note { color: #555; font-size: 12px; margin: 0 0 2px; }
`;

/** markers: QMP events; breaks: markers of breaks in a series and of values dropped as impossible. */
export function renderReport(dir: string): { html: string; panels: number; markers: number; breaks: number } {
  const ep = readEpisodeJson(dir);
  // One pass over the files: verify's verdict, and each row it parsed pushed to the panels (never parsed twice).
  const builder = panelBuilder(episodeMeta(ep));
  const verdict = verifyEpisode(dir, { onRow: (file, row) => builder.push(file, row), rowsOf: PANEL_FILES });
  const { panels, markers, events } = builder.finish(episodeTimes(dir));
  // Escaped for a <script> element: nothing in the data (guest keys, QEMU event names) can close it.
  const data = JSON.stringify({ episode: verdict.episode, verdict, panels, markers }).replace(/</g, '\\u003c');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>labtel report</title>
<style>${fs.readFileSync(UPLOT_CSS, 'utf8')}${CSS}</style>
</head><body>
<h1>labtel report: <span id="episode"></span></h1>
<div id="verdict"></div>
<p class="hint">Drag to zoom, wheel to zoom, shift+wheel to pan, double-click to reset; every panel follows. Red lines: QMP events; purple dashed: a break in a source's lines (a restart, a reconnect, a missing answer, lost rows, a silence); orange dotted: a value dropped because it could not be true. A gap in a line is a time with no measured value.</p>
<main id="panels"></main>
<script type="application/json" id="labtel-data">${data}</script>
<script>${fs.readFileSync(UPLOT_JS, 'utf8')}</script>
<script>${CLIENT}</script>
</body></html>
`;
  return { html, panels: panels.length, markers: events, breaks: markers.length - events };
}
