import { Worker, type Transferable, type WorkerOptions } from 'node:worker_threads';
import { childEnv } from './child-env.js';

/**
 * Starts a worker on module `name` beside the caller's module (`callerUrl` is
 * its import.meta.url): .js when built (tsc's dist/ or the bundle, where the
 * build names its worker entries so), .ts through tsx in the source tree.
 * Its environment lacks the NATS credentials (child-env.ts), and so does
 * every program it starts. `options`: Node's, passed on (a collector's
 * worker: trackUnmanagedFds false, see COLLECTOR_WORKER_OPTIONS).
 */
export function spawnModuleWorker(callerUrl: string, name: string, workerData: object, transferList: Transferable[] = [], options: SpawnOptions = {}): Worker {
  if (!callerUrl.endsWith('.ts')) return spawnWorkerScript(new URL(`./${name}.js`, callerUrl).href, workerData, transferList, options);
  return new Worker(new URL('./ts-worker-boot.mjs', import.meta.url), {
    ...options,
    workerData: { ...workerData, __entry: new URL(`./${name}.ts`, callerUrl).href },
    transferList,
    env: childEnv(),
  });
}

/** Starts a worker on the built script at `url` (a file: URL; .cjs runs as CommonJS), with the same environment. */
export function spawnWorkerScript(url: string, workerData: object, transferList: Transferable[] = [], options: SpawnOptions = {}): Worker {
  return new Worker(new URL(url), { ...options, workerData, transferList, env: childEnv() });
}

export type SpawnOptions = Pick<WorkerOptions, 'trackUnmanagedFds'>;

/**
 * A collector's worker does not let Node track the descriptors it opens with fs.open*: Node closes those still
 * "open" when the thread ends, and a descriptor handed to a socket (pcap's FIFO drain, fifo-drain.ts) is closed by
 * libuv without Node knowing, so at the worker's exit Node closed its number again, by then another thread's file
 * (a JSONL writer's, libuv's signal pipe: EBADF, or an abort in uv__signal_handler). A collector closes its own
 * descriptors; those of a worker terminated mid-run (a hung collector, at the episode's stop) stay open until the
 * agent's process exits, while its sockets, pipes and children's stdio are still closed by the thread's teardown.
 */
export const COLLECTOR_WORKER_OPTIONS: SpawnOptions = { trackUnmanagedFds: false };
