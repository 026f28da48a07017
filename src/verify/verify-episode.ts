// `labtel verify`: a verdict per collector on an episode directory, from its
// files alone (episode.json, summary.json, telemetry-*.jsonl), for the
// verification layer. Failed: nothing to trust (no rows, no measured value in
// any row (src/rows/measurements.ts), rows that break their schema or lose
// rows, a collector that failed, or one that ended with the target while the
// target lived on). Degraded:
// real values, with something the reader must know (silences, drops,
// restarts, reported errors, time going backwards, skipped as optional).
import fs from 'node:fs';
import path from 'node:path';
import type { CollectorSummary, EpisodeSummary } from '../agent/summary.js';
import { KNOWN_COLLECTORS } from '../manifest/schema.js';
import { CATALOG } from '../collectors/catalog.js';
import type { RowFold, VerifyRules } from '../collectors/collector-spec.js';
import { EpisodeJsonError, readEpisodeJson, type EpisodeJson } from '../episode/episode-json.js';
import type { Verdict, VerifyReport } from './report.js';
import { eachRow, firstRowOf } from './each-row.js';
import { scanFile, type FileScan, type IdentityEvent, type SourceScan } from './scan-rows.js';
import { mergeScans } from './scan-merge.js';
import type { SplitScan } from './split-scan.js';
import { ROW_SHAPES } from '../rows/registry.js';
import type { Source } from '../rows/envelope.js';

type Row = Record<string, unknown>;

/** How verify judges each collector: from its spec in the catalog (src/collectors/<name>/spec.ts). */
type CollectorRules = VerifyRules;

const n = (v: unknown) => (typeof v === 'number' ? v : 0);
/** Rows of one shape of a source (by its title in ROW_SHAPES), and those of them with a measured value. */
const ofShape = (source: Source, title: string, s: SourceScan) => {
  const i = ROW_SHAPES[source]!.findIndex((x) => x.title === title);
  return { rows: s.shapeRows[i] ?? 0, measured: s.shapeValueRows[i] ?? 0 };
};
const RULES: Record<string, CollectorRules> = Object.fromEntries(CATALOG.map((spec) => [spec.name, spec.verify]));

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

export class NotAnEpisode extends Error {
  override name = 'NotAnEpisode';
}

/** episode.json through the one typed reader; a directory without a readable one (or its manifest) is not an episode. */
function readEpisode(dir: string): { episode?: string; manifest: { collectors?: Record<string, Row>; target?: Row } } {
  let ep: EpisodeJson;
  try {
    ep = readEpisodeJson(dir);
  } catch (err) {
    if (err instanceof EpisodeJsonError && err.kind === 'schema') throw new NotAnEpisode(`${dir}: its episode.json is not valid (${err.message})`, { cause: err });
    throw new NotAnEpisode(`${dir} is not an episode directory (no readable episode.json)`, { cause: err });
  }
  if (!ep.manifest) throw new NotAnEpisode(`${dir} is not an episode directory (no readable episode.json)`);
  return { episode: ep.episode, manifest: ep.manifest as { collectors?: Record<string, Row>; target?: Row } };
}

/** What the proc collector saw of the target: its restarts and exits, and its last process row. */
interface ProcEvidence {
  events: IdentityEvent[];
  last: Row | null;
  /** proc's interval, ns: it sees an exit up to one interval late. */
  intervalNs: number;
}

const secs = (ns: number) => `${(ns / 1e9).toFixed(3)} s`;

/**
 * Why a collector that ended with the target (`target_exited`) at `lastT` is not to be
 * trusted, or null when the target really did not live on. A pidfile (or QMP socket)
 * target can come back as a new process; a collector that stopped then left it unrecorded.
 */
