// Frozen copy of src/report/panels.ts as of da5b2d9 (before the one-pass report): the old path, kept only for
// test/report/one-pass.test.ts, which holds the new report to its bytes. Do not edit, but for the panels added
// since (the pcap drops panel): their builder is src's own, pushed the rows this path reads from the file itself,
// so that the one pass is still held to a separate read of every file.
// The report's data: time-aligned panels on the episode clock (seconds since
// its origin), built from an episode directory's rows, each source by its own
// rules for what a value is (see the *-panels.ts files), and the markers: QMP
// events across every panel, and each source's breaks and dropped values on
// its own panels.
import { pcapPanels } from '../../../src/report/pcap-panels.js';
import { type EpisodeMeta, episodeTimes, rowsOf } from './episode-rows.js';
import { guestPanel } from './guest-panel.js';
import { netflowPanels } from './netflow-panels.js';
import { perfPanels } from './perf-panels.js';
import { procPanels } from './proc-panels.js';
import { qmpPanels } from './qmp-panels.js';
import type { Marker, Panel } from './types.js';

export { MAX_POINTS } from './downsample.js';
export type { Marker, Panel } from './types.js';

export function buildPanels(dir: string, meta: EpisodeMeta): { panels: Panel[]; markers: Marker[]; events: number } {
  const proc = procPanels(dir, meta);
  const perf = perfPanels(dir, meta);
  const net = netflowPanels(dir, meta);
  const pcapSink = pcapPanels();
  for (const r of rowsOf(dir, 'pcap')) pcapSink.push(r);
  const pcap = pcapSink.finish();
  const qmp = qmpPanels(dir, meta);
  const guest = guestPanel(dir);
  const panels = [...proc.panels, ...perf.panels, ...net.panels, ...pcap.panels, ...qmp.panels, ...guest.panels];
  const markers = [...qmp.events, ...proc.markers, ...perf.markers, ...net.markers, ...pcap.markers, ...qmp.markers, ...guest.markers];
  const span = extent(panels, markers, episodeTimes(dir));
  if (!span) return { panels, markers, events: qmp.events.length };
  // An event QEMU stamped outside the episode (its clock may be up to 600 s off what labtel received) is not drawn: it is said.
  const outside = qmp.events.filter((m) => m.t < span.lo || m.t > span.hi);
  const note = outside.length
    ? [`${outside.length} QMP events stamped outside the episode's time (by QEMU's clock), not drawn: ${outside.slice(0, 5).map((m) => `${m.label} at ${m.t.toFixed(3)} s`).join(', ')}${outside.length > 5 ? ', ...' : ''}`]
    : [];
  return { panels: spanning(panels, span).map((p) => (note.length ? { ...p, notes: [...p.notes, ...note] } : p)), markers, events: qmp.events.length };
}

/**
 * From the first to the last time anything was recorded: the panels' rows,
 * and the markers that fall inside the episode (summary.json's start and
 * stop, when it has them). null without rows.
 */
function extent(panels: Panel[], markers: Marker[], episode: { start: number; stop: number } | null): { lo: number; hi: number } | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of panels) {
    const xs = p.data[0]!;
    if (!xs.length) continue;
    lo = Math.min(lo, xs[0]!);
    hi = Math.max(hi, xs[xs.length - 1]!);
  }
  if (lo === Infinity) return null;
  for (const m of markers) {
    if (episode && (m.t < episode.start || m.t > episode.stop)) continue;
    (lo = Math.min(lo, m.t)), (hi = Math.max(hi, m.t));
  }
  return { lo, hi };
}

/**
 * Every panel's x over the whole span: a null point at either end where its
 * rows start later or end sooner. Each page's plot ranges over its data, so
 * without them an event before every sample, or after the last (a SHUTDOWN
 * after the last poll), was drawn on no panel.
 */
function spanning(panels: Panel[], { lo, hi }: { lo: number; hi: number }): Panel[] {
  return panels.map((p) => {
    const xs = p.data[0]!;
    const before = xs.length && lo < xs[0]! ? 1 : 0;
    const after = xs.length && hi > xs[xs.length - 1]! ? 1 : 0;
    if (!before && !after) return p;
    return { ...p, data: p.data.map((c, i) => [...(before ? [i ? null : lo] : []), ...c, ...(after ? [i ? null : hi] : [])]) };
  });
}
