// The pcap collector's loop: runs tcpdump on the interface, restarts it with
// capped backoff when it dies (restart-backoff.ts), saves the capture
// (capture-saving.ts), hands each run's packets to the live netflow collector
// (packet-fanout.ts), and writes pcap rows: one per interval (packets, bytes,
// drops: interval-rows.ts) and one per capture event. How a run ends,
// draining on stop, is stop-sequence.ts. This file only assembles them.
// tcpdump runs through setpriv (tcpdump-args.ts): as its unprivileged user
// with CAP_NET_RAW alone, and killed when the thread that started it (this
// collector's worker) dies, the agent SIGKILLed included.
import fs from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import type { EpisodeClock } from '../../clock/origin.js';
import type { CollectorConfigs } from '../../manifest/schema.js';
import type { JsonlWriter } from '../../rows/jsonl-writer.js';
import { CaptureSaving } from './capture-saving.js';
import { describeExit } from './exit-reason.js';
import { IntervalRows } from './interval-rows.js';
import { PacketFanout } from './packet-fanout.js';
import { RestartBackoff } from './restart-backoff.js';
import type { PcapEventRow } from './rows.js';
import { endOfRun, whenStopped } from './stop-sequence.js';
import { captureIdentity } from './capture-identity.js';
import { tcpdumpCaptureArgs, tcpdumpWrapper } from './tcpdump-args.js';
import { TcpdumpRun } from './tcpdump-run.js';

export interface PcapLoopOptions {
  config: CollectorConfigs['pcap'];
  tcpdump: string;
  setpriv: string;
  /** setpriv's argv before tcpdump's (the preflight's); resolved from the config as the preflight does when absent. */
  wrapper?: string[];
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

export async function pcapLoop(o: PcapLoopOptions): Promise<PcapLoopResult> {
  const c = o.config;
  const now = () => o.clock.now();
  const event = (e: PcapEventRow) => o.writer.write('pcap', o.clock.now(), e);
  let run = -1;
  let live: TcpdumpRun | null = null;
  const fanout = new PacketFanout(o.downstream ?? [], { pause: () => live?.pause(), resume: () => live?.resume() });
  const saving = new CaptureSaving({ config: c, episodeDir: o.episodeDir, now, run: () => run, event, reportError: o.reportError });
  const rows = new IntervalRows({ config: c, writer: o.writer, clock: o.clock, run: () => run, live: () => live, savedBytes: () => saving.savedBytes });
  const backoff = new RestartBackoff(o.restartDelayMs);
  let restarts = 0;
  const wrapper = o.wrapper ?? wrapperFor(o.setpriv, c);

  // Interval rows, on the event loop (this collector waits on tcpdump, never blocks its thread).
  const ticker = setInterval(() => rows.tick(), c.interval_ms);
  let end: PcapLoopResult['end'] = 'stopped';
  try {
    while (!o.signal.aborted) {
      run++;
      const argv = [...wrapper, o.tcpdump, ...tcpdumpCaptureArgs(c)];
      let first = true;
      let announced!: () => void;
      const listened = new Promise<void>((resolve) => (announced = resolve));
      let startedAt: number | null = null;
      // The run starts at "listening on", or at its first packet if stdout is read before stderr.
      const announce = () => {
        if (startedAt !== null) return;
        startedAt = now();
        live = t;
        rows.runStarted(startedAt);
        event({ event: 'capture_started', run, at_ns: startedAt, stream_offset: saving.streamOffset, message: null });
        fanout.post({ type: 'run', run, atNs: startedAt });
        fanout.beat(now);
        announced();
      };
      const t: TcpdumpRun = new TcpdumpRun(argv, {
        listening: announce,
        records: (chunk, header) => {
          announce();
          rows.counted(chunk);
          saving.records(chunk.records, header, first);
          fanout.records(chunk.records, first ? header : null);
          first = false;
        },
        stats: (s) => rows.stats(s),
      });
      if (t.pid !== undefined) o.onSpawn?.(t.pid);
      const stopped = whenStopped(o.signal);
      // A stop while tcpdump is still starting ends it there: no run to record.
      const started = await Promise.race([listened.then(() => true), t.exited.then(() => startedAt !== null), stopped.then(() => startedAt !== null)]);
      const { exit, endAt } = await endOfRun(t, started, stopped, now, () => fanout.stopBeating());
      live = null;
      fanout.runEnded();
      rows.runEnded(started, exit.finalStats);
      const why = describeExit(exit, o.signal.aborted);
      if (started) {
        event({ event: 'capture_ended', run, at_ns: endAt, stream_offset: saving.streamOffset, message: why });
        fanout.post({ type: 'end', run, atNs: endAt, reason: why });
      }
      if (exit.streamError) o.reportError?.(`pcap: ${exit.streamError}`);
      if (o.signal.aborted) break;
      if (!fs.existsSync(`/sys/class/net/${c.iface}`)) {
        end = 'interface_gone';
        o.reportError?.(`pcap: interface ${c.iface} is gone (${why}); the capture ends`);
        break;
      }
      o.reportError?.(`pcap: ${why}; restarting in ${backoff.delayMs} ms`);
      restarts++;
      if (!(await backoff.wait(o.signal))) break;
      backoff.next(started ? endAt - startedAt! : null);
    }
  } finally {
    clearInterval(ticker);
    fanout.stopBeating();
    if (run >= 0) rows.last();
    rows.close();
    fanout.post({ type: 'close' });
    o.writer.flush();
    saving.close(); // (its fsync last: netflow and the rows do not wait for the disk)
  }
  return { end, valueRows: rows.valueRows, restarts, packets: rows.pktsTotal, savedBytes: saving.savedBytes, savingStopped: saving.stopped };
}

function wrapperFor(setpriv: string, c: CollectorConfigs['pcap']): string[] {
  const id = captureIdentity(c.user, c.iface);
  if ('error' in id) throw new Error(id.error);
  return tcpdumpWrapper(setpriv, id);
}