function livedOn(name: string, lastT: number, intervalNs: number, proc: ProcEvidence | null, target: string, summary: EpisodeSummary | undefined, goneAt: unknown): string | null {
  const head = `${name} ended (target_exited) at ${secs(lastT)} but the target lived on`;
  if (proc) {
    const restart = proc.events.find((e) => e.event === 'restarted' && e.t > lastT);
    if (restart) return `${head}: proc saw it restart as pid ${restart.pid} at ${secs(restart.t)}`;
    const exit = proc.events.at(-1);
    if (exit?.event === 'exited') {
      // It did exit: but a collector whose rows stop well before proc saw the exit left the target unrecorded meanwhile.
      if (exit.t - lastT <= 3 * intervalNs + proc.intervalNs) return null;
      return `${head}: proc saw pid ${exit.pid} exit only at ${secs(exit.t)}, ${secs(exit.t - lastT)} after ${name}'s last row`;
    }
    const t = proc.last?.t_mono_ns;
    if (typeof t === 'number' && t - lastT > 3 * intervalNs) return `${head}: proc sampled pid ${proc.last!.pid} until ${secs(t)} and never saw it exit`;
    return null;
  }
  // No proc rows to tell: a fixed pid cannot come back; a pidfile or QMP socket target can, unseen.
  if (target === 'pid' || !summary || summary.exit_reason === 'collectors_ended') return null;
  if (target === 'pidfile' && typeof goneAt === 'number') {
    // It says when it saw the target gone (perf: detail.target_gone_at_ns), and watched the pidfile from then to the stop.
    if (goneAt - lastT <= Math.max(3 * intervalNs, 1e9)) return null;
    return `${name} ended (target_exited), but its rows stop at ${secs(lastT)} and it saw the target gone only at ${secs(goneAt)}: ${secs(goneAt - lastT)} of a live target unrecorded`;
  }
  const after = summary.t_mono_stop_ns - lastT;
  if (after <= 3 * intervalNs) return null;
  return `${name} ended (target_exited) at ${secs(lastT)} but the episode went on for ${secs(after)} more (stopped by ${summary.exit_reason}), and no proc rows show the target gone: a ${target} target may have lived on under a new pid`;
}

/** A row of an episode's telemetry, as verify reads it: `collector` names its file (telemetry-<collector>.jsonl). */
export type RowSink = (collector: string, row: Row, file: string) => void;

export interface VerifyOptions {
  /**
   * Each line that parses to a JSON object (JSON.parse's own, whatever its schema verdict), in file order,
   * after verify's checks of it, files one after the other: a reader (the report) gets the rows in verify's
   * pass instead of parsing the files again.
   */
  onRow?: RowSink;
  /**
   * The collectors whose files go to onRow, in this order (default: those verify judges, in KNOWN_COLLECTORS'
   * order). A listed file verify does not judge (the agent's, a skipped collector's) is read for onRow alone;
   * a missing one passes nothing. Judged files not listed are scanned after the listed ones.
   */
  rowsOf?: readonly string[];
  /**
   * The tail of one telemetry file offered to a worker thread (split-scan.ts, started by `labtel verify` before it
   * loaded verify): that file's head is scanned here, the other files next, then the tail joined. Not with onRow
   * for that file (its rows would come out of order); verifyEpisode ends the offer either way.
   */
  split?: SplitScan | null;
}

