// `labtel run`: one episode. Plans the collectors (refusing what cannot run),
// writes episode.json, runs each collector on its own worker thread into its
// own file, stops them all on duration/SIGINT/SIGTERM, and writes summary.json.
import fs from 'node:fs';
import path from 'node:path';
import { EpisodeClock, takeOrigin, type ClockOrigin } from '../clock/origin.js';
import { COLLECTORS, NOT_YET } from '../collectors/index.js';
import type { Collector, ResolvedTarget } from '../collectors/types.js';
import { KNOWN_COLLECTORS, type CollectorName, type Manifest } from '../manifest/schema.js';
import { nativeStatus } from '../native/addon.js';
import { sysconf } from '../native/sysconf.js';
import { JsonlWriter } from '../rows/jsonl-writer.js';
import { VERSION } from '../version.js';
import { prepareEpisodeDir, writeJsonExclusive } from './episode-dir.js';
import { hostInventory } from './inventory.js';
import type { AgentEventRow } from './rows.js';
import { newStopFlag, raiseStopFlag } from './pace.js';
import { spawnModuleWorker } from './spawn-worker.js';
import type { CollectorSummary, EpisodeSummary, ExitReason } from './summary.js';
import { resolveTarget } from './target.js';
import type { FromWorker, WorkerInput } from './worker-protocol.js';

const STOP_GRACE_MS = 5000;

export class RunRefused extends Error {
  override name = 'RunRefused';
}

export interface RunOptions {
  manifest: Manifest;
  force?: boolean;
  /** Progress lines for a person; silent when absent. */
  log?: (line: string) => void;
  /** Handle SIGINT/SIGTERM (the CLI does; library callers use `stop`). */
  handleSignals?: boolean;
  /** Aborting it stops the episode, like SIGTERM. */
  stop?: AbortSignal;
}

export interface RunResult {
  dir: string;
  summary: EpisodeSummary;
}

interface Planned {
  name: CollectorName;
  collector: Collector;
  config: { optional: boolean; available_in_deployment?: boolean };
}

/** Decides which collectors run; throws RunRefused for a non-optional one that cannot. */
export async function planCollectors(m: Manifest): Promise<{ run: Planned[]; skipped: Record<string, CollectorSummary> }> {
  const run: Planned[] = [];
  const skipped: Record<string, CollectorSummary> = {};
  const refusals: string[] = [];
  for (const name of KNOWN_COLLECTORS) {
    const config = m.collectors[name];
    if (!config || !config.enabled) continue;
    const collector = COLLECTORS[name] as Collector | undefined;
    const availability = collector ? await collector.probe() : { available: false, reason: NOT_YET };
    if (collector && availability.available) {
      run.push({ name, collector, config });
    } else if (config.optional) {
      skipped[name] = { status: 'skipped', reason: availability.reason, rows: 0, errors: [], end: null, file: null, sources: collector?.sources ?? [] };
    } else {
      refusals.push(`collectors.${name}: cannot run: ${availability.reason} (mark it "optional": true to run the episode without it)`);
    }
  }
  if (m.sinks && Object.keys(m.sinks).length) refusals.push(`sinks: forwarding is ${NOT_YET}`);
  if (refusals.length) throw new RunRefused(refusals.join('\n'));
  if (run.length === 0) throw new RunRefused('collectors: no collector to run (every one is disabled, optional and unavailable, or absent)');
  return { run, skipped };
}

