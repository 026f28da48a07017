// The collectors this build of labtel runs: one line each. A name in
// KNOWN_COLLECTORS without a line here is accepted by the manifest schema and
// refused at run time as not available yet.
import { KNOWN_COLLECTORS, type CollectorName } from '../manifest/schema.js';
import type { Availability, Collector } from './types.js';
import { perf } from './perf/collector.js';
import { proc } from './proc/collector.js';

export const COLLECTORS: { [K in CollectorName]?: Collector<K> } = {
  proc,
  perf,
};

export const NOT_YET = 'not implemented in this version of labtel';

/** Whether each known collector can run on this host, and why not. */
export async function probeCollectors(): Promise<Record<CollectorName, Availability>> {
  const out = {} as Record<CollectorName, Availability>;
  for (const name of KNOWN_COLLECTORS) {
    const c = COLLECTORS[name] as Collector | undefined;
    out[name] = c ? await c.probe() : { available: false, reason: NOT_YET };
  }
  return out;
}
