// labtel verify on episode directories crafted for each reason: the
// verification layer trusts an episode only when every selected collector
// really emitted real values, and the field's worst failures (zero rows,
// all-null metrics for weeks) must be impossible to miss. Each case starts
// from a real clean episode and breaks one thing.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyEpisode } from '../../src/verify/verify-episode.js';
import { verifyReport } from '../../src/verify/report.js';
import { LABTEL_BIN } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { cleanEpisode, copyOf, lastSecond, withCollector, type Row } from './crafted-episode.js';

const exec = promisify(execFile);
let clean: string;

beforeAll(async () => {
  clean = await cleanEpisode();
});

/** A copy of the clean episode, with `edit` applied to its proc rows. */
const broken = (edit?: (rows: Row[]) => Row[] | string) => copyOf(clean, edit);

const pcapRow = (seq: number, t: number, extra: object = {}) => ({
  source: 'pcap', t_mono_ns: t, seq, available_in_deployment: true, run: 0, interval_s: 0.2, tcpdump_running: true, pkts: 3, bytes: 180,
  pkts_total: 3 * (seq + 1), filter_received: 3 * (seq + 1), kernel_drops: 0, if_drops: 0, drops_lower_bound: false, saved_bytes: 1000,
  // The interface passed what the capture saw: 3 packets and 180 bytes a row.
  if_ifindex: 7, if_tx_queue_frames: 1000, if_rx_packets: 600 + 2 * seq, if_tx_packets: 400 + seq, if_rx_bytes: 60_000 + 120 * seq, if_tx_bytes: 40_000 + 60 * seq,
  if_rx_dropped: 0, if_tx_dropped: 0, if_rx_errors: 0, if_tx_errors: 0, ...extra,
});

const proc = (dir: string) => verifyEpisode(dir).collectors.proc!;

