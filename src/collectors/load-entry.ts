// A collector's code from the entry its spec names (collector-spec.ts): on its
// worker thread, which must not import the catalog (every spec and zod), and
// on the agent's thread to probe it (collectors/index.ts).
import type { CollectorEntry } from './collector-spec.js';
import type { Collector } from './types.js';

export async function loadCollector(entry: CollectorEntry): Promise<Collector> {
  return collectorIn((await import(entry.module)) as Record<string, unknown>, entry);
}

/** The Collector `entry` names in its module `mod` (already loaded: a bundled worker has it built in). */
export function collectorIn(mod: Record<string, unknown>, entry: CollectorEntry): Collector {
  const c = mod[entry.export] as Collector | undefined;
  if (!c || typeof c.run !== 'function' || typeof c.probe !== 'function') throw new Error(`${entry.module} exports no collector named ${entry.export}`);
  return c;
}
