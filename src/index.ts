// labtel's programmatic API.
export { KNOWN_COLLECTORS, manifestSchema, type Manifest, type CollectorName } from './manifest/schema.js';
export { parseManifest, loadManifest, ManifestError } from './manifest/load.js';
export { runEpisode, planCollectors, RunRefused, type RunOptions, type RunResult } from './agent/run-episode.js';
export type { EpisodeSummary, CollectorSummary } from './agent/summary.js';
export { runLoop as runProcLoop, procLoop, type RunLoopOptions as ProcRunLoopOptions } from './collectors/proc/run-loop.js';
export { takeOrigin, EpisodeClock, type ClockOrigin } from './clock/origin.js';
export { nativeStatus } from './native/addon.js';
export { ROW_SCHEMAS } from './rows/registry.js';
export { MEASUREMENTS, MEASUREMENT_PATHS, hasMeasuredValue, measuresSomething } from './rows/measurements.js';
export { VERSION } from './version.js';
