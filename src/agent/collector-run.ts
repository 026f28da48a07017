// One collector on its own worker thread: start it, follow its messages into
// its summary and the agent's rows, stop it (flag + message), and terminate
// it if it does not stop in time. Whatever happens, it settles exactly once.
import type { Worker } from 'node:worker_threads';
import type { CollectorName } from '../manifest/schema.js';
import { countLines } from '../rows/jsonl-writer.js';
import type { Source } from '../rows/envelope.js';
import { newStopFlag, raiseStopFlag, type StopFlag } from '../util/pace.js';
import type { AgentEventRow } from '../rows/agent-rows.js';
import { COLLECTOR_WORKER_OPTIONS, spawnModuleWorker, spawnWorkerScript } from '../util/spawn-worker.js';
import type { CollectorSummary } from './summary.js';
import type { FromWorker, WorkerInput } from './worker-protocol.js';
import { MAX_REPORTED } from './error-budget.js';

export const STOP_GRACE_MS = 5000;

export class CollectorRun {
  readonly summary: CollectorSummary;
  done = false;
  /** Resolves when the collector's worker has started it (or it settled without starting). */
  readonly started: Promise<void>;
  private markStarted!: () => void;
  private readonly worker: Worker;
  private readonly stopFlag: StopFlag = newStopFlag();
  /** [rows on disk, rows buffered], kept current by the collector's writer. */
  readonly stats = new Float64Array(new SharedArrayBuffer(16));
  private readonly finished: Promise<void>;
  private readonly outputPath: string;

  constructor(
    readonly name: CollectorName,
    sources: Source[],
    input: Omit<WorkerInput, 'stopFlag'>,
    private readonly agentRow: (row: AgentEventRow) => void,
    private readonly log: (line: string) => void,
    onSettled: () => void,
  ) {
    this.outputPath = input.outputPath;
    this.started = new Promise((resolve) => (this.markStarted = resolve));
    this.summary = { status: 'ok', reason: null, rows: 0, errors: [], end: null, file: input.outputPath.split('/').pop()!, sources };
    const ports = [...(input.upstream ? [input.upstream] : []), ...(input.downstream ?? [])];
    const data = { ...input, stopFlag: this.stopFlag, stats: this.stats };
    // In the bundle, a built-in collector's worker is its own script with the collector built in (one file, CommonJS: the cheapest start).
    this.worker = input.entry.worker
      ? spawnWorkerScript(input.entry.worker, data, ports, COLLECTOR_WORKER_OPTIONS)
      : spawnModuleWorker(import.meta.url, 'collector-worker', data, ports, COLLECTOR_WORKER_OPTIONS);
    this.finished = new Promise<void>((resolve) => {
      const settle = () => {
        if (this.done) return;
        this.done = true;
        this.markStarted();
        resolve();
        onSettled();
      };
      this.worker.on('message', (msg: FromWorker) => this.onMessage(msg, settle));
      this.worker.on('error', (err) => {
        this.fail(`worker crashed: ${err.message}`, countLines(this.outputPath));
        settle();
      });
      this.worker.on('exit', (code) => {
        if (!this.done) this.fail(`worker exited with code ${code} without reporting`, countLines(this.outputPath));
        settle();
      });
    });
    log(`${name}: started -> ${this.summary.file}`);
  }

  private onMessage(msg: FromWorker, settle: () => void): void {
    const s = this.summary;
    switch (msg.type) {
      case 'started':
        this.markStarted();
        this.agentRow({ event: 'collector_started', collector: this.name, message: null });
        if (msg.tid !== undefined) this.log(`${this.name}: recording on thread ${msg.tid}`);
        break;
      case 'error':
        if (s.errors.length <= MAX_REPORTED) s.errors.push(msg.message); // the worker bounds them (error-budget.ts): its last says how many more there were
        this.agentRow({ event: 'collector_error', collector: this.name, message: msg.message });
        break;
      case 'done':
        Object.assign(s, { rows: msg.rows, end: msg.end, detail: msg.detail });
        // No silent collector: one that wrote nothing, or nothing but nulls, has failed.
        if (msg.rows === 0) this.fail('wrote no rows', 0);
        else if (msg.valueRows === 0) this.fail(`every one of its ${msg.rows} rows had null metrics`, msg.rows);
        this.agentRow({ event: 'collector_ended', collector: this.name, message: msg.end });
        this.log(`${this.name}: ended (${msg.end}), ${msg.rows} rows`);
        settle();
        break;
      case 'failed':
        this.fail(msg.message, msg.rows || countLines(this.outputPath));
        settle();
        break;
    }
  }

  private fail(reason: string, rows: number): void {
    if (this.summary.status === 'failed') return;
    Object.assign(this.summary, { status: 'failed', reason, rows, end: this.summary.end ?? 'failed' });
    this.agentRow({ event: 'collector_failed', collector: this.name, message: reason });
    this.log(`${this.name}: failed: ${reason}`);
  }

  /** Asks the collector to stop; terminates it after STOP_GRACE_MS. */
  async stop(): Promise<void> {
    if (!this.done) {
      raiseStopFlag(this.stopFlag);
      this.worker.postMessage({ type: 'stop' });
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_GRACE_MS)));
    const outcome = await Promise.race([this.finished, late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      await this.worker.terminate();
      this.fail(`did not stop within ${STOP_GRACE_MS} ms; terminated`, countLines(this.outputPath));
    }
  }
}
