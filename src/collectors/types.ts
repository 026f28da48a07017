// What a collector's code is: its entry module (named by its spec, ./collector-spec.ts)
// exports one of these, which the agent probes and the collector's worker runs.
import type { MessagePort } from 'node:worker_threads';
import type { EpisodeClock } from '../clock/origin.js';
import type { CollectorConfigs, CollectorName } from '../manifest/schema.js';
import type { JsonlWriter } from '../rows/jsonl-writer.js';
import type { DomainChannel, DomainInterface } from '../libvirt/domain-xml.js';

/** A target.libvirt_domain as it was resolved: what libvirt said of the running domain (virsh dumpxml). */
export interface ResolvedLibvirt {
  domain: string;
  uri: string;
  /** libvirt's id of the running domain. */
  id: number;
  /** The domain's uuid, which the target's command line carries (-uuid). */
  uuid: string;
  /** libvirt's pidfile the pid came from (also ResolvedTarget.pidfile, followed across restarts). */
  pidfile: string;
  /** Its network interfaces: the tap (<target dev>), mac and bridge. */
  interfaces: DomainInterface[];
  /** Its channels: virtio-serial port name, the host end's mode and path, the guest end's state. */
  channels: DomainChannel[];
}

export interface Availability {
  available: boolean;
  reason: string;
  /**
   * What a probe with the manifest's config found that the run needs again (programs' paths, a checked
   * capture wrapper): the agent passes it to the collector's worker as ctx.preflight, so the worker does
   * not probe a second time. Structured-cloneable; never written anywhere (collectors/index.ts strips it).
   */
  handoff?: unknown;
}

export interface ResolvedTarget {
  pid: number;
  /** target.pidfile; for a libvirt_domain target, libvirt's pidfile (proc and perf follow a domain restart through it). */
  pidfile?: string;
  /** For a target.libvirt_domain: the domain as resolved. */
  libvirt?: ResolvedLibvirt;
  /** target.qmp_socket; for a pidfile target, collectors.qmp.socket, which it was checked against (the follower holds each restart to it: PidfileFollowerOptions.qmpSocket). */
  qmp_socket?: string;
  /** Its starttime (/proc/PID/stat) once checked: a collector that finds another process under this pid when it starts (the pid reused) must not watch it. */
  starttime?: number;
  /** Host thread id -> vCPU index, from QEMU's query-cpus-fast. */
  vcpu_threads?: Record<string, number>;
  /** Host thread id -> iothread id, from QEMU's query-iothreads (read with vcpu_threads). */
  io_threads?: Record<string, string>;
  /** Why vcpu_threads could not be read, when a QMP socket was there to read them from. */
  vcpu_note?: string;
  /** The target's executable when it was resolved (/proc/PID/exe): a pidfile follower takes on only this one or QEMU. */
  exe?: string | null;
  /** target.executables: globs of executables accepted besides QEMU's. */
  executables?: string[];
  /** How the QMP socket's peer was found, when one was checked: SO_PEERCRED (native) or /proc/net/unix (pure TS). */
  peer_via?: 'SO_PEERCRED' | '/proc/net/unix';
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
  /** Its probe's handoff (Availability.handoff) from the agent's thread, when the probe with this config gave one. */
  preflight?: unknown;
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
  /**
   * Can it run on this host? Without a config, only what doctor can tell
   * (programs installed); with the manifest's config, everything that can be
   * checked before the run (interface, privilege, filter).
   */
  probe(config?: CollectorConfigs[N]): Promise<Availability>;
  /** Runs on the collector's worker thread until ctx.signal aborts or there is nothing left to observe. */
  run(ctx: CollectorContext<N>): Promise<CollectorOutcome>;
}
