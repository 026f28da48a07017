// The collectors this build of labtel runs: one line each. A name in
// KNOWN_COLLECTORS without a line here is accepted by the manifest schema and
// refused at run time as not available yet.
import { KNOWN_COLLECTORS, type CollectorConfigs, type CollectorName } from '../manifest/schema.js';
import type { Availability, Collector } from './types.js';
import { guestAgent } from './guest_agent/collector.js';
import { netflow } from './netflow/collector.js';
import { pcap } from './pcap/collector.js';
import { perf } from './perf/collector.js';
import { proc } from './proc/collector.js';
import { qmp } from './qmp/collector.js';

export const COLLECTORS: { [K in CollectorName]?: Collector<K> } = {
  proc,
  perf,
  pcap,
  netflow,
  qmp,
  guest_agent: guestAgent,
};

export const NOT_YET = 'not implemented in this version of labtel';

/**
 * Whether each known collector can run on this host, and why not; with a
 * manifest's collector configs, each configured one is probed with its config.
 */
export async function probeCollectors(configs: Partial<CollectorConfigs> = {}): Promise<Record<CollectorName, Availability>> {
  const out = {} as Record<CollectorName, Availability>;
  for (const name of KNOWN_COLLECTORS) {
    const c = COLLECTORS[name] as Collector | undefined;
    out[name] = c ? await c.probe(configs[name] as never) : { available: false, reason: NOT_YET };
  }
  return out;
}
