// The report's data: time-aligned panels on the episode clock (seconds since
// its origin), built from an episode directory's rows pushed to them file by
// file (see the *-panels.ts files for each source's rules for what a value
// is), and the markers: QMP events across every panel, and each source's
// breaks and dropped values on its own panels.
import { cgroupPanels } from './cgroup-panels.js';
import { agentErrors, type EpisodeMeta, isRow, type Row } from './episode-rows.js';
import { guestPanel } from './guest-panel.js';
import { netflowPanels } from './netflow-panels.js';
import { pcapPanels } from './pcap-panels.js';
import { perfPanels } from './perf-panels.js';
import { procPanels } from './proc-panels.js';
import { qmpPanels } from './qmp-panels.js';
import type { Marker, Panel } from './types.js';

export { MAX_POINTS } from './downsample.js';
export type { Marker, Panel } from './types.js';

/**
 * The files the panels are built from (telemetry-<name>.jsonl), in the order
 * their rows must come: the agent's before qmp's (its collector_error rows
 * tell qmp's reconnects).
 */
export const PANEL_FILES = ['agent', 'proc', 'perf', 'netflow', 'pcap', 'qmp', 'guest_agent'] as const;

export interface PanelBuilder {
  /** A row of telemetry-<file>.jsonl (JSON.parse of one line), in file order, files in PANEL_FILES' order; anything but an object with a numeric t_mono_ns is passed over. */
  push(file: string, row: unknown): void;
  /** `episode`: summary.json's start and stop (episodeTimes), null without them. */
  finish(episode: { start: number; stop: number } | null): { panels: Panel[]; markers: Marker[]; events: number };
}

export function panelBuilder(meta: EpisodeMeta): PanelBuilder {
  const qmpErrors = agentErrors('qmp');
  const proc = procPanels(meta);
  const cgroup = cgroupPanels(meta);
  const perf = perfPanels(meta);
  const net = netflowPanels(meta);
  const pcap = pcapPanels();
  const qmp = qmpPanels(meta, qmpErrors.errors);
  const guest = guestPanel();
  // The proc collector's file holds two sources: its host_cgroup rows are the cgroup panel's.
  const procFile = (r: Row) => (r.source === 'host_cgroup' ? cgroup.push(r) : proc.push(r));
  const sinks: Record<string, (r: Row) => void> = { agent: qmpErrors.push, proc: procFile, perf: perf.push, netflow: net.push, pcap: pcap.push, qmp: qmp.push, guest_agent: guest.push };
  // Files come one after the other: the sink is looked up once per file, not per row.
  let lastFile: string | null = null;
  let sink: ((r: Row) => void) | undefined;
  return {
    push: (file, row) => {
      if (file !== lastFile) (lastFile = file), (sink = Object.hasOwn(sinks, file) ? sinks[file] : undefined);
      if (sink && isRow(row)) sink(row);
    },
    finish: (episode) => assemble(joined(proc.finish(), cgroup.finish()), perf.finish(), net.finish(), pcap.finish(), qmp.finish(), guest.finish(), episode),
  };
}

type Built = { panels: Panel[]; markers: Marker[] };

/** Two builders' panels and markers, one after the other (proc's and its cgroup's, from one file). */
const joined = (a: Built, b: Built): Built => ({ panels: [...a.panels, ...b.panels], markers: [...a.markers, ...b.markers] });

function assemble(proc: Built, perf: Built, net: Built, pcap: Built, qmp: Built & { events: Marker[] }, guest: Built, episode: { start: number; stop: number } | null): { panels: Panel[]; markers: Marker[]; events: number } {
  const panels = [...proc.panels, ...perf.panels, ...net.panels, ...pcap.panels, ...qmp.panels, ...guest.panels];
  const markers = [...qmp.events, ...proc.markers, ...perf.markers, ...net.markers, ...pcap.markers, ...qmp.markers, ...guest.markers];
  const span = extent(panels, markers, episode);
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
    return { ...p, data: p.data.map((c, i) => widened(c, before ? (i ? null : lo) : undefined, after ? (i ? null : hi) : undefined)) };
  });
}

/** A column with a point put before and after it (undefined: none), copied by a loop (a spread of a long array is slow). */
function widened(c: Array<number | null>, first: number | null | undefined, last: number | null | undefined): Array<number | null> {
  const k = first === undefined ? 0 : 1;
  const out = new Array<number | null>(c.length + k + (last === undefined ? 0 : 1));
  if (k) out[0] = first!;
  for (let j = 0; j < c.length; j++) out[j + k] = c[j]!;
  if (last !== undefined) out[out.length - 1] = last;
  return out;
}
