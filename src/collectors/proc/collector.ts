import fs from 'node:fs';
import { nativeStatus } from '../../native/addon.js';
import type { Collector } from '../types.js';

export const proc: Collector<'proc'> = {
  async probe() {
    if (!fs.existsSync('/proc/self/stat')) return { available: false, reason: '/proc is not mounted' };
    const n = nativeStatus();
    return { available: true, reason: n.available ? 'native sampler' : 'pure-TS sampler (the addon is not loaded)' };
  },
  async run(ctx) {
    // The run loop is loaded on the collector's worker only: the agent's thread imports this module to probe.
    const { procLoop } = await import('./run-loop.js');
    const { CgroupSampler } = await import('./cgroup-loop.js');
    const cgroup = ctx.config.cgroup ? new CgroupSampler({ writer: ctx.writer, clock: ctx.clock, intervalMs: ctx.config.cgroup_interval_ms }) : null;
    const r = await procLoop({
      pid: ctx.target.pid,
      pidfile: ctx.target.pidfile,
      follow: { exe: ctx.target.exe, executables: ctx.target.executables, qmpSocket: ctx.target.qmp_socket, uuid: ctx.target.libvirt?.uuid, onRefused: ctx.reportError },
      writer: ctx.writer,
      clock: ctx.clock,
      intervalMs: ctx.config.interval_ms,
      threads: ctx.config.threads,
      vcpuThreads: ctx.target.vcpu_threads,
      ioThreads: ctx.target.io_threads,
      signal: ctx.signal,
      stopFlag: ctx.stopFlag,
      // LABTEL_PROC_BATCH=0: one JS tick per row where the native batch loop would run (bench:proc measures both in one run).
      batch: process.env.LABTEL_PROC_BATCH !== '0',
      onError: ctx.reportError,
      beside: cgroup ? (target) => cgroup.beside(target) : undefined,
    }).finally(() => cgroup?.close());
    return { end: r.end, valueRows: r.rowsWithValues, detail: { sampler: r.sampler, pidfile_refused: r.pidfileRefused, thread_list_failures: r.threadListFailures, thread_fd_exhausted: r.threadFdExhausted, cgroup_rows: cgroup?.rows ?? null } };
  },
};
