// The worker table: a collector's code is found through its spec in the catalog
// (./catalog.ts), whose entry names the module and the Collector it exports.
import { KNOWN_COLLECTORS, type CollectorConfigs, type CollectorName } from '../manifest/schema.js';
import { CATALOG, type CatalogSpec } from './catalog.js';
import type { CollectorEntry, CollectorSpec } from './collector-spec.js';
import type { Availability, Collector } from './types.js';
import type { Source } from '../rows/envelope.js';
import { loadCollector } from './load-entry.js';

export { loadCollector };

export { CATALOG };

/** The spec of collector `name`. */
export function specOf(name: CollectorName): CatalogSpec {
  const spec = CATALOG.find((s) => s.name === name);
  if (!spec) throw new Error(`collector ${name} is not in this build's catalog`);
  return spec;
}

/** The sources a collector writes, for summary.json. */
export const sourcesOf = (spec: CollectorSpec): Source[] => spec.rows.map((r) => r.source as Source);


/**
 * Whether each known collector can run on this host, and why not; with a
 * manifest's collector configs, each configured one is probed with its config.
 * A probe's handoff (what its worker would otherwise find again) goes to
 * `handoffs`, never into what is returned (doctor, check and episode.json print that).
 */
export async function probeCollectors(
  configs: Partial<CollectorConfigs> = {},
  handoffs?: Partial<Record<CollectorName, unknown>>,
): Promise<Record<CollectorName, Availability>> {
  const out = {} as Record<CollectorName, Availability>;
  for (const name of KNOWN_COLLECTORS) {
    const c = await loadCollector(specOf(name).entry);
    const { handoff, ...availability } = await c.probe(configs[name] as never);
    out[name] = availability;
    if (handoffs && handoff !== undefined) handoffs[name] = handoff;
  }
  return out;
}
