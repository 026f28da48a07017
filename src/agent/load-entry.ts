// A collector's code from the entry its spec names (src/collectors/collector-spec.ts), for
// its worker thread: importing this pulls in nothing else (collectors/index.ts's
// loadCollector sits beside the catalog, which imports every spec and zod).
import type { CollectorEntry } from '../collectors/collector-spec.js';
import type { Collector } from '../collectors/types.js';

export async function loadEntry(entry: CollectorEntry): Promise<Collector> {
  const mod = (await import(entry.module)) as Record<string, unknown>;
  const c = mod[entry.export] as Collector | undefined;
  if (!c || typeof c.run !== 'function' || typeof c.probe !== 'function') throw new Error(`${entry.module} exports no collector named ${entry.export}`);
  return c;
}