export function verifyEpisode(dir: string, opts: VerifyOptions = {}): VerifyReport {
  const ep = readEpisode(dir);
  const summary = readJson(path.join(dir, 'summary.json')) as EpisodeSummary | undefined;
  const report: VerifyReport = { verdict: 'ok', episode: summary?.episode ?? ep.episode ?? path.basename(dir), reasons: [], collectors: {} };
  if (!summary) report.reasons.push('no summary.json: the agent did not finish the episode (it was killed, or is still running)');
  // A libvirt domain's target is followed through libvirt's pidfile, as a pidfile target is.
  const named = ['pid', 'pidfile', 'qmp_socket', 'libvirt_domain'].find((k) => ep.manifest!.target?.[k] !== undefined) ?? 'unknown';
  const target = named === 'libvirt_domain' ? 'pidfile' : named;

  // Every file first: a collector's end is judged against what proc saw of the target.
  const selected = KNOWN_COLLECTORS.filter((name) => {
    const config = ep.manifest!.collectors?.[name];
    return config && config.enabled !== false;
  });
  const judged = new Set<string>(selected.filter((name) => summary?.collectors[name]?.status !== 'skipped' && RULES[name] && fs.existsSync(path.join(dir, `telemetry-${name}.jsonl`))));
  const passed = new Set<string>(opts.onRow ? (opts.rowsOf ?? judged) : []);
  const scans = new Map<string, FileScan>();
  // Collectors whose rules judge every rhythm row (VerifyRules.fold): their file is scanned in one pass, never split.
  const folds = new Map<string, RowFold>();
  for (const name of judged) {
    const fold = RULES[name]?.fold;
    if (fold) folds.set(name, fold(ep.manifest.collectors![name]!));
  }
  const split = opts.split && judged.has(opts.split.collector) && !passed.has(opts.split.collector) && !folds.has(opts.split.collector) ? opts.split : null;
  if (opts.split !== split) opts.split?.cancel();
  let splitHead: { file: string; pick: (row: Row) => boolean; head: FileScan } | null = null;
  for (const name of new Set([...passed, ...judged])) {
    const rules = RULES[name];
    const file = path.join(dir, `telemetry-${name}.jsonl`);
    const sink = opts.onRow && passed.has(name) ? opts.onRow : undefined;
    const pick = rules && ((r: Row) => r.source === rules.source && rules.rhythm(r));
    const fold = folds.get(name);
    const onRow =
      fold && pick
        ? (row: Row) => {
            if (pick(row)) fold.row(row);
            sink?.(name, row, file);
          }
        : sink && ((row: Row) => sink(name, row, file));
    if (pick && judged.has(name) && name === split?.collector) splitHead = { file, pick, head: scanFile(file, pick, undefined, { end: split.at }) };
    else if (pick && judged.has(name)) scans.set(name, scanFile(file, pick, onRow));
    else if (onRow && fs.existsSync(file)) eachRow(file, onRow);
  }
  // Last, so the worker has had the other files' time to scan the tail.
  if (split && splitHead) scans.set(split.collector, split.finish(splitHead.file, splitHead.head, splitHead.pick, scanFile, mergeScans));
  const procMain = scans.get('proc')?.sources.get('host_proc');
  const procInterval = Number(ep.manifest.collectors?.proc?.interval_ms) * 1e6;
  const proc: ProcEvidence | null = procMain ? { events: procMain.identityEvents, last: procMain.lastPicked, intervalNs: Number.isFinite(procInterval) ? procInterval : 0 } : null;

  for (const name of selected) {
    const config = ep.manifest.collectors![name]!;
    const s: CollectorSummary | undefined = summary?.collectors[name];
    const failed: string[] = [];
    const degraded: string[] = [];
    let rows = 0;
    if (s?.status === 'skipped') {
      degraded.push(`skipped: ${s.reason}`);
    } else {
      if (s?.status === 'failed') failed.push(`failed: ${s.reason}`);
      const file = path.join(dir, `telemetry-${name}.jsonl`);
      const rules = RULES[name];
      const scan = scans.get(name);
      if (!fs.existsSync(file)) failed.push(`no ${path.basename(file)}`);
      else if (rules && scan) {
        rows = scan.lines;
        judge(scan.sources, rules, Number(config[rules.intervalKey]), failed, degraded);
        for (const second of rules.secondary ?? []) {
          const s2 = scan.sources.get(second.source);
          if (s2 && s2.rows > 0 && s2.valueRows === 0) degraded.push(second.nothing(s2, firstRowOf(file, second.source)));
        }
        const folded = folds.get(name)?.finish();
        if (folded) failed.push(...folded.failed), degraded.push(...folded.degraded);
        const main = scan.sources.get(rules.source);
        const interval = Number(config[rules.intervalKey]) * 1e6;
        const lastT = main?.lastPicked?.t_mono_ns;
        if (typeof lastT === 'number' && s?.end === 'target_exited') {
          // Excused from the silence below only when the target did not live on.
          const why = livedOn(name, lastT, interval, proc, target, summary, (s.detail as Row | undefined)?.target_gone_at_ns);
          if (why) failed.push(why);
        } else if (summary && typeof lastT === 'number' && main?.lastPicked?.process_event !== 'exited' && summary.t_mono_stop_ns - lastT > Math.max(3 * interval, 3e9)) {
          // A collector that stops writing before the episode ends is a silence too; not one whose
          // last row records the target's exit (proc following a pidfile target that never came back).
          degraded.push(`${rules.source} rows stop ${((summary.t_mono_stop_ns - lastT) / 1e9).toFixed(3)} s before the episode ended`);
        }
        if (scan.badLines) failed.push(`${scan.badLines} lines are not rows (${scan.firstBadLine})`);
        if (rows === 0) failed.push('zero rows');
      }
      const detail = (s?.detail ?? {}) as Row;
      degraded.push(...(RULES[name]?.detailDrops?.(detail) ?? []));
      // Rows the collector wrote that are not in the file: lost at the end, where no seq gap shows it.
      if (s && s.status !== 'failed' && rows < s.rows) failed.push(`its file has ${rows} rows where summary.json counts ${s.rows}: rows are missing`);
      if (n(detail.restarts) > 0) degraded.push(`restarted ${detail.restarts} times`);
      if (n(detail.connections) > 1) degraded.push(`reconnected ${n(detail.connections) - 1} times`);
      if (s?.errors.length) degraded.push(`${s.errors.length} errors reported (first: ${s.errors[0]})`);
    }
    const verdict: Verdict = failed.length ? 'failed' : degraded.length ? 'degraded' : 'ok';
    report.collectors[name] = { verdict, rows, reasons: [...failed, ...degraded] };
  }
  const all = Object.values(report.collectors).map((c) => c.verdict);
  report.verdict = !summary || all.includes('failed') ? 'failed' : all.includes('degraded') ? 'degraded' : 'ok';
  return report;
}

