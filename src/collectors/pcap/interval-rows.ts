// The pcap collector's interval rows: every interval_ms, packets and bytes
// since the last row, and tcpdump's own counts (received by the filter,
// dropped by the kernel and the interface), asked with SIGUSR1 and summed
// over every run so far. A count tcpdump did not give in time is null with
// the reason; so are packets and bytes of an interval tcpdump did not run in.
// Each row also carries the interface's own counters, read as it is written
// (iface-counters.ts, through descriptors of /proc/self/net/dev and
// dev_snmp6/<iface> kept until the capture ends): null with the reason when there are none to read. The
// tx queues' capacity is the last read of it (iface-queue.ts: read again
// when the ifindex changes and at least every QUEUE_REREAD_MS).
import type { EpisodeClock } from '../../clock/origin.js';
import type { CollectorConfigs } from '../../manifest/schema.js';
import type { JsonlWriter } from '../../rows/jsonl-writer.js';
import { IF_COUNTERS, IfaceFiles, readIfaceCounters, type IfaceReading } from './iface-counters.js';
import { readTxQueueFrames, TxQueueFrames } from './iface-queue.js';
import type { WalkedChunk } from './record-walker.js';
import type { TcpdumpRun } from './tcpdump-run.js';
import type { TcpdumpStats } from './tcpdump-stats.js';

const ZERO: TcpdumpStats = { captured: 0, received: 0, kernelDrops: 0, ifDrops: 0, atExit: true };
const add = (a: TcpdumpStats, b: TcpdumpStats): TcpdumpStats => ({
  captured: a.captured + b.captured,
  received: a.received + b.received,
  kernelDrops: a.kernelDrops + b.kernelDrops,
  ifDrops: a.ifDrops + b.ifDrops,
  atExit: a.atExit && b.atExit,
});

export interface IntervalRowsOptions {
  config: Pick<CollectorConfigs['pcap'], 'keep_pcap' | 'iface'>;
  writer: JsonlWriter;
  clock: EpisodeClock;
  /** The current run (-1 before the first). */
  run: () => number;
  /** The tcpdump capturing now, if one is. */
  live: () => TcpdumpRun | null;
  savedBytes: () => number | null;
  /** For tests: reads the interface's counters (default: readIfaceCounters of config.iface). */
  readIface?: () => IfaceReading;
  /** For tests: reads the frames the interface's tx queues can hold (default: readTxQueueFrames of config.iface). */
  readQueue?: (ifindex: number) => number | { why: string };
}

export class IntervalRows {
  /** Rows with measured packet counts (tcpdump ran in the interval). */
  valueRows = 0;
  pktsTotal = 0;
  private pkts = 0;
  private bytes = 0;
  private ranInInterval = false;
  private lastRowAt: number | null = null; // the first row's interval starts with the first capture
  private readonly doneRuns: TcpdumpStats[] = [];
  private runStats: TcpdumpStats | null = null;
  private statsAsked = false;
  // Runs that ended without their final statistics (killed): their drops after the last answer are unknown.
  private incompleteRuns = 0;

  /** /proc/self/net's dev and dev_snmp6/<iface>, kept open between rows (iface-counters.ts). */
  private readonly files: IfaceFiles;
  /** The tx queues' capacity, read again only when it may have changed (iface-queue.ts). */
  readonly queue: TxQueueFrames;

  constructor(private readonly o: IntervalRowsOptions) {
    this.files = new IfaceFiles(o.config.iface);
    this.queue = new TxQueueFrames(o.readQueue ?? ((ifindex) => readTxQueueFrames(o.config.iface, ifindex)));
  }

  /** The descriptor kept for the counters is closed: after the last row. */
  close(): void {
    this.files.close();
  }

  counted(chunk: WalkedChunk): void {
    this.pkts += chunk.packets;
    this.bytes += chunk.wireBytes;
    this.pktsTotal += chunk.packets;
  }

  runStarted(at: number): void {
    this.ranInInterval = true;
    this.lastRowAt ??= at;
  }

