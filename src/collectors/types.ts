// What a collector is: one folder under src/collectors/ exporting one of these,
// registered with one line in src/collectors/index.ts.
import type { MessagePort } from 'node:worker_threads';
import type { EpisodeClock } from '../clock/origin.js';
import type { CollectorConfigs, CollectorName } from '../manifest/schema.js';
import type { JsonlWriter } from '../rows/jsonl-writer.js';
import type { Source } from '../rows/envelope.js';

export interface Availability {
  available: boolean;
  reason: string;
}

export interface ResolvedTarget {
  pid: number;
  pidfile?: string;
  qmp_socket?: string;
  /** Host thread id -> vCPU index, from QEMU's query-cpus-fast. */
  vcpu_threads?: Record<string, number>;
  /** Why vcpu_threads could not be read, when a QMP socket was there to read them from. */
  vcpu_note?: string;
}

export interface CollectorContext<N extends CollectorName> {
  config: CollectorConfigs[N];
  target: ResolvedTarget;
  clock: EpisodeClock;
  /** This collector's file, telemetry-<name>.jsonl. */
  writer: JsonlWriter;
  /** Aborts when the episode stops. */
  signal: AbortSignal;
  /** Raised with the signal; a collector that blocks its thread waits on it (see util/pace.ts). */
  stopFlag?: Int32Array;
  /** A partial error: recorded in summary.json, collection goes on. */
  reportError(message: string): void;
  /** The episode directory, for collectors that keep files beside their rows (pcap). */
  episodeDir: string;
  /** From the collector this one `needs` (netflow: the pcap collector's packets). */
  upstream?: MessagePort;
  /** To the collectors that need this one. */
  downstream?: MessagePort[];
}

export interface CollectorOutcome {
  /** Why the collector ended: 'stopped' when the episode stopped it. */
  end: string;
  /** Rows that carried measured values; 0 with rows written means every metric was null. */
  valueRows?: number;
  /** Facts for summary.json (the sampler in use, drop counters, ...). */
  detail?: Record<string, unknown>;
}

export interface Collector<N extends CollectorName = CollectorName> {
  name: N;
  /** The row sources it writes. */
  sources: readonly Source[];
  /** available_in_deployment for its rows unless the manifest overrides it. */
  availableInDeployment: boolean;
  /** Another collector whose output this one consumes: both run, linked by a MessagePort, or neither. */
  needs?: CollectorName;
  /**
   * Can it run on this host? Without a config, only what doctor can tell
   * (programs installed); with the manifest's config, everything that can be
   * checked before the run (interface, privilege, filter).
   */
  probe(config?: CollectorConfigs[N]): Promise<Availability>;
  /** Runs on the collector's worker thread until ctx.signal aborts or there is nothing left to observe. */
  run(ctx: CollectorContext<N>): Promise<CollectorOutcome>;
}
