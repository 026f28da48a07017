// Source-tree runs only (tests, tsx): lets a worker thread load TypeScript.
// Built installs start dist/agent/collector-worker.js directly.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.__entry);
