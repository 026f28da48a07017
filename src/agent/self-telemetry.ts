// The agent measuring itself: every second a row with its CPU (all threads:
// process.cpuUsage covers the workers) and memory, and each collector's rows
// on disk and still buffered (read from the counters its writer shares).
import type { EpisodeClock } from '../clock/origin.js';
import type { JsonlWriter } from '../rows/jsonl-writer.js';
import { KeptFile } from '../util/kept-file.js';
import type { CollectorRun } from './collector-run.js';

const PERIOD_MS = 1000;
/** /proc/self/status is about 1.5 KiB. */
const STATUS_MAX = 64 * 1024;

/**
 * The agent's resident memory, or why not: Node reads it from /proc/self/stat (uv_resident_set_memory), which needs a
 * descriptor, so an agent out of descriptors (EMFILE) threw here and died; its row says so instead.
 */
export function readRss(rss: () => number = () => process.memoryUsage.rss()): number | { reason: string } {
  try {
    return rss();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { reason: `${e.code ?? 'error'} reading the agent's resident memory (process.memoryUsage.rss(): ${e.message})` };
  }
}

export class SelfTelemetry {
  private timer: NodeJS.Timeout | undefined;
  private runs: CollectorRun[] = [];
  private readonly cpu0 = process.cpuUsage();
  private lastCpuUs = 0;
  private lastAt = performance.now();
  private peakRss = 0;
  /**
   * /proc/self/status, opened now and read again at the end for VmHWM: the peak the kernel saw, between rows too,
   * with no descriptor needed then (an agent out of descriptors still has it). Not getrusage's ru_maxrss, which a
   * process keeps across fork and exec: it would give the peak of whatever started labtel (a Python or npm parent).
   */
  private readonly status = new KeptFile('/proc/self/status');

  constructor(
    private readonly writer: JsonlWriter,
    private readonly clock: EpisodeClock,
  ) {
    this.status.read(STATUS_MAX);
  }

  start(runs: CollectorRun[]): void {
    this.runs = runs;
    this.row();
    this.timer = setInterval(() => this.row(), PERIOD_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.timer) this.row(); // the stop's cost too
    this.timer = undefined;
  }

  /**
   * CPU seconds, and the peak resident memory of this process (VmHWM; exec reset it, so a parent's does not count),
   * never below the largest rss_bytes a row read; null when neither could be read (with why).
   */
  totals(): { cpu_s: number; peak_rss_bytes: number | null; peak_rss_null_reason?: string } {
    const u = process.cpuUsage(this.cpu0);
    const rss = readRss();
    if (typeof rss === 'number') this.peakRss = Math.max(this.peakRss, rss);
    const status = this.status.read(STATUS_MAX);
    this.status.close();
    const hwm = 'code' in status ? null : /^VmHWM:\s+(\d+) kB$/m.exec(status.text);
    const peak = Math.max(this.peakRss, hwm ? Number(hwm[1]) * 1024 : 0);
    const cpu_s = (u.user + u.system) / 1e6;
    if (peak > 0) return { cpu_s, peak_rss_bytes: peak };
    const why = 'code' in status ? `${status.code} reading /proc/self/status` : 'no VmHWM in /proc/self/status';
    return { cpu_s, peak_rss_bytes: null, peak_rss_null_reason: `${why}, and no row read the agent's resident memory` };
  }

  private row(): void {
    const u = process.cpuUsage(this.cpu0);
    const now = performance.now();
    const cpuUs = u.user + u.system;
    const rss = readRss();
    if (typeof rss === 'number') this.peakRss = Math.max(this.peakRss, rss);
    const collectors: Record<string, { rows: number; queued: number }> = {};
    for (const r of this.runs) collectors[r.name] = { rows: r.stats[0]!, queued: r.stats[1]! };
    this.writer.write('agent', this.clock.now(), {
      cpu_user_s: u.user / 1e6,
      cpu_sys_s: u.system / 1e6,
      cpu_pct: now > this.lastAt ? ((cpuUs - this.lastCpuUs) / 1000 / (now - this.lastAt)) * 100 : 0,
      rss_bytes: typeof rss === 'number' ? rss : null,
      collectors,
    }, typeof rss === 'number' ? undefined : { rss_bytes: rss.reason });
    this.lastCpuUs = cpuUs;
    this.lastAt = now;
  }
}
