import type { Collector } from '../types.js';
import { DEFAULT_PERF_EVENTS } from './default-events.js';
import { adoptPerfHandoff, perfPreflight } from './preflight.js';

export const perf: Collector<'perf'> = {
  async probe() {
    const p = perfPreflight(DEFAULT_PERF_EVENTS);
    if (!p.perf || p.error) return { available: false, reason: p.error ?? 'perf is not installed' };
    const counted = Object.entries(p.events).filter(([, why]) => why === null).map(([e]) => e);
    const not = Object.entries(p.events).filter(([, why]) => why !== null).map(([e]) => e);
    return {
      available: true,
      reason: `perf at ${p.perf}, perf_event_paranoid ${p.paranoid}; counts ${counted.join(', ')}${not.length ? `; not on this host: ${not.join(', ')}` : ''}`,
      handoff: { events: [...DEFAULT_PERF_EVENTS], preflight: p },
    };
  },
  async run(ctx) {
    // The agent's probe ran `perf stat` for the default events: its answer stands for them here (other events are asked again).
    adoptPerfHandoff(ctx.preflight);
    // The run loop is loaded on the collector's worker only: the agent's thread imports this module to probe.
    const { perfLoop } = await import('./run-loop.js');
    const r = await perfLoop({
      pid: ctx.target.pid,
      pidfile: ctx.target.pidfile,
      follow: { exe: ctx.target.exe, executables: ctx.target.executables, qmpSocket: ctx.target.qmp_socket, uuid: ctx.target.libvirt?.uuid },
      writer: ctx.writer,
      clock: ctx.clock,
      intervalMs: ctx.config.interval_ms,
      events: ctx.config.events,
      signal: ctx.signal,
      reportError: ctx.reportError,
    });
    return { end: r.end, valueRows: r.valueRows, detail: { restarts: r.restarts, target_restarts: r.targetRestarts, target_gone_at_ns: r.targetGoneAtNs, pidfile_refused: r.pidfileRefused, preflight: perfPreflight(ctx.config.events) } };
  },
};
