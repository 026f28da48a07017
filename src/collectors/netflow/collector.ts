import { DRAIN_MS } from '../pcap/packet-stream.js';
import type { Collector } from '../types.js';

/**
 * Live, a bucket must stay open past the stop's drain: packets captured
 * while tcpdump drains carry later timestamps and would otherwise close
 * buckets beyond the end of the capture.
 */
export const MIN_LIVE_LATENESS_MS = DRAIN_MS + 100;

export const netflow: Collector<'netflow'> = {
  async probe(config) {
    if (config && config.lateness_ms < MIN_LIVE_LATENESS_MS) {
      return {
        available: false,
        reason: `lateness_ms ${config.lateness_ms} is too short for a live capture: tcpdump's kernel ring hands packets over up to 1 s late and a stop drains it for ${DRAIN_MS} ms, so at least ${MIN_LIVE_LATENESS_MS}`,
      };
    }
    return { available: true, reason: "buckets the pcap collector's live capture (labtel bucketize does stored captures)" };
  },
  async run(ctx) {
    if (!ctx.upstream) throw new Error("live netflow buckets the pcap collector's packets, and no pcap collector runs in this episode");
    // The run loop is loaded on the collector's worker only: the agent's thread imports this module to probe.
    const { netflowLoop } = await import('./live-loop.js');
    const r = await netflowLoop({
      config: ctx.config,
      upstream: ctx.upstream,
      writer: ctx.writer,
      clock: ctx.clock,
      signal: ctx.signal,
      reportError: ctx.reportError,
    });
    return {
      end: r.end,
      detail: { runs: r.runs, packets: r.packets, packets_after_end: r.packetsAfterEnd },
    };
  },
};
