// Messages between the agent and a collector's worker thread.
import type { MessagePort } from 'node:worker_threads';
import type { CollectorName } from '../manifest/schema.js';
import type { ResolvedTarget } from '../collectors/types.js';
import type { CollectorEntry } from '../collectors/collector-spec.js';

export interface WorkerInput {
  name: CollectorName;
  /** The module that holds the collector's code (its spec's entry): the worker imports it alone, not the catalog. */
  entry: CollectorEntry;
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
  /** The collector's probe's handoff on the agent's thread (Availability.handoff), for its run. */
  preflight?: unknown;
}

export type FromWorker =
  /** tid: the worker's thread id (/proc/thread-self), so its CPU can be told apart in /proc/PID/task. */
  | { type: 'started'; tid?: number }
  | { type: 'error'; message: string }
  | { type: 'done'; rows: number; end: string; valueRows?: number; detail?: Record<string, unknown> }
  | { type: 'failed'; rows: number; message: string };

export type ToWorker = { type: 'stop' };
