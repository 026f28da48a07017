// Several captures bucketized at once: one worker thread per job slot, each
// taking the next file when it finishes one. What each file ends with is
// handed to the caller (the CLI prints it); a worker that dies mid-file fails
// that file and the others finish theirs.
import { spawnModuleWorker } from '../../../util/spawn-worker.js';
import type { CaptureStatus } from '../bucketizer.js';
import type { BucketizeFileOptions } from './bucketize-file.js';
import type { FromBucketizeWorker, ToBucketizeWorker } from './bucketize-worker.js';

export interface PoolJob {
  input: string;
  output: string;
}

export interface PoolEvents {
  /** Bytes read and packets seen so far, over every file. */
  progress(bytes: number, packets: number): void;
  /** A file finished; false when it failed. */
  result(input: string, rows: number, status: CaptureStatus): boolean;
  /** A file (or, when `input` is null, a worker between files) failed with `message`. */
  failure(input: string | null, message: string): void;
}

/** Runs every job on `jobs` workers; resolves to the number of files that failed. */
export async function bucketizePool(queue: PoolJob[], jobs: number, options: BucketizeFileOptions, on: PoolEvents): Promise<number> {
  queue = [...queue];
  const done = new Map<string, number>();
  const packets = new Map<string, number>();
  let failures = 0;
  await Promise.all(
    Array.from({ length: jobs }, () =>
      new Promise<void>((resolve) => {
        const w = spawnModuleWorker(import.meta.url, 'bucketize-worker', { options, availableInDeployment: true });
        let current: string | null = null; // the file this worker is on
        const next = () => {
          const job = queue.shift();
          current = job?.input ?? null;
          w.postMessage((job ? { type: 'file', ...job } : { type: 'exit' }) satisfies ToBucketizeWorker);
        };
        w.on('message', (m: FromBucketizeWorker) => {
          if (m.type === 'progress') {
            done.set(m.input, m.bytes);
            packets.set(m.input, m.packets);
            on.progress([...done.values()].reduce((a, b) => a + b, 0), [...packets.values()].reduce((a, b) => a + b, 0));
            return;
          }
          if (m.type === 'result') {
            if (!on.result(m.input, m.rows, m.status)) failures++;
          } else {
            on.failure(m.input, m.message);
            failures++;
          }
          next();
        });
        w.on('error', (err) => {
          on.failure(current, err.message);
          if (current) failures++;
          current = null;
        });
        w.on('exit', (code) => {
          if (current) {
            on.failure(current, `the worker exited (code ${code}) before finishing it`);
            failures++;
          }
          resolve();
        });
        next();
      }),
    ),
  );
  return failures;
}
