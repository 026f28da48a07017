import type { Collector } from '../types.js';
import { qmpPreflight } from './preflight.js';
import { monitorPreflight } from '../../libvirt/probe.js';

export const qmp: Collector<'qmp'> = {
  async probe(config) {
    if (!config) return { available: true, reason: 'needs a QMP socket (collectors.qmp.socket) or a libvirt domain (collectors.qmp.libvirt, target.libvirt_domain)' };
    if (config.libvirt) {
      const l = await monitorPreflight(config.libvirt);
      return 'error' in l ? { available: false, reason: l.error } : { available: true, reason: l.reason };
    }
    if (config.socket === undefined) return { available: false, reason: 'no QMP socket: name collectors.qmp.socket (or collectors.qmp.libvirt)' };
    const p = await qmpPreflight(config.socket);
    if (p.error) return { available: false, reason: p.error };
    return { available: true, reason: `QEMU ${p.qemu ?? '(version unknown)'} answers on ${config.socket}${p.missing.length ? `; it lacks ${p.missing.join(', ')}` : ''}` };
  },
  async run(ctx) {
    // The run loop is loaded on the collector's worker only: the agent's thread imports this module to probe.
    const { qmpLoop } = await import('./run-loop.js');
    const r = await qmpLoop({
      socket: ctx.config.socket,
      libvirt: ctx.config.libvirt,
      intervalMs: ctx.config.interval_ms,
      pid: ctx.target.pidfile ? null : ctx.target.pid,
      writer: ctx.writer,
      clock: ctx.clock,
      signal: ctx.signal,
      reportError: ctx.reportError,
      maxEventsPerS: ctx.config.max_events_per_s,
      maxEventBytesPerS: ctx.config.max_event_bytes_per_s,
    });
    return {
      end: r.end,
      valueRows: r.valueRows,
      detail: {
        qemu: r.qemuVersion,
        connections: r.connections,
        events: r.events,
        events_dropped: r.eventsDropped,
        events_dropped_by: r.eventsDroppedBy,
        problems: r.problems,
        rows_cut: r.rowsCut,
      },
    };
  },
};
