// Entry point of a collector's worker thread (tsc's dist/ and the source tree):
// loads the collector module the agent names (its spec's entry) and runs it.
import { loadCollector } from '../collectors/load-entry.js';
import { runCollectorWorker } from './collector-worker-main.js';

await runCollectorWorker(loadCollector);
