import type { Collector } from '../types.js';
import { netflowLoop } from './live-loop.js';

export const netflow: Collector<'netflow'> = {
  name: 'netflow',
  sources: ['netflow'],
  availableInDeployment: true,
  needs: 'pcap',
  async probe() {
    return { available: true, reason: "buckets the pcap collector's live capture (labtel bucketize does stored captures)" };
  },
  async run(ctx) {
    if (!ctx.upstream) throw new Error("live netflow buckets the pcap collector's packets, and no pcap collector runs in this episode");
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
