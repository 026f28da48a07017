// What a collector declares in its folder's spec.ts. labtel derives from the specs that
// src/collectors/catalog.ts lists: the manifest's collector keys, the row shapes and their
// sources, the worker's entry, verify's rules and the docs. It imports no code of a collector
// (its entry is a module the worker loads), so the manifest, rows and verify can derive from
// the catalog without an import cycle through the collectors' run loops.
import type { z } from 'zod';

export interface RowShape {
  /** A name for the shape when a source has several (process and thread rows). */
  title: string;
  fields: z.ZodObject;
}

type Row = Record<string, unknown>;

/** What verify's scan tells of one source's rows (the part of src/verify/scan-rows.ts's SourceScan the rules read). */
export interface ScannedSource {
  rows: number;
  /** Per row shape (in the spec's order): rows of that shape, and those with a measured value. */
  shapeRows: number[];
  shapeValueRows: number[];
  /** The last rhythm row. */
  lastPicked: Row | null;
}

/** How `labtel verify` judges the collector. */
export interface VerifyRules<S extends string = string> {
  /** The source whose rows come every interval, and which of its rows those are. */
  source: S;
  rhythm: (r: Row) => boolean;
  /** The manifest key of its interval, ms. */
  intervalKey: string;
  /** Drops its last rhythm row reports, as sentences. */
  drops?: (last: Row) => string[];
  /** Drops its summary.json detail reports, as sentences (counts that include drops after its last row). */
  detailDrops?: (detail: Row) => string[];
  /**
   * The row shapes (titles) whose measurements count; all of the source's when absent.
   * proc counts its process rows only, as `labtel run` does: thread rows (an option) that
   * measure while the process itself was never read do not make the collector ok.
   */
  measuredShapes?: string[];
  /** Why its rows measured nothing: said when none of its main source's rows (of measuredShapes) has a measured value. */
  nothing: (main: ScannedSource) => string;
  /**
   * Its other sources (proc's host_cgroup): when one has rows but none of them measured anything, the collector is
   * degraded (not failed: its main source may still measure), with this sentence, told the source's first row.
   */
  secondary?: ReadonlyArray<{ source: S; nothing: (s: ScannedSource, first: Row | null) => string }>;
  /**
   * A judgement that needs every rhythm row, not only the last (pcap: the capture against its interface's counters):
   * made from the collector's manifest config, told each rhythm row in file order, in bounded memory.
   */
  fold?: (config: Row) => RowFold;
}

/** VerifyRules.fold's judge: each rhythm row of the collector's file, in order, then the reasons it fails or degrades. */
export interface RowFold {
  row(r: Row): void;
  finish(): { failed: string[]; degraded: string[] };
}

/** The module a collector's worker loads, and the name of the Collector (src/collectors/types.ts) it exports. */
export interface CollectorEntry {
  module: string;
  export: string;
  /** In the bundle: a worker script with this collector built in (scripts/build-bundle.mjs), which the agent starts instead of the generic one. */
  worker?: string;
}

export interface CollectorSpec<N extends string = string, C extends z.ZodType = z.ZodType, S extends string = string> {
  name: N;
  /** Its manifest keys, collectors.<name> (docs/manifest.md). */
  config: C;
  /** The sources it writes and their row shapes, in the order a row is matched against them (docs/rows.md). */
  rows: ReadonlyArray<{ source: S; shapes: RowShape[] }>;
  /** available_in_deployment for its rows unless the manifest overrides it. */
  availableInDeployment: boolean;
  /** Another collector whose output this one consumes: both run, linked by a MessagePort, or neither. */
  needs?: string;
  /** Its preflight (probe) and run entry. */
  entry: CollectorEntry;
  verify: VerifyRules<S>;
}

/** Keeps the spec's name and sources as literal types, from which CollectorName and Source are derived. */
export function defineCollector<const N extends string, C extends z.ZodType, const S extends string>(spec: CollectorSpec<N, C, S>): CollectorSpec<N, C, S> {
  return spec;
}

// Defined (true) only by scripts/build-bundle.mjs: the bundle's modules all sit in one folder, dist/bundle/.
declare const __LABTEL_BUNDLE__: boolean | undefined;

/**
 * The entry `file` beside the spec at `specUrl` (its import.meta.url): .ts in the source tree, .js when built by tsc;
 * in the bundle, where every module is one of dist/bundle/'s files, the build's `collector-<export>.js` (this module for
 * the agent's thread to probe) and `worker-<export>.cjs` (its worker, with the collector built in).
 */
export function entryBeside(specUrl: string, file: string, exportName: string): CollectorEntry {
  if (typeof __LABTEL_BUNDLE__ !== 'undefined' && __LABTEL_BUNDLE__) {
    return { module: new URL(`./collector-${exportName}.js`, specUrl).href, export: exportName, worker: new URL(`./worker-${exportName}.cjs`, specUrl).href };
  }
  return { module: new URL(`./${file}${specUrl.endsWith('.ts') ? '.ts' : '.js'}`, specUrl).href, export: exportName };
}

/** Rows of the shape titled `title` among `shapes`, and those of them with a measured value. */
export function shapeCount(shapes: RowShape[], title: string, s: ScannedSource): { rows: number; measured: number } {
  const i = shapes.findIndex((x) => x.title === title);
  return { rows: s.shapeRows[i] ?? 0, measured: s.shapeValueRows[i] ?? 0 };
}

export const plural = (k: number, one: string, many = `${one}s`) => `${k} ${k === 1 ? one : many}`;
export const num = (v: unknown) => (typeof v === 'number' ? v : 0);