function judge(sources: Map<string, SourceScan>, rules: CollectorRules, intervalMs: number, failed: string[], degraded: string[]): void {
  const main = sources.get(rules.source);
  if (!main || main.rows === 0) failed.push(`no ${rules.source} rows`);
  for (const [source, s] of sources) {
    if (s.schemaErrors) failed.push(`${s.schemaErrors} ${source} rows fail their schema (first: ${s.firstSchemaError})`);
    if (s.seqGaps) failed.push(`${source} rows are missing: ${s.seqGaps} seq gaps (first: ${s.firstGap})`);
    // A stub stands for a row that was not forwarded: no measurement, and the reader must know where the row is.
    if (s.stubs) degraded.push(`${s.stubs} ${source} rows are stubs, not measurements: the rows were not forwarded (first: ${s.firstStub})`);
    if (s.backwards) degraded.push(`${source} t_mono_ns goes backwards ${s.backwards} times (first: ${s.firstBackwards})`);
  }
  // Only measurements count (src/rows/measurements.ts): bookkeeping numbers can be there when nothing was measured.
  const measured = main && rules.measuredShapes ? rules.measuredShapes.reduce((k, title) => k + ofShape(rules.source as Source, title, main).measured, 0) : main?.valueRows;
  if (main && main.rows > 0 && measured === 0) failed.push(rules.nothing(main));
  if (main && Number.isFinite(intervalMs) && intervalMs > 0 && main.longestSilenceNs > 3 * intervalMs * 1e6) {
    degraded.push(`${rules.source} rows stop for ${(main.longestSilenceNs / 1e9).toFixed(3)} s from t_mono_ns ${main.silenceAt} (more than 3x its ${intervalMs} ms interval)`);
  }
  // The cumulative drop counters are on the rhythm rows (pcap interval rows, guest channel rows).
  const last = main?.lastPicked;
  if (last && rules.drops) degraded.push(...rules.drops(last));
}
