// The body of a collector's worker thread: runs one collector into its own
// file and reports to the agent. Whatever the collector throws ends here as a
// 'failed' message, never as a crash of the agent. Its entries: ./collector-worker.ts
// (loads the collector the agent names) and, in the bundle, one script per
// collector with its code built in (scripts/build-bundle.mjs).
import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { EpisodeClock } from '../clock/origin.js';
import type { CollectorEntry } from '../collectors/collector-spec.js';
import type { Collector } from '../collectors/types.js';
import { JsonlWriter } from '../rows/jsonl-writer.js';
import type { FromWorker, ToWorker, WorkerInput } from './worker-protocol.js';
import { ErrorBudget } from './error-budget.js';

/** Runs the collector `load` gives for the agent's entry (workerData: WorkerInput), then closes the port. */
export async function runCollectorWorker(load: (entry: CollectorEntry) => Promise<Collector>): Promise<void> {
  const input = workerData as WorkerInput;
  const port = parentPort!;
  const send = (m: FromWorker) => port.postMessage(m);
  const controller = new AbortController();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'stop') controller.abort();
  });

  const errors = new ErrorBudget((message) => send({ type: 'error', message }));
  let writer: JsonlWriter | undefined;
  try {
    // The worker table is the catalog: the agent passes the entry the collector's spec names, so this thread
    // loads that module alone (not the catalog, every spec and the row schemas: zod in each of 6 isolates).
    const collector = await load(input.entry);
    writer = new JsonlWriter(input.outputPath, { availableInDeployment: input.availableInDeployment, stats: input.stats });
    send({ type: 'started', tid: threadId() });
    const outcome = await collector.run({
      config: input.config as never,
      target: input.target,
      clock: new EpisodeClock(input.originNs, input.realtimeMinusMonoNs),
      writer,
      signal: controller.signal,
      stopFlag: input.stopFlag,
      reportError: (message) => errors.report(message),
      episodeDir: input.episodeDir,
      upstream: input.upstream,
      downstream: input.downstream,
      preflight: input.preflight,
    });
    writer.close();
    errors.end();
    send({ type: 'done', rows: writer.rows, end: outcome.end, valueRows: outcome.valueRows, detail: outcome.detail });
  } catch (err) {
    try {
      writer?.close();
    } catch {
      // the failure below is the one to report
    }
    errors.end();
    const e = err as Error;
    const cause = e.cause instanceof Error ? ` (cause: ${e.cause.message})` : '';
    send({ type: 'failed', rows: writer?.rows ?? 0, message: `${e.message ?? String(err)}${cause}` });
  }
  port.close();
}

/** This thread's id in /proc/PID/task (Node names every thread "node"); undefined where /proc says nothing. */
function threadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) ? tid : undefined;
  } catch {
    return undefined;
  }
}
