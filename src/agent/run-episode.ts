// `labtel run`: one episode. Plans the collectors (refusing what cannot run),
// writes episode.json, runs each collector on its own worker thread into its
// own file, stops them all on duration/SIGINT/SIGTERM, and writes summary.json
// (with a sink: after the last forwarding pass, which it accounts for).
import path from 'node:path';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { EpisodeClock, takeOrigin } from '../clock/origin.js';
import { probeCollectors, sourcesOf, specOf } from '../collectors/index.js';
import type { CollectorSpec } from '../collectors/collector-spec.js';
import { KNOWN_COLLECTORS, type CollectorName, type Manifest } from '../manifest/schema.js';
import { nativeStatus } from '../native/addon.js';
import { sysconf } from '../native/sysconf.js';
import { JsonlWriter } from '../rows/jsonl-writer.js';
import { VERSION } from '../version.js';
import { CollectorRun } from './collector-run.js';
import { outputDirProblem, prepareEpisodeDir, writeJsonExclusive } from './episode-dir.js';
import { EpisodeStop } from './episode-stop.js';
import { hostInventory } from './inventory.js';
import type { AgentEventRow } from '../rows/agent-rows.js';
import type { CollectorSummary, EpisodeSummary } from './summary.js';
import { SelfTelemetry } from './self-telemetry.js';
import { resolveTarget } from './target.js';
import { scrubDeep, scrubSecrets } from '../util/scrub-secrets.js';
import { randomBytes } from 'node:crypto';

const STARTUP_MS = 10_000;

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
  spec: CollectorSpec;
  config: { optional: boolean; available_in_deployment?: boolean };
}

const skippedSummary = (reason: string, sources: CollectorSummary['sources'] = []): CollectorSummary => ({
  status: 'skipped', reason, rows: 0, errors: [], end: null, file: null, sources,
});

export interface Plan {
  run: Planned[];
  skipped: Record<string, CollectorSummary>;
  probes: Record<string, { available: boolean; reason: string }>;
  /** What each probe found that its collector's worker needs again (Availability.handoff): passed on, not probed twice. */
  handoffs: Partial<Record<CollectorName, unknown>>;
  /** Why the episode cannot start (empty when it can). */
  refusals: string[];
}

/** Decides which collectors run, and why the episode would be refused (labtel check shows it; run refuses). */
export async function decideCollectors(m: Manifest): Promise<Plan> {
  const run: Planned[] = [];
  const skipped: Record<string, CollectorSummary> = {};
  const refusals: string[] = [];
  const handoffs: Plan['handoffs'] = {};
  const probes = await probeCollectors(m.collectors, handoffs);
  for (const name of KNOWN_COLLECTORS) {
    const config = m.collectors[name];
    if (!config || !config.enabled) continue;
    const spec: CollectorSpec = specOf(name);
    const availability = { ...probes[name] };
    // A collector that consumes another's output runs only beside it.
    const needs = spec.needs as CollectorName | undefined;
    if (availability.available && needs && !(m.collectors[needs]?.enabled && probes[needs].available)) {
      availability.available = false;
      availability.reason = m.collectors[needs]?.enabled
        ? `it takes its input from collectors.${needs}, which cannot run: ${probes[needs].reason}`
        : `it takes its input from collectors.${needs}: enable that collector too`;
      probes[name] = availability;
    }
    if (availability.available) {
      run.push({ name, spec, config });
    } else if (config.optional) {
      skipped[name] = skippedSummary(availability.reason, sourcesOf(spec));
    } else {
      refusals.push(`collectors.${name}: cannot run: ${availability.reason} (mark it "optional": true to run the episode without it)`);
    }
  }
  if (!refusals.length && run.length === 0) refusals.push('collectors: no collector to run (every one is disabled, optional and unavailable, or absent)');
  // An output_dir that is a symlink is refused: labtel writes nothing through one.
  const dirProblem = outputDirProblem(m.output_dir);
  if (dirProblem) refusals.unshift(dirProblem);
  return { run, skipped, probes, handoffs, refusals };
}

/** decideCollectors(), throwing RunRefused when the episode cannot start. */
export async function planCollectors(m: Manifest): Promise<Plan> {
  const plan = await decideCollectors(m);
  if (plan.refusals.length) throw new RunRefused(plan.refusals.join('\n'));
  return plan;
}

export async function runEpisode(opts: RunOptions): Promise<RunResult> {
  const stop = new EpisodeStop({ handleSignals: opts.handleSignals, signal: opts.stop });
  try {
    return await runWith(opts, stop);
  } finally {
    stop.dispose();
  }
}

