// A worker of `labtel bucketize` over many files: bucketizes the files the
// pool hands it, one at a time, and reports progress and results.
import { parentPort, workerData } from 'node:worker_threads';
import { JsonlWriter } from '../../../rows/jsonl-writer.js';
import { bucketizeFile, type BucketizeFileOptions } from './bucketize-file.js';

export type ToBucketizeWorker = { type: 'file'; input: string; output: string } | { type: 'exit' };
export type FromBucketizeWorker =
  | { type: 'progress'; input: string; bytes: number; packets: number }
  | { type: 'result'; input: string; output: string; rows: number; status: import('../bucketizer.js').CaptureStatus }
  | { type: 'error'; input: string; message: string };

const { options, availableInDeployment } = workerData as { options: BucketizeFileOptions; availableInDeployment: boolean };
const port = parentPort!;
const send = (m: FromBucketizeWorker) => port.postMessage(m);

port.on('message', (m: ToBucketizeWorker) => {
  if (m.type === 'exit') return port.close();
  let writer: JsonlWriter | undefined;
  try {
    writer = new JsonlWriter(m.output, { availableInDeployment });
    const r = bucketizeFile(m.input, writer, {
      ...options,
      onProgress: (bytes, packets) => send({ type: 'progress', input: m.input, bytes, packets }),
    });
    writer.close();
    send({ type: 'result', input: m.input, output: m.output, rows: r.rows, status: r.status });
  } catch (err) {
    try {
      writer?.close();
    } catch {
      // the first error is the one to report
    }
    send({ type: 'error', input: m.input, message: (err as Error).message });
  }
});
