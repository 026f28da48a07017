// The pcap collector's loop: runs tcpdump on the interface, restarts it with
// capped backoff when it dies, saves the capture, hands each run's packets
// to the live netflow collector, and writes pcap rows: one per interval
// (packets, bytes, drops) and one per capture event. On stop, tcpdump keeps
// capturing DRAIN_MS so that the kernel hands over every packet from before
// the stop (its ring delivers blocks up to 1 s late), then gets SIGTERM.
import fs from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EpisodeClock } from '../../clock/origin.js';
import type { CollectorConfigs } from '../../manifest/schema.js';
import type { JsonlWriter } from '../../rows/jsonl-writer.js';
import { CaptureFiles } from './capture-files.js';
import { DRAIN_MS, MAX_UNACKED_BYTES, type PacketStreamAck, type PacketStreamMessage } from './packet-stream.js';
import { PCAP_HEADER_BYTES, type WalkedChunk } from './record-walker.js';
import type { PcapEventRow } from './rows.js';
import { tcpdumpCaptureArgs } from './tcpdump-args.js';
import { TcpdumpRun, type TcpdumpExit } from './tcpdump-run.js';
import type { TcpdumpStats } from './tcpdump-stats.js';

const HEARTBEAT_MS = 50;
const MIB = 1 << 20;

export interface PcapLoopOptions {
  config: CollectorConfigs['pcap'];
  tcpdump: string;
  setpriv: string;
  episodeDir: string;
  writer: JsonlWriter;
  clock: EpisodeClock;
  signal: AbortSignal;
  downstream?: MessagePort[];
  reportError?: (message: string) => void;
  /** For tests: the backoff before the first restart, ms (doubles up to 8 s). */
  restartDelayMs?: number;
  /** For tests: told each tcpdump's pid as it starts. */
  onSpawn?: (pid: number) => void;
}

export interface PcapLoopResult {
  end: 'stopped' | 'interface_gone';
  /** Interval rows with measured packet counts (tcpdump ran in the interval). */
  valueRows: number;
  restarts: number;
  packets: number;
  savedBytes: number | null;
  savingStopped: string | null;
}

const ZERO: TcpdumpStats = { captured: 0, received: 0, kernelDrops: 0, ifDrops: 0, atExit: true };
const add = (a: TcpdumpStats, b: TcpdumpStats): TcpdumpStats => ({
  captured: a.captured + b.captured,
  received: a.received + b.received,
  kernelDrops: a.kernelDrops + b.kernelDrops,
  ifDrops: a.ifDrops + b.ifDrops,
  atExit: a.atExit && b.atExit,
});

