// Messages between the agent and a collector's worker thread.
import type { MessagePort } from 'node:worker_threads';
import type { CollectorName } from '../manifest/schema.js';
import type { ResolvedTarget } from '../collectors/types.js';

export interface WorkerInput {
  name: CollectorName;
  config: unknown;
  target: ResolvedTarget;
  originNs: string;
  realtimeMinusMonoNs: string;
  outputPath: string;
  availableInDeployment: boolean;
  /** A StopFlag on a SharedArrayBuffer: raised by the agent to stop the collector. */
  stopFlag?: Int32Array;
  episodeDir: string;
  /** [rows on disk, rows buffered], written by the collector's writer, read by the agent's self-telemetry. */
  stats?: Float64Array;
  /** Ports to the collectors this one is linked with (transferred to the worker). */
  upstream?: MessagePort;
  downstream?: MessagePort[];
}

export type FromWorker =
  | { type: 'started' }
  | { type: 'error'; message: string }
  | { type: 'done'; rows: number; end: string; valueRows?: number; detail?: Record<string, unknown> }
  | { type: 'failed'; rows: number; message: string };

export type ToWorker = { type: 'stop' };