export async function runEpisode(opts: RunOptions): Promise<RunResult> {
  const m = opts.manifest;
  const log = opts.log ?? (() => {});
  const plan = await planCollectors(m);
  const target: ResolvedTarget = resolveTarget(m.target);
  const dir = path.resolve(m.output_dir);
  prepareEpisodeDir(dir, opts.force ?? false);
  const episode = m.episode ?? path.basename(dir);

  const host = await hostInventory();
  const origin: ClockOrigin = takeOrigin();
  const clock = EpisodeClock.fromOrigin(origin);
  const sc = sysconf();
  writeJsonExclusive(path.join(dir, 'episode.json'), {
    episode,
    labtel_version: VERSION,
    created: new Date().toISOString(),
    clock: { ...origin, clk_tck: sc.clockTicks, page_size: sc.pageSize },
    target,
    native: nativeStatus(),
    manifest: m,
    host,
  });

  const agent = new JsonlWriter(path.join(dir, 'telemetry-agent.jsonl'), { availableInDeployment: true });
  const agentRow = (row: AgentEventRow) => agent.write('agent', clock.now(), row);
  const tStart = clock.now();
  agentRow({ event: 'episode_started', collector: null, message: `pid ${target.pid}` });

  const summaries: Record<string, CollectorSummary> = { ...plan.skipped };
  for (const [name, s] of Object.entries(plan.skipped)) {
    agentRow({ event: 'collector_skipped', collector: name, message: s.reason });
    log(`${name}: skipped: ${s.reason}`);
  }

  let exitReason: ExitReason | null = null;
  let wake: () => void = () => {};
  const wakeUp = new Promise<void>((resolve) => (wake = resolve));
  const stopWith = (why: ExitReason) => {
    exitReason ??= why;
    wake();
  };

  const running = plan.run.map((p) => {
    const file = `telemetry-${p.name}.jsonl`;
    const s: CollectorSummary = { status: 'ok', reason: null, rows: 0, errors: [], end: null, file, sources: p.collector.sources };
    summaries[p.name] = s;
    const input: WorkerInput = {
      name: p.name,
      config: p.config,
      target,
      originNs: origin.t_mono_origin_ns,
      realtimeMinusMonoNs: origin.realtime_minus_mono_ns,
      outputPath: path.join(dir, file),
      availableInDeployment: p.config.available_in_deployment ?? p.collector.availableInDeployment,
      stopFlag: newStopFlag(),
    };
    const worker = spawnModuleWorker('collector-worker', input);
    const finished = new Promise<void>((resolve) => {
      let settled = false;
      const settle = () => {
        if (!settled) {
          settled = true;
          resolve();
          if (running.every((r) => r.done)) stopWith('collectors_ended');
        }
      };
      worker.on('message', (msg: FromWorker) => {
        if (msg.type === 'started') {
          agentRow({ event: 'collector_started', collector: p.name, message: null });
        } else if (msg.type === 'error') {
          if (s.errors.length < 100) s.errors.push(msg.message);
          agentRow({ event: 'collector_error', collector: p.name, message: msg.message });
        } else if (msg.type === 'done') {
          Object.assign(s, { rows: msg.rows, end: msg.end, detail: msg.detail });
          agentRow({ event: 'collector_ended', collector: p.name, message: msg.end });
          log(`${p.name}: ended (${msg.end}), ${msg.rows} rows`);
          entry.done = true;
          settle();
        } else if (msg.type === 'failed') {
          Object.assign(s, { status: 'failed', reason: msg.message, rows: msg.rows, end: 'failed' });
          agentRow({ event: 'collector_failed', collector: p.name, message: msg.message });
          log(`${p.name}: failed: ${msg.message}`);
          entry.done = true;
          settle();
        }
      });
      worker.on('error', (err) => {
        Object.assign(s, { status: 'failed', reason: `worker crashed: ${err.message}`, end: 'failed' });
        agentRow({ event: 'collector_failed', collector: p.name, message: s.reason });
        entry.done = true;
        settle();
      });
      worker.on('exit', (code) => {
        if (!entry.done) {
          Object.assign(s, { status: 'failed', reason: s.reason ?? `worker exited with code ${code} without reporting`, end: s.end ?? 'failed' });
          entry.done = true;
        }
        settle();
      });
    });
    const entry = { name: p.name, worker, finished, done: false, stopFlag: input.stopFlag! };
    log(`${p.name}: started -> ${file}`);
    return entry;
  });

  const onSignal = (sig: 'SIGINT' | 'SIGTERM') => () => stopWith(sig);
  const onInt = onSignal('SIGINT');
  const onTerm = onSignal('SIGTERM');
  if (opts.handleSignals) {
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  }
  const onStop = () => stopWith('aborted');
  opts.stop?.addEventListener('abort', onStop);
  if (opts.stop?.aborted) stopWith('aborted');
  const durationTimer = m.duration_s ? setTimeout(() => stopWith('duration'), m.duration_s * 1000) : undefined;

  await wakeUp;
  clearTimeout(durationTimer);
  agentRow({ event: 'episode_stopping', collector: null, message: exitReason });
  log(`stopping: ${exitReason}`);
  for (const r of running) {
    if (r.done) continue;
    raiseStopFlag(r.stopFlag);
    r.worker.postMessage({ type: 'stop' });
  }
  await Promise.all(
    running.map(async (r) => {
      const grace = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), STOP_GRACE_MS).unref());
      if ((await Promise.race([r.finished, grace])) === 'late') {
        const s = summaries[r.name]!;
        Object.assign(s, { status: 'failed', reason: `did not stop within ${STOP_GRACE_MS} ms; terminated`, end: 'failed' });
        await r.worker.terminate();
      }
    }),
  );
  if (opts.handleSignals) {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
  opts.stop?.removeEventListener('abort', onStop);

  // No silent zero-row collector: a collector that ran and wrote nothing failed.
  for (const r of running) {
    const s = summaries[r.name]!;
    if (s.status === 'ok' && s.rows === 0) Object.assign(s, { status: 'failed', reason: 'wrote no rows' });
  }

  const tStop = clock.now();
  agent.close();
  const summary: EpisodeSummary = {
    episode,
    labtel_version: VERSION,
    exit_reason: exitReason ?? 'aborted',
    t_mono_start_ns: tStart,
    t_mono_stop_ns: tStop,
    collectors: summaries,
  };
  writeJsonExclusive(path.join(dir, 'summary.json'), summary);
  return { dir, summary };
}

export function readSummary(dir: string): EpisodeSummary {
  return JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as EpisodeSummary;
}
