import { Worker, type Transferable } from 'node:worker_threads';
import { childEnv } from './child-env.js';

/**
 * Starts a worker on module `name` beside the caller's module (`callerUrl` is
 * its import.meta.url): .js when built (tsc's dist/ or the bundle, where the
 * build names its worker entries so), .ts through tsx in the source tree.
 * Its environment lacks the NATS credentials (child-env.ts), and so does
 * every program it starts.
 */
export function spawnModuleWorker(callerUrl: string, name: string, workerData: object, transferList: Transferable[] = []): Worker {
  if (!callerUrl.endsWith('.ts')) return spawnWorkerScript(new URL(`./${name}.js`, callerUrl).href, workerData, transferList);
  return new Worker(new URL('./ts-worker-boot.mjs', import.meta.url), {
    workerData: { ...workerData, __entry: new URL(`./${name}.ts`, callerUrl).href },
    transferList,
    env: childEnv(),
  });
}

/** Starts a worker on the built script at `url` (a file: URL; .cjs runs as CommonJS), with the same environment. */
export function spawnWorkerScript(url: string, workerData: object, transferList: Transferable[] = []): Worker {
  return new Worker(new URL(url), { workerData, transferList, env: childEnv() });
}