export async function pcapLoop(o: PcapLoopOptions): Promise<PcapLoopResult> {
  const c = o.config;
  const w = o.writer;
  const down = [...(o.downstream ?? [])];
  const post = (m: PacketStreamMessage, transfer?: ArrayBuffer[]) => {
    for (const p of down) p.postMessage(m, transfer && down.length === 1 ? transfer : undefined);
  };
  // Bytes each consumer has not acknowledged: reading pauses while the slowest is MAX_UNACKED_BYTES behind.
  const unacked = new Map<MessagePort, number>(down.map((p) => [p, 0]));
  let paused = false;
  let live: TcpdumpRun | null = null;
  const maybeResume = () => {
    if (paused && Math.max(0, ...unacked.values()) < MAX_UNACKED_BYTES / 2) {
      paused = false;
      live?.resume();
    }
  };
  for (const p of down) {
    p.on('message', (m: PacketStreamAck) => {
      unacked.set(p, (unacked.get(p) ?? 0) - m.bytes);
      maybeResume();
    });
    // A consumer that is gone (netflow failed) must not hold the capture back.
    p.once('close', () => {
      down.splice(down.indexOf(p), 1);
      unacked.delete(p);
      maybeResume();
    });
  }

  let files = null as CaptureFiles | null; // (not narrowed: assigned in callbacks)
  let savingStopped: string | null = null;
  let firstHeader: Buffer | null = null;
  let streamOffset = PCAP_HEADER_BYTES; // the first header counts once; every record after it
  let run = -1;
  let restarts = 0;
  let delay = o.restartDelayMs ?? 500;
  // Interval accounting.
  let pkts = 0;
  let bytes = 0;
  let pktsTotal = 0;
  let valueRows = 0;
  let ranInInterval = false;
  let lastRowAt: number | null = null; // the first row's interval starts with the first capture
  const doneRuns: TcpdumpStats[] = [];
  let runStats: TcpdumpStats | null = null;
  let statsAsked = false;
  // Runs that ended without their final statistics (killed): their drops after the last answer are unknown.
  let incompleteRuns = 0;

  const event = (e: PcapEventRow) => w.write('pcap', o.clock.now(), e);
  const stopSaving = (why: string) => {
    if (savingStopped) return;
    savingStopped = why;
    event({ event: 'saving_stopped', run, at_ns: o.clock.now(), stream_offset: streamOffset, message: why });
    o.reportError?.(`pcap: saving stopped: ${why}`);
  };
  const intervalRow = (fresh: boolean, why: string | null) => {
    const now = o.clock.now();
    const reasons: Record<string, string> = {};
    const total = fresh ? [...doneRuns, ...(runStats ? [runStats] : [])].reduce(add, ZERO) : null;
    if (!total) for (const k of ['filter_received', 'kernel_drops', 'if_drops']) reasons[k] = why ?? 'no statistics from tcpdump';
    if (!ranInInterval) reasons.pkts = reasons.bytes = 'tcpdump was not running in this interval';
    if (!c.keep_pcap) reasons.saved_bytes = 'keep_pcap is false';
    w.write(
      'pcap',
      now,
      {
        run: Math.max(run, 0),
        interval_s: (now - (lastRowAt ?? now)) / 1e9,
        tcpdump_running: live !== null,
        pkts: ranInInterval ? pkts : null,
        bytes: ranInInterval ? bytes : null,
        pkts_total: pktsTotal,
        filter_received: total?.received ?? null,
        kernel_drops: total?.kernelDrops ?? null,
        if_drops: total?.ifDrops ?? null,
        drops_lower_bound: incompleteRuns > 0,
        saved_bytes: c.keep_pcap ? (files?.savedBytes ?? 0) : null,
      },
      Object.keys(reasons).length ? reasons : undefined,
    );
    lastRowAt = now;
    if (ranInInterval) valueRows++;
    pkts = bytes = 0;
    ranInInterval = live !== null;
  };

  const onRecords = (chunk: WalkedChunk, header: Buffer, first: boolean) => {
    pkts += chunk.packets;
    bytes += chunk.wireBytes;
    pktsTotal += chunk.packets;
    if (first) {
      if (!firstHeader) {
        firstHeader = Buffer.from(header);
        if (c.keep_pcap) files = new CaptureFiles(o.episodeDir, firstHeader, c.rotate_mb * MIB, c.max_total_mb * MIB);
      } else if (!header.equals(firstHeader)) {
        stopSaving(`tcpdump's stream header changed in run ${run} (${header.toString('hex')} after ${firstHeader.toString('hex')}); the files end before it`);
      }
    }
    if (files && !savingStopped && !files.write(chunk.records)) stopSaving(files.stopped!);
    streamOffset += chunk.records.length;
    if (down.length) {
      // The bytes are copied out of the stream's buffer; the first message of a run carries its header.
      const out = new Uint8Array((first ? header.length : 0) + chunk.records.length);
      if (first) out.set(header, 0);
      out.set(chunk.records, first ? header.length : 0);
      for (const p of down) unacked.set(p, (unacked.get(p) ?? 0) + out.length);
      post({ type: 'data', bytes: out }, [out.buffer]);
      if (!paused && Math.max(0, ...unacked.values()) > MAX_UNACKED_BYTES) {
        paused = true;
        live?.pause();
      }
    }
  };

  // Interval rows, on the event loop (this collector waits on tcpdump, never blocks its thread).
  const ticker = setInterval(() => {
    if (statsAsked) {
      statsAsked = false;
      intervalRow(false, live ? 'tcpdump did not answer SIGUSR1 within the interval' : 'tcpdump ended before it answered SIGUSR1');
      if (!live) return; // one row for this interval
    }
    if (live && live.requestStats()) statsAsked = true;
    else intervalRow(false, 'tcpdump was not running');
  }, c.interval_ms);
  let heartbeat: NodeJS.Timeout | undefined;

  let end: PcapLoopResult['end'] = 'stopped';
  try {
    while (!o.signal.aborted) {
      run++;
      const argv = [o.setpriv, '--pdeathsig', 'KILL', '--', o.tcpdump, ...tcpdumpCaptureArgs(c)];
      let first = true;
      let announced!: () => void;
      const listened = new Promise<void>((resolve) => (announced = resolve));
      let startedAt: number | null = null;
      // The run starts at "listening on", or at its first packet if stdout is read before stderr.
      const announce = () => {
        if (startedAt !== null) return;
        startedAt = o.clock.now();
        live = t;
        ranInInterval = true;
        lastRowAt ??= startedAt;
        event({ event: 'capture_started', run, at_ns: startedAt, stream_offset: streamOffset, message: null });
        post({ type: 'run', run, atNs: startedAt });
        heartbeat = setInterval(() => {
          if (!paused) post({ type: 'now', atNs: o.clock.now() });
        }, HEARTBEAT_MS);
        announced();
      };
      const t: TcpdumpRun = new TcpdumpRun(argv, {
        listening: announce,
        records: (chunk, header) => {
          announce();
          onRecords(chunk, header, first);
          first = false;
        },
        stats: (s) => {
          runStats = s;
          if (statsAsked) {
            statsAsked = false;
            intervalRow(true, null);
          }
        },
      });
      if (t.pid !== undefined) o.onSpawn?.(t.pid);
      const stopped = new Promise<'stop'>((resolve) => {
        if (o.signal.aborted) resolve('stop');
        o.signal.addEventListener('abort', () => resolve('stop'), { once: true });
      });
      // A stop while tcpdump is still starting ends it there: no run to record.
      const started = await Promise.race([listened.then(() => true), t.exited.then(() => startedAt !== null), stopped.then(() => startedAt !== null)]);
      let exit: TcpdumpExit;
      let endAt: number;
      if (started) {
        const ended = await Promise.race([t.exited, stopped]);
        clearInterval(heartbeat);
        if (ended === 'stop') {
          // Everything captured before this instant is delivered within the ring's block timeout.
          endAt = o.clock.now();
          await Promise.race([sleep(DRAIN_MS), t.exited]);
          t.stop();
          exit = await t.exited;
        } else {
          exit = ended;
          endAt = o.clock.now();
        }
      } else {
        t.stop(); // (if the stop came first)
        exit = await t.exited;
        endAt = o.clock.now();
      }
      live = null;
      paused = false;
      if (runStats) doneRuns.push(runStats);
      if (started && !exit.finalStats) incompleteRuns++;
      runStats = null;
      const why = describeExit(exit, o.signal.aborted);
      if (started) {
        event({ event: 'capture_ended', run, at_ns: endAt, stream_offset: streamOffset, message: why });
        post({ type: 'end', run, atNs: endAt, reason: why });
      }
      if (exit.streamError) o.reportError?.(`pcap: ${exit.streamError}`);
      if (o.signal.aborted) break;
      if (!fs.existsSync(`/sys/class/net/${c.iface}`)) {
        end = 'interface_gone';
        o.reportError?.(`pcap: interface ${c.iface} is gone (${why}); the capture ends`);
        break;
      }
      o.reportError?.(`pcap: ${why}; restarting in ${delay} ms`);
      restarts++;
      try {
        await sleep(delay, undefined, { signal: o.signal });
      } catch {
        break;
      }
      // A run that captured for a while starts the backoff over; one that keeps dying backs off to 8 s.
      delay = started && endAt - startedAt! > 10e9 ? (o.restartDelayMs ?? 500) : Math.min(delay * 2, 8000);
    }
  } finally {
    clearInterval(ticker);
    clearInterval(heartbeat);
    // The last row: tcpdump's statistics at exit, and what came since the last row.
    if (run >= 0) intervalRow(doneRuns.length > 0, 'tcpdump printed no statistics');
    post({ type: 'close' });
    w.flush();
    files?.close(); // (its fsync last: netflow and the rows do not wait for the disk)
  }
  return { end, valueRows, restarts, packets: pktsTotal, savedBytes: c.keep_pcap ? (files?.savedBytes ?? 0) : null, savingStopped };
}

function describeExit(e: TcpdumpExit, stopping: boolean): string {
  // On SIGTERM tcpdump finishes its loop and exits 0.
  const clean = stopping && (e.signal === 'SIGTERM' || e.how === 'exited with code 0');
  const parts = [clean ? 'stopped' : stopping ? `stopped: tcpdump ${e.how}` : `tcpdump ${e.how}`];
  if (e.said && !clean) parts.push(e.said);
  if (e.cutBytes) parts.push(`its last record was cut short (${e.cutBytes} bytes, not counted)`);
  return parts.join(': ');
}