  /** Each interval_ms: the row of the interval whose statistics never came, and SIGUSR1 for the next. */
  tick(): void {
    const live = this.o.live();
    if (this.statsAsked) {
      this.statsAsked = false;
      this.row(false, live ? 'tcpdump did not answer SIGUSR1 within the interval' : 'tcpdump ended before it answered SIGUSR1');
      if (!live) return; // one row for this interval
    }
    if (live && live.requestStats()) this.statsAsked = true;
    else this.row(false, 'tcpdump was not running');
  }

  /** tcpdump's statistics for the current run: the answer to SIGUSR1 writes the row. */
  stats(s: TcpdumpStats): void {
    this.runStats = s;
    if (this.statsAsked) {
      this.statsAsked = false;
      this.row(true, null);
    }
  }

  runEnded(started: boolean, finalStats: boolean): void {
    if (this.runStats) this.doneRuns.push(this.runStats);
    if (started && !finalStats) this.incompleteRuns++;
    this.runStats = null;
  }

  /** The last row: tcpdump's statistics at exit, and what came since the last row. */
  last(): void {
    this.row(this.doneRuns.length > 0, 'tcpdump printed no statistics');
  }

  private row(fresh: boolean, why: string | null): void {
    const o = this.o;
    const now = o.clock.now();
    const running = o.live() !== null;
    const reasons: Record<string, string> = {};
    const total = fresh ? [...this.doneRuns, ...(this.runStats ? [this.runStats] : [])].reduce(add, ZERO) : null;
    if (!total) for (const k of ['filter_received', 'kernel_drops', 'if_drops']) reasons[k] = why ?? 'no statistics from tcpdump';
    if (!this.ranInInterval) reasons.pkts = reasons.bytes = 'tcpdump was not running in this interval';
    if (!o.config.keep_pcap) reasons.saved_bytes = 'keep_pcap is false';
    const iface = o.readIface ? o.readIface() : readIfaceCounters(o.config.iface, undefined, this.files);
    const ifFields: Record<string, number | null> = { if_ifindex: 'why' in iface ? null : iface.ifindex };
    if ('why' in iface) reasons.if_ifindex = iface.why;
    else if (iface.ifindex === null) reasons.if_ifindex = iface.ifindexWhy ?? 'not read';
    // The queues' capacity, only for an interface known by its ifindex (sysfs is checked against it).
    if ('why' in iface || iface.ifindex === null) this.queue.forget();
    const queue = 'why' in iface ? iface : iface.ifindex === null ? { why: `${reasons.if_ifindex}: sysfs cannot be checked against it` } : this.queue.get(iface.ifindex, now);
    ifFields.if_tx_queue_frames = typeof queue === 'number' ? queue : null;
    if (typeof queue !== 'number') reasons.if_tx_queue_frames = queue.why;
    for (const c of IF_COUNTERS) {
      const v = 'why' in iface ? null : iface.values[c];
      ifFields[`if_${c}`] = v;
      if (v === null) reasons[`if_${c}`] = 'why' in iface ? iface.why : iface.reasons[c] ?? 'not read';
    }
    o.writer.write(
      'pcap',
      now,
      {
        run: Math.max(o.run(), 0),
        interval_s: (now - (this.lastRowAt ?? now)) / 1e9,
        tcpdump_running: running,
        pkts: this.ranInInterval ? this.pkts : null,
        bytes: this.ranInInterval ? this.bytes : null,
        pkts_total: this.pktsTotal,
        filter_received: total?.received ?? null,
        kernel_drops: total?.kernelDrops ?? null,
        if_drops: total?.ifDrops ?? null,
        drops_lower_bound: this.incompleteRuns > 0,
        saved_bytes: o.savedBytes(),
        ...ifFields,
      },
      Object.keys(reasons).length ? reasons : undefined,
    );
    this.lastRowAt = now;
    if (this.ranInInterval) this.valueRows++;
    this.pkts = this.bytes = 0;
    this.ranInInterval = running;
  }
}
