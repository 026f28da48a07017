// Source-tree runs only (tests, tsx): lets a worker thread load TypeScript.
// Built installs start dist/agent/collector-worker.js (tsc) or the bundle's worker scripts directly.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.__entry);