async function runWith(opts: RunOptions, stop: EpisodeStop): Promise<RunResult> {
  const m = opts.manifest;
  // What the agent prints, records or sends is scrubbed of anything credential-shaped (util/scrub-secrets.ts).
  const log = opts.log ? (l: string) => opts.log!(scrubSecrets(l)) : () => {};
  const plan = await planCollectors(m);
  const qmp = m.collectors.qmp;
  const target = await resolveTarget(m.target, { qmpSocket: qmp?.enabled && plan.run.some((p) => p.name === 'qmp') ? qmp.socket : undefined });
  const dir = path.resolve(m.output_dir);
  prepareEpisodeDir(dir, opts.force ?? false);
  const episode = m.episode ?? path.basename(dir);

  const host = await hostInventory();
  const origin = takeOrigin();
  const clock = EpisodeClock.fromOrigin(origin);
  const sc = sysconf();
  writeJsonExclusive(path.join(dir, 'episode.json'), scrubDeep({
    episode,
    labtel_version: VERSION,
    run_id: randomBytes(16).toString('base64url'),
    created: new Date().toISOString(),
    clock: { ...origin, clk_tck: sc.clockTicks, page_size: sc.pageSize, sysconf_source: sc.source },
    target,
    native: nativeStatus(),
    // What each collector found on this host before the run (perf: paranoid level and the events that count).
    preflight: plan.probes,
    manifest: m,
    host,
  }));

  const agent = new JsonlWriter(path.join(dir, 'telemetry-agent.jsonl'), { availableInDeployment: true });
  const agentRow = (row: AgentEventRow) => agent.write('agent', clock.now(), row.message == null ? row : { ...row, message: scrubSecrets(row.message) });
  const tStart = clock.now();
  agentRow({ event: 'episode_started', collector: null, message: `pid ${target.pid}` });
  const self = new SelfTelemetry(agent, clock);
  // The NATS client is loaded only for an episode that forwards (it is most of what the agent's thread would load otherwise).
  const forwarding = m.sinks?.nats ? (await import('../sinks/nats/live.js')).startForwarding(dir, m.sinks.nats, episode, log) : null;
  // Whatever ends the episode, even an error (summary.json that cannot be written), the loop ends and the connection closes: an open one keeps the process from exiting.
  try {
    const summaries: Record<string, CollectorSummary> = { ...plan.skipped };
    for (const [name, s] of Object.entries(plan.skipped)) {
      agentRow({ event: 'collector_skipped', collector: name, message: s.reason });
      log(`${name}: skipped: ${s.reason}`);
    }

    // Linked collectors (netflow takes pcap's packets): one port each way per pair.
    const upstream = new Map<CollectorName, MessagePort>();
    const downstream = new Map<CollectorName, MessagePort[]>();
    for (const p of plan.run) {
      const from = p.spec.needs as CollectorName | undefined;
      if (!from) continue;
      const ch = new MessageChannel();
      upstream.set(p.name, ch.port2);
      downstream.set(from, [...(downstream.get(from) ?? []), ch.port1]);
    }

    const runs: CollectorRun[] = [];
    if (stop.reason) {
      // Stopped during start-up: record that nothing ran, and why.
      for (const p of plan.run) summaries[p.name] = skippedSummary(`the episode was stopped (${stop.reason}) before it started`, sourcesOf(p.spec));
    } else {
      const onSettled = () => {
        if (runs.length === plan.run.length && runs.every((r) => r.done)) stop.trigger('collectors_ended');
      };
      for (const p of plan.run) {
        log(`${p.name}: preflight: ${plan.probes[p.name]!.reason}`);
        const run = new CollectorRun(
          p.name,
          sourcesOf(p.spec),
          {
            name: p.name,
            entry: p.spec.entry,
            config: p.config,
            target,
            originNs: origin.t_mono_origin_ns,
            realtimeMinusMonoNs: origin.realtime_minus_mono_ns,
            outputPath: path.join(dir, `telemetry-${p.name}.jsonl`),
            availableInDeployment: p.config.available_in_deployment ?? p.spec.availableInDeployment,
            episodeDir: dir,
            upstream: upstream.get(p.name),
            downstream: downstream.get(p.name),
            preflight: plan.handoffs[p.name],
          },
          agentRow,
          log,
          onSettled,
        );
        runs.push(run);
        summaries[p.name] = run.summary;
      }
      self.start(runs);
      // duration_s counts from when every collector has started (worker threads take a moment to load), at most STARTUP_MS after launch.
      const duration = m.duration_s;
      if (duration) {
        const late = new Promise<void>((resolve) => setTimeout(resolve, STARTUP_MS).unref());
        void Promise.race([Promise.all(runs.map((r) => r.started)), late]).then(() => {
          if (!stop.reason) stop.armDuration(duration);
        });
      }
      await stop.wait();
    }

    agentRow({ event: 'episode_stopping', collector: null, message: stop.reason });
    log(`stopping: ${stop.reason}`);
    await Promise.all(runs.map((r) => r.stop()));

    const tStop = clock.now();
    self.stop();
    agent.close();
    // Every row file is closed: the last forwarding pass sees every row, and summary.json says what it left for `labtel forward`.
    const nats = await forwarding?.finish();
    const summary: EpisodeSummary = {
      episode,
      labtel_version: VERSION,
      exit_reason: stop.reason ?? 'aborted',
      t_mono_start_ns: tStart,
      t_mono_stop_ns: tStop,
      agent: self.totals(),
      collectors: summaries,
      ...(nats ? { forwarding: { nats } } : {}),
    };
    writeJsonExclusive(path.join(dir, 'summary.json'), scrubDeep(summary));
    // episode.json and summary.json go whatever happened to the rows.
    await forwarding?.publishEpisodeFiles();
    return { dir, summary };
  } finally {
    await forwarding?.close();
  }
}
