// The live netflow collector's loop: the pcap collector's packet stream in
// (see pcap/packet-stream.ts), one LiveSeries per tcpdump run, rows out as
// buckets close. On stop it waits for the pcap collector to end the stream
// (its last run ends after the capture drained), so the last bucket is
// whole up to the stop and then marked partial.
import type { MessagePort } from 'node:worker_threads';
import type { EpisodeClock } from '../../clock/origin.js';
import type { CollectorConfigs } from '../../manifest/schema.js';
import type { JsonlWriter } from '../../rows/jsonl-writer.js';
import type { PacketStreamAck, PacketStreamMessage } from '../pcap/packet-stream.js';
import { LiveSeries } from './live-series.js';

/** How long a stopped netflow waits for the pcap collector to close the stream. */
export const CLOSE_WAIT_MS = 4000;

export interface NetflowLoopOptions {
  config: CollectorConfigs['netflow'];
  upstream: MessagePort;
  writer: JsonlWriter;
  clock: EpisodeClock;
  signal: AbortSignal;
  reportError?: (message: string) => void;
}

export interface NetflowLoopResult {
  end: 'stopped' | 'stream_closed' | 'stream_not_closed';
  runs: number;
  packets: number;
  packetsAfterEnd: number;
}

export async function netflowLoop(o: NetflowLoopOptions): Promise<NetflowLoopResult> {
  const c = o.config;
  const options = {
    bucketMs: c.bucket_ms,
    latenessMs: c.lateness_ms,
    guestIp: c.guest_ip,
    guestMac: c.guest_mac,
    bridgeIp: c.bridge_ip,
    maxEmptyBuckets: c.max_empty_buckets,
    originWallNs: o.clock.realtimeMinusMonoNs + o.clock.originNs,
  };
  let series: LiveSeries | null = null;
  let runs = 0;
  let packets = 0;
  let packetsAfterEnd = 0;
  let failedRun = -1;
  let run = -1;
  const ack = (bytes: number) => o.upstream.postMessage({ type: 'ack', bytes } satisfies PacketStreamAck);
  const check = () => {
    const s = series!.status();
    if (!s.ok && failedRun !== run) {
      failedRun = run;
      o.reportError?.(`netflow: the capture stream of run ${run} is bad at byte ${s.errorOffset}: ${s.error}`);
    }
  };
  const finish = (atNs: number) => {
    if (!series) return;
    const e = series.end(atNs);
    packets += e.status.packets;
    packetsAfterEnd += e.packetsAfterEnd;
    series = null;
  };

  const closed = new Promise<'closed'>((resolve) => {
    o.upstream.on('message', (m: PacketStreamMessage) => {
      switch (m.type) {
        case 'run':
          finish(m.atNs); // a run that never said it ended (it should): end it where the next begins
          series = new LiveSeries(o.writer, options, m.atNs);
          run = m.run;
          runs++;
          break;
        case 'data':
          if (series) {
            series.feed(m.bytes);
            check();
          }
          ack(m.bytes.byteLength);
          break;
        case 'now':
          series?.advance(m.atNs);
          break;
        case 'end':
          finish(m.atNs);
          break;
        case 'close':
          resolve('closed');
          break;
      }
      o.writer.flushIfDue();
    });
    o.upstream.once('close', () => resolve('closed'));
  });
  const stopped = new Promise<'stopped'>((resolve) => {
    if (o.signal.aborted) resolve('stopped');
    o.signal.addEventListener('abort', () => resolve('stopped'), { once: true });
  });

  let end: NetflowLoopResult['end'] = (await Promise.race([closed, stopped])) === 'closed' ? 'stream_closed' : 'stopped';
  if (end === 'stopped') {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), CLOSE_WAIT_MS)));
    if ((await Promise.race([closed, late])) === 'late') {
      end = 'stream_not_closed';
      o.reportError?.(`netflow: the pcap collector did not end its stream within ${CLOSE_WAIT_MS} ms of the stop; the last run ends now`);
    }
    clearTimeout(timer);
  }
  finish(o.clock.now());
  o.upstream.close();
  return { end, runs, packets, packetsAfterEnd };
}
