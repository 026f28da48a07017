import fs from 'node:fs';
import path from 'node:path';
import type { Collector } from '../types.js';
import { unsafeSocketDir } from '../../util/unix-listen.js';
import { agentPreflight } from '../../libvirt/probe.js';

export const guestAgent: Collector<'guest_agent'> = {
  async probe(config) {
    if (!config) return { available: true, reason: 'needs the guest channel (collectors.guest_agent.socket), or a libvirt domain with the guest agent\'s channel (protocol qga)' };
    if (config.libvirt) return agentPreflight(config.libvirt);
    if (config.socket === undefined) return { available: false, reason: 'no guest channel: name collectors.guest_agent.socket' };
    if (config.mode === 'listen') {
      const dir = path.dirname(path.resolve(config.socket));
      if (!fs.existsSync(dir)) return { available: false, reason: `cannot listen on ${config.socket}: ${dir} does not exist` };
      const unsafe = unsafeSocketDir(config.socket);
      if (unsafe) return { available: false, reason: `refusing to listen on ${config.socket}: ${unsafe}` };
      return { available: true, reason: `listens on ${config.socket} for QEMU (protocol ${config.protocol})` };
    }
    let st: fs.Stats;
    try {
      st = fs.statSync(config.socket);
    } catch (err) {
      return { available: false, reason: `guest channel ${config.socket}: ${(err as NodeJS.ErrnoException).code}` };
    }
    if (!st.isSocket()) return { available: false, reason: `guest channel ${config.socket} is not a socket` };
    return { available: true, reason: `connects to ${config.socket} (protocol ${config.protocol})` };
  },
  async run(ctx) {
    // The run loop is loaded on the collector's worker only: the agent's thread imports this module to probe.
    const { guestLoop } = await import('./run-loop.js');
    const r = await guestLoop({
      config: ctx.config,
      libvirt: ctx.config.libvirt,
      pid: ctx.target.pidfile ? null : ctx.target.pid,
      writer: ctx.writer,
      clock: ctx.clock,
      signal: ctx.signal,
      reportError: ctx.reportError,
    });
    return { end: r.end, valueRows: r.valueRows, detail: { ...r.counters, disabled: r.disabled } };
  },
};
