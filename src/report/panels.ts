// The report's data: time-aligned panels on the episode clock (seconds since
// its origin), built from an episode directory's rows, each source by its own
// rules for what a value is (see the *-panels.ts files), and the markers: QMP
// events across every panel, and each source's breaks and dropped values on
// its own panels.
import { type EpisodeMeta } from './episode-rows.js';
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
  const qmp = qmpPanels(dir, meta);
  const guest = guestPanel(dir);
  return {
    panels: [...proc.panels, ...perf.panels, ...net.panels, ...qmp.panels, ...guest.panels],
    markers: [...qmp.events, ...proc.markers, ...perf.markers, ...net.markers, ...qmp.markers, ...guest.markers],
    events: qmp.events.length,
  };
}
