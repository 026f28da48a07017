// perf's default events, apart from the manifest schema (./config.ts) so the
// collector's worker, which needs them for its probe, does not load zod.
export const DEFAULT_PERF_EVENTS = [
  'cycles', 'instructions', 'branches', 'branch-misses', 'cache-references', 'cache-misses',
  'page-faults', 'context-switches', 'cpu-clock',
] as const;
