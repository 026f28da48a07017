// Reading an episode directory for the report: what episode.json and
// summary.json say about the clock, the host, each collector's interval and
// the episode's span, and what a row the panels draw from is. The rows
// themselves come from verify's pass (render.ts: verifyEpisode's onRow), which
// cuts the files into lines as it reads them for its verdict.
import fs from 'node:fs';
import path from 'node:path';
import { textOf } from '../util/text-of.js';

export type Row = Record<string, unknown>;

/** What builds a source's panels: rows pushed to it in file order (each an object with a numeric t_mono_ns), then finish(). */
export interface PanelSink<T> {
  push(row: Row): void;
  finish(): T;
}

/** Whether a parsed line is a row the report draws from: an object with a numeric t_mono_ns (anything else is verify's to report). */
export const isRow = (r: unknown): r is Row => typeof r === 'object' && r !== null && typeof (r as Row).t_mono_ns === 'number';

/** A row's value as text (String(), or its kind's name where String() would throw and take the report down). */
export const text = textOf;

/** A finite number, or null: a missing or non-numeric field is never 0. */
export const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Seconds on the episode clock. */
export const secondsOf = (r: Row): number => (r.t_mono_ns as number) / 1e9;

export interface EpisodeMeta {
  clkTck: number;
  /** Logical CPUs of the host (episode.json's inventory); null when it was not read. */
  hostCpus: number | null;
  /** Each collector's interval from the manifest (bucket_ms for netflow; `key` for another of its intervals), ms. */
  intervalMs: (collector: string, fallback: number, key?: string) => number;
}

export function episodeMeta(ep: { clock?: { clk_tck?: unknown }; host?: { cpu?: { cores?: unknown } | null } | null; manifest?: { collectors?: Record<string, Row> } }): EpisodeMeta {
  const cores = num(ep.host?.cpu?.cores);
  return {
    clkTck: num(ep.clock?.clk_tck) ?? 100,
    hostCpus: cores !== null && cores > 0 ? cores : null,
    intervalMs: (collector, fallback, key) => {
      const c = ep.manifest?.collectors?.[collector];
      const v = num(key ? c?.[key] : collector === 'netflow' ? c?.bucket_ms : c?.interval_ms);
      return v !== null && v > 0 ? v : fallback;
    },
  };
}

/** Where the agent tells of one collector's reconnects and restarts: its collector_error rows, from the agent's rows pushed. */
export function agentErrors(collector: string): { push(row: Row): void; errors: Array<{ tNs: number; message: string }> } {
  const errors: Array<{ tNs: number; message: string }> = [];
  return {
    errors,
    push: (r) => {
      if (r.event === 'collector_error' && r.collector === collector) errors.push({ tNs: r.t_mono_ns as number, message: text(r.message ?? '') });
    },
  };
}

/** The episode's start and stop on its clock, seconds (summary.json); null when it has none. */
export function episodeTimes(dir: string): { start: number; stop: number } | null {
  try {
    const s = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as Row;
    const start = num(s.t_mono_start_ns);
    const stop = num(s.t_mono_stop_ns);
    return start !== null && stop !== null && stop >= start ? { start: start / 1e9, stop: stop / 1e9 } : null;
  } catch {
    return null; // an episode still running, or pulled without it: every marker counts
  }
}
