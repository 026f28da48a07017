// `labtel verify`: a verdict per collector on an episode directory, from its
// files alone (episode.json, summary.json, telemetry-*.jsonl), for the
// verification layer. Failed: nothing to trust (no rows, only nulls, rows
// that break their schema or lose rows, a collector that failed). Degraded:
// real values, with something the reader must know (silences, drops,
// restarts, reported errors, time going backwards, skipped as optional).
import fs from 'node:fs';
import path from 'node:path';
import type { CollectorSummary, EpisodeSummary } from '../agent/summary.js';
import { KNOWN_COLLECTORS } from '../manifest/schema.js';
import type { Verdict, VerifyReport } from './report.js';
import { scanFile, type SourceScan } from './scan-rows.js';

type Row = Record<string, unknown>;

interface CollectorRules {
  /** The source whose rows come every interval, and which of its rows those are. */
  source: string;
  rhythm: (r: Row) => boolean;
  /** The manifest key of its interval, ms. */
  intervalKey: string;
  /** Drops its last row reports, as sentences. */
  drops?: (last: Row) => string[];
}

const n = (v: unknown) => (typeof v === 'number' ? v : 0);

const RULES: Record<string, CollectorRules> = {
  proc: { source: 'host_proc', rhythm: (r) => !('tid' in r), intervalKey: 'interval_ms' },
  perf: { source: 'host_perf', rhythm: () => true, intervalKey: 'interval_ms' },
  pcap: {
    source: 'pcap',
    rhythm: (r) => !('event' in r),
    intervalKey: 'interval_ms',
    drops: (l) => [
      ...(n(l.kernel_drops) > 0 ? [`the kernel dropped ${l.kernel_drops} packets the capture could not keep up with`] : []),
      ...(n(l.if_drops) > 0 ? [`the interface dropped ${l.if_drops} packets`] : []),
      ...(l.drops_lower_bound === true ? ['a tcpdump run was killed before its final statistics: the drop counts are lower bounds'] : []),
    ],
  },
  netflow: { source: 'netflow', rhythm: () => true, intervalKey: 'bucket_ms' },
  qmp: {
    source: 'qmp',
    rhythm: () => true,
    intervalKey: 'interval_ms',
    drops: () => [], // from summary.json's count, which includes drops after the last poll
  },
  guest_agent: {
    source: 'guest',
    rhythm: (r) => r.kind === 'channel',
    intervalKey: 'interval_ms',
    drops: (l) => {
      const kinds = ['oversize', 'rate', 'invalid_utf8', 'invalid_json', 'too_deep', 'not_object'].filter((k) => n(l[`dropped_${k}`]) > 0);
      const total = kinds.reduce((s, k) => s + n(l[`dropped_${k}`]), 0);
      return total ? [`the guest channel dropped ${total} lines (${kinds.map((k) => `${k}: ${l[`dropped_${k}`]}`).join(', ')})`] : [];
    },
  },
};

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

export function verifyEpisode(dir: string): VerifyReport {
  const ep = readJson(path.join(dir, 'episode.json')) as { episode?: string; manifest?: { collectors?: Record<string, Row> } } | undefined;
  if (!ep?.manifest) throw new NotAnEpisode(`${dir} is not an episode directory (no readable episode.json)`);
  const summary = readJson(path.join(dir, 'summary.json')) as EpisodeSummary | undefined;
  const report: VerifyReport = { verdict: 'ok', episode: summary?.episode ?? ep.episode ?? path.basename(dir), reasons: [], collectors: {} };
  if (!summary) report.reasons.push('no summary.json: the agent did not finish the episode (it was killed, or is still running)');

  for (const name of KNOWN_COLLECTORS) {
    const config = ep.manifest.collectors?.[name];
    if (!config || config.enabled === false) continue;
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
      if (!fs.existsSync(file)) failed.push(`no ${path.basename(file)}`);
      else if (rules) {
        const scan = scanFile(file, (r) => r.source === rules.source && rules.rhythm(r));
        rows = scan.lines;
        judge(scan.sources, rules, Number(config[rules.intervalKey]), failed, degraded);
        // A collector that stops writing before the episode ends (and not because the target exited) is a silence too.
        const main = scan.sources.get(rules.source);
        const interval = Number(config[rules.intervalKey]) * 1e6;
        const lastT = main?.lastPicked?.t_mono_ns;
        if (summary && typeof lastT === 'number' && s?.end !== 'target_exited' && summary.t_mono_stop_ns - lastT > Math.max(3 * interval, 3e9)) {
          degraded.push(`${rules.source} rows stop ${((summary.t_mono_stop_ns - lastT) / 1e9).toFixed(3)} s before the episode ended`);
        }
        if (scan.badLines) failed.push(`${scan.badLines} lines are not rows (${scan.firstBadLine})`);
        if (rows === 0) failed.push('zero rows');
      }
      const detail = (s?.detail ?? {}) as Row;
      if (name === 'qmp' && n(detail.events_dropped) > 0) degraded.push(`${detail.events_dropped} QMP events were dropped (more than could be queued)`);
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
  let values = 0;
  for (const [source, s] of sources) {
    values += s.valueRows;
    if (s.schemaErrors) failed.push(`${s.schemaErrors} ${source} rows fail their schema (first: ${s.firstSchemaError})`);
    if (s.seqGaps) failed.push(`${source} rows are missing: ${s.seqGaps} seq gaps (first: ${s.firstGap})`);
    if (s.backwards) degraded.push(`${source} t_mono_ns goes backwards ${s.backwards} times (first: ${s.firstBackwards})`);
  }
  const total = [...sources.values()].reduce((x, s) => x + s.rows, 0);
  if (total > 0 && values === 0) failed.push(`every one of its ${total} rows had null metrics`);
  if (main && Number.isFinite(intervalMs) && intervalMs > 0 && main.longestSilenceNs > 3 * intervalMs * 1e6) {
    degraded.push(`${rules.source} rows stop for ${(main.longestSilenceNs / 1e9).toFixed(3)} s from t_mono_ns ${main.silenceAt} (more than 3x its ${intervalMs} ms interval)`);
  }
  // The cumulative drop counters are on the rhythm rows (pcap interval rows, guest channel rows).
  const last = main?.lastPicked;
  if (last && rules.drops) degraded.push(...rules.drops(last));
}
