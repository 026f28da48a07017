import { Worker } from 'node:worker_threads';

/** Starts a worker on a module next to this one: .js when built, .ts through tsx in the source tree. */
export function spawnModuleWorker(name: string, workerData: object): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  if (!fromSource) return new Worker(new URL(`./${name}.js`, import.meta.url), { workerData });
  return new Worker(new URL('./ts-worker-boot.mjs', import.meta.url), {
    workerData: { ...workerData, __entry: new URL(`./${name}.ts`, import.meta.url).href },
  });
}
