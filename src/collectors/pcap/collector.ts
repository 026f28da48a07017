import type { Collector } from '../types.js';
import { describeIdentity } from './capture-identity.js';
import { isPcapHandoff, pcapHandoff, pcapPreflight } from './preflight.js';

export const pcap: Collector<'pcap'> = {
  async probe(config) {
    // Filled from a libvirt domain before the probe when the manifest leaves it out; a library caller may not have.
    if (config && config.iface === undefined) return { available: false, reason: 'no interface: name collectors.pcap.iface' };
    const p = pcapPreflight(config);
    if (p.error) return { available: false, reason: p.error };
    if (!config) return { available: true, reason: `tcpdump at ${p.tcpdump}` };
    return { available: true, reason: `tcpdump at ${p.tcpdump} can capture on ${config.iface} as ${describeIdentity(p.identity!)}`, handoff: pcapHandoff(p) };
  },
  async run(ctx) {
    // The agent's probe with this config checked it all (and started tcpdump twice to do so): not again here.
    const p = isPcapHandoff(ctx.preflight) ? ctx.preflight : pcapPreflight(ctx.config);
    if ('error' in p && p.error) throw new Error(p.error);
    // The run loop is loaded on the collector's worker only: the agent's thread imports this module to probe.
    const { pcapLoop } = await import('./run-loop.js');
    const r = await pcapLoop({
      config: ctx.config,
      tcpdump: p.tcpdump!,
      setpriv: p.setpriv!,
      wrapper: p.wrapper!,
      episodeDir: ctx.episodeDir,
      writer: ctx.writer,
      clock: ctx.clock,
      signal: ctx.signal,
      downstream: ctx.downstream,
      reportError: ctx.reportError,
    });
    return {
      end: r.end,
      valueRows: r.valueRows,
      detail: { restarts: r.restarts, packets: r.packets, saved_bytes: r.savedBytes, saving_stopped: r.savingStopped },
    };
  },
};
