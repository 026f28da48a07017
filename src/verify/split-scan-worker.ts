// The worker of split-scan.ts: takes the tail of a telemetry file if the main
// thread has not, counts the lines before it, scans it as a continued part
// (scan-rows.ts) with the collector's rhythm as verify-episode.ts picks it,
// and sends its scan back. Anything it throws is sent back as a failure, and
// the main thread scans the tail itself.
import fs from 'node:fs';
import { workerData } from 'node:worker_threads';
import { DONE, FAILED, OFFERED, TAKEN_BY_WORKER, type SplitJob, type SplitResult } from './split-scan.js';

const job = workerData as SplitJob;
const state = new Int32Array(job.state);

/** Newlines in the first `end` bytes of `file`: the lines before the tail. */
function linesBefore(file: string, end: number): number {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 << 20);
    let lines = 0;
    for (let pos = 0; pos < end; ) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
      if (n === 0) break;
      for (let nl = buf.indexOf(10); nl >= 0 && nl < n; nl = buf.indexOf(10, nl + 1)) lines++;
      pos += n;
      Atomics.add(state, 1, 1); // progress, for the main thread's watch
    }
    return lines;
  } finally {
    fs.closeSync(fd);
  }
}

let result: SplitResult | null = null;
try {
  const [{ scanFile }, { CATALOG }] = await Promise.all([import('./scan-rows.js'), import('../collectors/catalog.js')]);
  const rules = CATALOG.find((spec) => spec.name === job.collector)?.verify;
  if (rules && Atomics.compareExchange(state, 0, OFFERED, TAKEN_BY_WORKER) === OFFERED) {
    const lineBase = linesBefore(job.file, job.at);
    const scan = scanFile(job.file, (r) => r.source === rules.source && rules.rhythm(r), undefined, {
      start: job.at,
      lineBase,
      continued: true,
      onRead: () => Atomics.add(state, 1, 1),
    });
    result = { scan, lineBase };
  }
} catch (err) {
  result = { error: String((err as Error)?.stack ?? err) };
}
if (result) {
  job.port.postMessage(result);
  Atomics.store(state, 0, 'error' in result ? FAILED : DONE);
  Atomics.notify(state, 0);
}
job.port.close();