describe('labtel verify', () => {
  it('a clean episode verifies ok, and --json matches the documented schema', async () => {
    const r = verifyEpisode(clean);
    expect(r).toMatchObject({ verdict: 'ok', reasons: [], collectors: { proc: { verdict: 'ok', reasons: [] } } });
    expect(r.collectors.proc!.rows).toBeGreaterThan(10);
    const { stdout } = await exec(process.execPath, [LABTEL_BIN, 'verify', clean, '--json']);
    expect(verifyReport.parse(JSON.parse(stdout))).toEqual(r);
  });

  it('zero rows: failed', () => {
    expect(proc(broken(() => ''))).toMatchObject({ verdict: 'failed', rows: 0, reasons: expect.arrayContaining(['zero rows', 'no host_proc rows']) });
  });

  it('every metric null on every row: failed (the field shipped that for weeks)', () => {
    const keep = new Set(['source', 't_mono_ns', 'seq', 'available_in_deployment', 'pid', 'starttime', 'process_event', 'interval_s']);
    const r = proc(
      broken((rows) => rows.map((x) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, keep.has(k) ? v : k === 'null_reasons' ? { state: 'crafted' } : null])))),
    );
    expect(r.verdict).toBe('failed');
    // A real recording: a stall on this host may show as a silence besides.
    expect(r.reasons.filter((x) => !/^host_proc rows stop for /.test(x))).toEqual([`${r.rows} host_proc rows, but every measured field (state, CPU time, faults, memory, context switches, I/O) was null`]);
  });

  it('a row that breaks its schema: failed, naming the line and the field', () => {
    const r = proc(broken((rows) => rows.map((x, i) => (i === 3 ? { ...x, rss_bytes: 'lots' } : x))));
    expect(r.verdict).toBe('failed');
    expect(r.reasons[0]).toMatch(/^1 host_proc rows fail their schema \(first: line 4: rss_bytes: /);
  });

  it('a missing row (a seq gap): failed', () => {
    const r = proc(broken((rows) => rows.filter((_, i) => i !== 5)));
    expect(r.verdict).toBe('failed');
    expect(r.reasons).toContain('host_proc rows are missing: 1 seq gaps (first: line 6: seq 6 where 5 was due)');
  });

  it('rows lost at the end of the file (no seq gap shows it): failed, against summary.json\'s count', () => {
    const r = proc(broken((rows) => rows.slice(0, 10)));
    expect(r.verdict).toBe('failed');
    expect(r.reasons[0]).toMatch(/^its file has 10 rows where summary\.json counts \d+: rows are missing$/);
  });

  it('a partial last line (the writer died mid-row): failed', () => {
    const r = proc(broken((rows) => rows.map((x) => JSON.stringify(x) + '\n').join('') + '{"source":"host_pr'));
    expect(r.verdict).toBe('failed');
    expect(r.reasons.some((x) => x.includes('a partial row'))).toBe(true);
  });

  it('t_mono_ns going backwards: degraded', () => {
    const r = proc(
      broken((rows) => {
        const t = rows[4]!.t_mono_ns;
        rows[4]!.t_mono_ns = rows[5]!.t_mono_ns;
        rows[5]!.t_mono_ns = t;
        return rows;
      }),
    );
    expect(r.verdict).toBe('degraded');
    expect(r.reasons[0]).toMatch(/^host_proc t_mono_ns goes backwards 1 times \(first: line 6: /);
  });

  it('a silence longer than 3x the interval: degraded, saying where', () => {
    const r = proc(broken((rows) => rows.map((x, i) => (i >= 8 ? { ...x, t_mono_ns: (x.t_mono_ns as number) + 10e9 } : x))));
    expect(r.verdict).toBe('degraded');
    expect(r.reasons[0]).toMatch(/^host_proc rows stop for 10\.\d{3} s from t_mono_ns \d+ \(more than 3x its 50 ms interval\)$/);
  });

  it('capture drops, lower-bound drop counts, restarts and reported errors: degraded', () => {
    const t = lastSecond(clean);
    const rows = [pcapRow(0, t + 1e8), pcapRow(1, t + 3e8), pcapRow(2, t + 5e8, { kernel_drops: 1200, if_drops: 3, drops_lower_bound: true })];
    const dir = withCollector(broken(), 'pcap', { iface: 'tap0', interval_ms: 200 }, rows, { restarts: 1 }, ['pcap: tcpdump killed by SIGKILL; restarting in 500 ms']);
    const r = verifyEpisode(dir);
    expect(r.verdict).toBe('degraded');
    expect(r.collectors.pcap).toEqual({
      verdict: 'degraded',
      rows: 3,
      reasons: [
        'the kernel dropped 1200 packets the capture could not keep up with',
        'the interface dropped 3 packets',
        'a tcpdump run was killed before its final statistics: the drop counts are lower bounds',
        'restarted 1 times',
        '1 errors reported (first: pcap: tcpdump killed by SIGKILL; restarting in 500 ms)',
      ],
    });
  });

  it('guest drops: degraded, with each kind counted', () => {
    const channel = (seq: number, t: number, extra: object = {}) => ({
      source: 'guest', t_mono_ns: t, seq, available_in_deployment: false, kind: 'channel', connected: true, connections: 1, connections_refused: 0, lines: 10, bytes: 500,
      dropped_oversize: 0, dropped_rate: 0, dropped_invalid_utf8: 0, dropped_invalid_json: 0, dropped_too_deep: 0, dropped_not_object: 0, ...extra,
    });
    const t = lastSecond(clean);
    const line = { source: 'guest', t_mono_ns: t + 1.5e8, seq: 1, available_in_deployment: false, kind: 'line', guest: { cpu: 1 }, guest_t: null };
    const rows = [channel(0, t + 1e8), line, channel(2, t + 2e8, { dropped_rate: 7, dropped_too_deep: 1 })];
    const r = verifyEpisode(withCollector(broken(), 'guest_agent', { socket: '/x', interval_ms: 100 }, rows));
    expect(r.collectors.guest_agent).toMatchObject({ verdict: 'degraded', reasons: ['the guest channel dropped 8 lines (rate: 7, too_deep: 1)'] });
  });

  it('a collector summary.json says failed, and one skipped as optional', () => {
    const dir = withCollector(broken(), 'perf', { interval_ms: 200 }, []);
    const s = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    s.collectors.perf = { ...s.collectors.perf, status: 'failed', reason: 'wrote no rows' };
    s.collectors.qmp = { status: 'skipped', reason: 'QMP socket /x: ENOENT', rows: 0, errors: [], end: null, file: null, sources: [] };
    fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(s));
    const ep = JSON.parse(fs.readFileSync(path.join(dir, 'episode.json'), 'utf8'));
    ep.manifest.collectors.qmp = { enabled: true, optional: true, socket: '/x', interval_ms: 1000 };
    fs.writeFileSync(path.join(dir, 'episode.json'), JSON.stringify(ep));
    const r = verifyEpisode(dir);
    expect(r.verdict).toBe('failed');
    expect(r.collectors.perf).toMatchObject({ verdict: 'failed', reasons: expect.arrayContaining(['failed: wrote no rows', 'zero rows']) });
    expect(r.collectors.qmp).toEqual({ verdict: 'degraded', rows: 0, reasons: ['skipped: QMP socket /x: ENOENT'] });
  });

  it('no summary.json (the agent was killed): failed as a whole', () => {
    const dir = broken();
    fs.rmSync(path.join(dir, 'summary.json'));
    expect(verifyEpisode(dir)).toMatchObject({ verdict: 'failed', reasons: ['no summary.json: the agent did not finish the episode (it was killed, or is still running)'] });
  });

  it('exit status: 0 only when ok, --allow-degraded accepts degraded, 2 for a directory that is not an episode', async () => {
    const code = (args: string[]) => exec(process.execPath, [LABTEL_BIN, 'verify', ...args]).then(() => 0, (e: { code: number }) => e.code);
    const degraded = broken((rows) => rows.map((x, i) => (i >= 8 ? { ...x, t_mono_ns: (x.t_mono_ns as number) + 10e9 } : x)));
    expect(await code([clean])).toBe(0);
    expect(await code([degraded])).toBe(1);
    expect(await code([degraded, '--allow-degraded'])).toBe(0);
    expect(await code([broken(() => '')])).toBe(1);
    expect(await code([broken(() => ''), '--allow-degraded'])).toBe(1);
    expect(await code([tmpDir()])).toBe(2);
  });
});
