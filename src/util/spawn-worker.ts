import { Worker, type Transferable } from 'node:worker_threads';

/**
 * Starts a worker on module `name` beside the caller's module (`callerUrl` is
 * its import.meta.url): .js when built, .ts through tsx in the source tree.
 */
export function spawnModuleWorker(callerUrl: string, name: string, workerData: object, transferList: Transferable[] = []): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, callerUrl), { workerData, transferList });
  return new Worker(new URL('./ts-worker-boot.mjs', import.meta.url), {
    workerData: { ...workerData, __entry: new URL(`./${name}.ts`, callerUrl).href },
    transferList,
  });
}
