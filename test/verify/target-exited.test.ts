// labtel verify excuses a collector that ended with `target_exited` only
// when the target did not live on. Regression for: with a pidfile target,
// QEMU restarted under a new pid and perf (which ended with the old one)
// stopped while the episode went on; verify called that ok.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyEpisode } from '../../src/verify/verify-episode.js';
import { cleanEpisode, copyOf, editJson, procRows, series, withCollector, type Row } from './crafted-episode.js';

let clean: string;
beforeAll(async () => {
  clean = await cleanEpisode();
});

const secs = (ns: number) => `${(ns / 1e9).toFixed(3)} s`;
const PERF_INTERVAL_MS = 100;

/** Three perf rows every 100 ms from `t0`, then perf ended with the target. */
function perfEnded(dir: string, t0: number): { dir: string; lastT: number } {
  const rows = series('host_perf', 3, t0, PERF_INTERVAL_MS * 1e6, (i) => ({
    pid: process.pid, process_event: i === 0 ? 'started' : null, interval_s: 0.1, perf_interval_s: 0.1 * (i + 1),
    cycles: null, instructions: null, branches: null, branch_misses: null, cache_references: null, cache_misses: null,
    page_faults: 10 + i, context_switches: 3, cpu_clock_ms: 2.5, running_pct: { page_faults: 100 },
  }));
  withCollector(dir, 'perf', { interval_ms: PERF_INTERVAL_MS }, rows, {}, [], { end: 'target_exited' });
  return { dir, lastT: rows.at(-1)!.t_mono_ns as number };
}

const target = (dir: string, t: object) => editJson(dir, 'episode.json', (ep) => void ((ep.manifest as Row).target = t));

/** The proc rows of the clean episode, the target ending at row `k` (an exited row), summary.json agreeing. */
function procExitsAt(dir: string, k: number): number {
  const rows = procRows(dir);
  const exited = { ...rows[k]!, process_event: 'exited', interval_s: null, null_reasons: { state: 'crafted: the target exited' } } as Row;
  for (const key of ['state', 'processor', 'cpu_user_jiffies', 'cpu_sys_jiffies', 'minflt', 'majflt', 'num_threads', 'vsize_bytes', 'rss_bytes', 'shared_bytes', 'text_bytes', 'data_bytes', 'rss_peak_bytes', 'swap_bytes', 'voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches', 'io_rchar', 'io_wchar', 'io_read_bytes', 'io_write_bytes', 'cpu_time_ns', 'run_delay_ns', 'run_periods']) exited[key] = null;
  const kept = [...rows.slice(0, k), exited];
  fs.writeFileSync(path.join(dir, 'telemetry-proc.jsonl'), kept.map((r) => JSON.stringify(r) + '\n').join(''));
  editJson(dir, 'summary.json', (s) => Object.assign((s.collectors as Record<string, Row>).proc!, { rows: kept.length, end: 'target_exited' }));
  return exited.t_mono_ns as number;
}

