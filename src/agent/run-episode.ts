// `labtel run`: one episode. Plans the collectors (refusing what cannot run),
// writes episode.json, runs each collector on its own worker thread into its
// own file, stops them all on duration/SIGINT/SIGTERM, and writes summary.json
// (with a sink: after the last forwarding pass, which it accounts for).
import path from 'node:path';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { EpisodeClock, takeOrigin } from '../clock/origin.js';
import { probeCollectors, sourcesOf, specOf } from '../collectors/index.js';
import type { CollectorSpec } from '../collectors/collector-spec.js';
import { KNOWN_COLLECTORS, type CollectorConfigs, type CollectorName, type Manifest } from '../manifest/schema.js';
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
import { describeTargetDomain, resolveTarget, targetDomain, TargetError } from './target.js';
import { fillFromDomain, type FilledValue } from '../libvirt/fill-configs.js';
import type { LibvirtDomain } from '../libvirt/domain.js';
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
  /** The collectors' configs as probed and run: the manifest's, with what a target.libvirt_domain filled in. */
  collectors: Manifest['collectors'];
  /** For a target.libvirt_domain: the domain as described before the probes (virsh dumpxml), and what it filled. */
  domain?: LibvirtDomain;
  filled: FilledValue[];
  /** Why the target's libvirt domain could not be described (it does not exist or does not run). */
  domainError?: string;
}

/**
 * The target's libvirt domain, described before any collector is probed, and the configs it fills; for any
 * other target the manifest's configs as they are. What could not be filled makes that collector unavailable.
 */
async function fillCollectors(m: Manifest): Promise<Pick<Plan, 'collectors' | 'domain' | 'filled' | 'domainError'> & { problems: Partial<Record<CollectorName, string>> }> {
  const ref = targetDomain(m.target);
  if (!ref) return { collectors: m.collectors, filled: [], problems: {} };
  let domain: LibvirtDomain;
  try {
    domain = await describeTargetDomain(ref);
  } catch (err) {
    const problems: Partial<Record<CollectorName, string>> = {};
    const c = m.collectors;
    // What the domain would have filled cannot be: those collectors cannot run (the target refuses anyway, saying why).
    const unread = (key: string) => `${key} comes from target.libvirt_domain, which could not be read (see the target's refusal)`;
    if (c.pcap && c.pcap.iface === undefined) problems.pcap = unread('collectors.pcap.iface');
    if (c.qmp && c.qmp.socket === undefined && c.qmp.libvirt === undefined) problems.qmp = unread('collectors.qmp.libvirt');
    if (c.guest_agent && c.guest_agent.socket === undefined && c.guest_agent.libvirt === undefined) problems.guest_agent = unread('collectors.guest_agent.socket');
    return { collectors: m.collectors, filled: [], problems, domainError: (err as Error).message };
  }
  const f = fillFromDomain(m.collectors, domain);
  return { collectors: f.collectors, domain, filled: f.filled, problems: f.problems };
}

/** Decides which collectors run, and why the episode would be refused (labtel check shows it; run refuses). */
export async function decideCollectors(m: Manifest): Promise<Plan> {
  const run: Planned[] = [];
  const skipped: Record<string, CollectorSummary> = {};
  const refusals: string[] = [];
  const handoffs: Plan['handoffs'] = {};
  const fill = await fillCollectors(m);
  const collectors = fill.collectors;
  // A collector the domain could not fill is not probed: its problem is the reason.
  const unfilled = Object.keys(fill.problems) as CollectorName[];
  const probed = Object.fromEntries(Object.entries(collectors).filter(([k]) => !unfilled.includes(k as CollectorName)));
  const probes = await probeCollectors(probed as Partial<CollectorConfigs>, handoffs);
  for (const name of unfilled) probes[name] = { available: false, reason: fill.problems[name]! };
  for (const name of KNOWN_COLLECTORS) {
    const config = collectors[name];
    if (!config || !config.enabled) continue;
    const spec: CollectorSpec = specOf(name);
    const availability = { ...probes[name] };
    // A collector that consumes another's output runs only beside it.
    const needs = spec.needs as CollectorName | undefined;
    if (availability.available && needs && !(collectors[needs]?.enabled && probes[needs].available)) {
      availability.available = false;
      availability.reason = collectors[needs]?.enabled
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
  return { run, skipped, probes, handoffs, refusals, collectors, filled: fill.filled, ...(fill.domain ? { domain: fill.domain } : {}), ...(fill.domainError ? { domainError: fill.domainError } : {}) };
}

/** decideCollectors(), throwing RunRefused when the episode cannot start. */
export async function planCollectors(m: Manifest): Promise<Plan> {
  const plan = await decideCollectors(m);
  // A domain that does not exist or does not run is the target's refusal, said first.
  if (plan.domainError) throw new TargetError(plan.domainError);
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
  const qmp = plan.collectors.qmp;
  const target = await resolveTarget(m.target, { qmpSocket: qmp?.enabled && plan.run.some((p) => p.name === 'qmp') ? qmp.socket : undefined, domain: plan.domain });
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
    // With what a libvirt domain filled in (verify reads the configs from here), and where each value came from.
    manifest: { ...m, collectors: plan.collectors },
    ...(plan.filled.length ? { filled: plan.filled } : {}),
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
