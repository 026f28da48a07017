// The collectors labtel knows: one line each. The manifest's collector keys (src/manifest/schema.ts),
// the row shapes and sources (src/rows/), the worker's entry (src/agent/), verify's rules and the
// docs are derived from this list; adding a collector is its folder and a line here.
import type { CollectorSpec } from './collector-spec.js';
import { guestAgentSpec } from './guest_agent/spec.js';
import { netflowSpec } from './netflow/spec.js';
import { pcapSpec } from './pcap/spec.js';
import { perfSpec } from './perf/spec.js';
import { procSpec } from './proc/spec.js';
import { qmpSpec } from './qmp/spec.js';

const BUILT_IN = [procSpec, perfSpec, pcapSpec, netflowSpec, qmpSpec, guestAgentSpec] as const;

/** Tests only: spec modules (absolute paths, comma-separated, each exporting `spec`) added after the built-in ones, as a new line here would. */
const TEST_COLLECTORS = process.env.LABTEL_TEST_COLLECTORS;
const extra: CollectorSpec[] = TEST_COLLECTORS
  ? await Promise.all(TEST_COLLECTORS.split(',').map(async (file) => (await import(file)).spec as CollectorSpec))
  : [];

export type CatalogSpec = (typeof BUILT_IN)[number];
export const CATALOG: readonly CatalogSpec[] = [...BUILT_IN, ...(extra as unknown as CatalogSpec[])];