describe('labtel verify: target_exited is excused only when the target did not live on', () => {
  it('pidfile target: proc saw it restart under a new pid after perf ended: perf failed, naming the pid and the times', () => {
    const base = copyOf(clean);
    const rows = procRows(base);
    expect(rows.length).toBeGreaterThan(15);
    const k = rows.length - 3;
    const restarted = copyOf(clean, (rs) => rs.map((r, i) => (i < k ? r : { ...r, pid: 1234, starttime: 99, process_event: i === k ? 'restarted' : null })));
    target(restarted, { pidfile: '/run/crafted.pid' });
    const { lastT } = perfEnded(restarted, rows[0]!.t_mono_ns as number);
    const tRestart = rows[k]!.t_mono_ns as number;
    expect(tRestart).toBeGreaterThan(lastT);
    expect(verifyEpisode(restarted).collectors.perf).toEqual({
      verdict: 'failed',
      rows: 3,
      reasons: [`perf ended (target_exited) at ${secs(lastT)} but the target lived on: proc saw it restart as pid 1234 at ${secs(tRestart)}`],
    });
  });

  it.each([['pid', { pid: process.pid }], ['pidfile', { pidfile: '/run/crafted.pid' }]])('%s target: proc saw it exit and never come back: perf ended with it, ok', (_, t) => {
    const dir = copyOf(clean);
    target(dir, t);
    const tExit = procExitsAt(dir, procRows(dir).length - 3);
    const { lastT } = perfEnded(dir, tExit - 250e6);
    expect(tExit).toBeGreaterThan(lastT);
    const r = verifyEpisode(dir);
    expect(r.collectors.perf).toEqual({ verdict: 'ok', rows: 3, reasons: [] });
    // proc ended with the target too, and is excused the same way (a real recording: a stall on this host may show as a silence).
    expect(r.collectors.proc!.reasons.filter((x) => !/^host_proc rows stop for /.test(x))).toEqual([]);
    expect(r.collectors.proc!.verdict).not.toBe('failed');
  });

  // Guards against: any restart proc saw failing perf, even one perf followed (it came before perf's last row).
  it('pidfile target: proc saw a restart before perf\'s last row, then the exit: perf ended with it, ok', () => {
    const dir = copyOf(clean);
    target(dir, { pidfile: '/run/crafted.pid' });
    const tExit = procExitsAt(dir, procRows(dir).length - 3);
    const k = procRows(dir).length - 10;
    expect(k).toBeGreaterThan(5);
    const rows = procRows(dir).map((r, i) => (i < k ? r : { ...r, pid: 1234, starttime: 99, process_event: i === k ? 'restarted' : r.process_event }));
    fs.writeFileSync(path.join(dir, 'telemetry-proc.jsonl'), rows.map((r) => JSON.stringify(r) + '\n').join(''));
    const { lastT } = perfEnded(dir, tExit - 250e6);
    expect(rows[k]!.t_mono_ns as number).toBeLessThan(lastT);
    expect(tExit).toBeGreaterThan(lastT);
    expect(verifyEpisode(dir).collectors.perf).toEqual({ verdict: 'ok', rows: 3, reasons: [] });
  });

  // Regression for: any exit proc saw excused perf, even one long after perf's rows stopped.
  it('proc saw the target exit, but long after perf\'s last row: perf failed, naming the exit', () => {
    const dir = copyOf(clean);
    const tExit = procExitsAt(dir, procRows(dir).length - 3);
    const { lastT } = perfEnded(dir, procRows(dir)[0]!.t_mono_ns as number);
    expect(tExit - lastT).toBeGreaterThan(3 * PERF_INTERVAL_MS * 1e6 + 50e6);
    expect(verifyEpisode(dir).collectors.perf).toEqual({
      verdict: 'failed',
      rows: 3,
      reasons: [`perf ended (target_exited) at ${secs(lastT)} but the target lived on: proc saw pid ${process.pid} exit only at ${secs(tExit)}, ${secs(tExit - lastT)} after perf's last row`],
    });
  });

  it('proc kept sampling the same process long after perf said it exited: perf failed', () => {
    const dir = copyOf(clean);
    const rows = procRows(dir);
    expect(rows.length).toBeGreaterThan(15);
    const { lastT } = perfEnded(dir, rows[0]!.t_mono_ns as number);
    const last = rows.at(-1)!;
    expect(verifyEpisode(dir).collectors.perf).toEqual({
      verdict: 'failed',
      rows: 3,
      reasons: [`perf ended (target_exited) at ${secs(lastT)} but the target lived on: proc sampled pid ${last.pid} until ${secs(last.t_mono_ns as number)} and never saw it exit`],
    });
  });

  // Regression for: proc following a pidfile target writes an 'exited' row and waits for the next
  // process; verify called the wait a silence (degraded), while perf, doing the same, was ok.
  it('pidfile target: proc recorded the exit and watched the pidfile to the stop: not a silence', () => {
    const dir = copyOf(clean);
    target(dir, { pidfile: '/run/crafted.pid' });
    const tExit = procExitsAt(dir, procRows(dir).length - 3);
    editJson(dir, 'summary.json', (s) => {
      Object.assign((s.collectors as Record<string, Row>).proc!, { end: 'stopped' });
      s.t_mono_stop_ns = tExit + 5e9;
    });
    const r = verifyEpisode(dir).collectors.proc!;
    expect(r.rows).toBeGreaterThan(10);
    expect(r.reasons.join('\n')).not.toMatch(/before the episode ended/);
    expect(r.verdict).not.toBe('failed');
  });

  it('pidfile target: the gap from proc\'s exited row to its restarted row is not a silence', () => {
    const dir = copyOf(clean);
    target(dir, { pidfile: '/run/crafted.pid' });
    const rows = procRows(dir);
    expect(rows.length).toBeGreaterThan(15);
    const k = rows.length - 6;
    const gap = 2e9;
    const exitT = rows[k]!.t_mono_ns as number;
    const nulls = Object.fromEntries(Object.keys(rows[k]!).filter((x) => !['source', 't_mono_ns', 'seq', 'available_in_deployment', 'pid', 'starttime', 'process_event', 'null_reasons'].includes(x)).map((x) => [x, null]));
    const out = rows.map((r, i) => (i < k ? r : i === k ? { ...r, ...nulls, process_event: 'exited', null_reasons: { state: 'crafted: exited' } } : { ...r, t_mono_ns: (r.t_mono_ns as number) + gap, pid: 1234, starttime: 99, process_event: i === k + 1 ? 'restarted' : null }));
    fs.writeFileSync(path.join(dir, 'telemetry-proc.jsonl'), out.map((r) => JSON.stringify(r) + '\n').join(''));
    editJson(dir, 'summary.json', (s) => void (s.t_mono_stop_ns = (s.t_mono_stop_ns as number) + gap));
    const r = verifyEpisode(dir).collectors.proc!;
    expect(r.reasons.join('\n')).not.toContain(`from t_mono_ns ${exitT} `);
  });

  describe('without proc rows', () => {
    /** The clean episode with proc deselected, `t` as its target and `exit_reason` as how it stopped. */
    function noProc(t: object, exitReason: string): { dir: string; lastT: number; stop: number } {
      const dir = copyOf(clean);
      const t0 = procRows(dir)[0]!.t_mono_ns as number;
      target(dir, t);
      editJson(dir, 'episode.json', (ep) => void (((ep.manifest as Row).collectors as Record<string, Row>).proc!.enabled = false));
      let stop = 0;
      editJson(dir, 'summary.json', (s) => {
        s.exit_reason = exitReason;
        stop = s.t_mono_stop_ns as number;
      });
      return { ...perfEnded(dir, t0), stop };
    }

    it('pidfile target, the episode went on for more than 3 intervals and stopped by its duration: perf failed', () => {
      const { dir, lastT, stop } = noProc({ pidfile: '/run/crafted.pid' }, 'duration');
      expect(stop - lastT).toBeGreaterThan(3 * PERF_INTERVAL_MS * 1e6);
      const r = verifyEpisode(dir);
      expect(r.collectors.proc).toBeUndefined();
      expect(r.collectors.perf).toEqual({
        verdict: 'failed',
        rows: 3,
        reasons: [
          `perf ended (target_exited) at ${secs(lastT)} but the episode went on for ${secs(stop - lastT)} more (stopped by duration), and no proc rows show the target gone: a pidfile target may have lived on under a new pid`,
        ],
      });
    });

    it('pidfile target, the episode stopped because its collectors ended with the target: ok', () => {
      expect(verifyEpisode(noProc({ pidfile: '/run/crafted.pid' }, 'collectors_ended').dir).collectors.perf).toEqual({ verdict: 'ok', rows: 3, reasons: [] });
    });

    // Regression for: perf follows a pidfile target, and when the target is gone at the stop it
    // ends target_exited having watched the pidfile from then on (detail.target_gone_at_ns);
    // verify failed it whenever proc was not selected, for a target that never came back.
    it('pidfile target, perf saw it gone just after its last row and watched the pidfile to the stop (detail.target_gone_at_ns): ok', () => {
      const { dir, lastT, stop } = noProc({ pidfile: '/run/crafted.pid' }, 'duration');
      expect(stop - lastT).toBeGreaterThan(3 * PERF_INTERVAL_MS * 1e6);
      editJson(dir, 'summary.json', (s) => void (((s.collectors as Record<string, Row>).perf!.detail as Row).target_gone_at_ns = lastT + 40e6));
      expect(verifyEpisode(dir).collectors.perf).toEqual({ verdict: 'ok', rows: 3, reasons: [] });
    });

    it('pidfile target, perf saw it gone only long after its last row: perf failed, naming the unrecorded time', () => {
      const { dir, lastT } = noProc({ pidfile: '/run/crafted.pid' }, 'duration');
      const gone = lastT + 2e9;
      editJson(dir, 'summary.json', (s) => void (((s.collectors as Record<string, Row>).perf!.detail as Row).target_gone_at_ns = gone));
      expect(verifyEpisode(dir).collectors.perf).toEqual({
        verdict: 'failed',
        rows: 3,
        reasons: [`perf ended (target_exited), but its rows stop at ${secs(lastT)} and it saw the target gone only at ${secs(gone)}: 2.000 s of a live target unrecorded`],
      });
    });

    it('pidfile target, perf watched the pidfile, but proc saw the target restart after perf\'s last row: perf failed all the same', () => {
      const rows = procRows(clean);
      expect(rows.length).toBeGreaterThan(15);
      const k = rows.length - 3;
      const dir = copyOf(clean, (rs) => rs.map((r, i) => (i < k ? r : { ...r, pid: 1234, starttime: 99, process_event: i === k ? 'restarted' : null })));
      target(dir, { pidfile: '/run/crafted.pid' });
      const { lastT } = perfEnded(dir, rows[0]!.t_mono_ns as number);
      editJson(dir, 'summary.json', (s) => void (((s.collectors as Record<string, Row>).perf!.detail as Row).target_gone_at_ns = lastT + 40e6));
      expect(verifyEpisode(dir).collectors.perf!.reasons).toEqual([`perf ended (target_exited) at ${secs(lastT)} but the target lived on: proc saw it restart as pid 1234 at ${secs(rows[k]!.t_mono_ns as number)}`]);
    });

    it('a fixed pid target cannot come back under a new pid: ok', () => {
      expect(verifyEpisode(noProc({ pid: process.pid }, 'duration').dir).collectors.perf).toEqual({ verdict: 'ok', rows: 3, reasons: [] });
    });
  });
});
