// labtel verify on an episode whose proc file also holds host_cgroup rows (the proc collector's second source):
// they are checked as rows of their own (schema, seq), and do not stand in for proc's process rows.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runEpisode } from '../../src/agent/run-episode.js';
import { parseManifest } from '../../src/manifest/load.js';
import { verifyEpisode } from '../../src/verify/verify-episode.js';
import { tmpDir } from '../helpers/tmp.js';
import type { Row } from './crafted-episode.js';

let dir: string;
const file = () => path.join(dir, 'telemetry-proc.jsonl');
const rowsOf = (d: string) => fs.readFileSync(path.join(d, 'telemetry-proc.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Row);

beforeAll(async () => {
  dir = path.join(fs.mkdtempSync('/tmp/labtel-verify-'), 'ep');
  // A real episode with the defaults' host_cgroup rows, at 200 ms so that it has several.
  await runEpisode({ manifest: parseManifest({ output_dir: dir, duration_s: 1.2, target: { pid: process.pid }, collectors: { proc: { interval_ms: 50, cgroup_interval_ms: 200 } } }) });
});

/** A copy of the episode with `edit` applied to every row of its proc file. */
function edited(edit: (rows: Row[]) => Row[]): string {
  const d = path.join(tmpDir(), 'ep');
  fs.cpSync(dir, d, { recursive: true });
  fs.writeFileSync(path.join(d, 'telemetry-proc.jsonl'), edit(rowsOf(d)).map((r) => JSON.stringify(r) + '\n').join(''));
  return d;
}

describe('labtel verify with host_cgroup rows', () => {
  it('a real episode with host_cgroup rows verifies ok, and its rows carry the pressure totals', () => {
    const cg = rowsOf(dir).filter((r) => r.source === 'host_cgroup');
    expect(cg.length).toBeGreaterThanOrEqual(3);
    expect(cg[0]!.cgroup_event).toBe('started');
    expect(typeof cg.at(-1)!.cpu_pressure_some_total_us).toBe('number');
    expect(verifyEpisode(dir).collectors.proc).toMatchObject({ verdict: 'ok', reasons: [] });
    expect(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')).toContain('"cgroup_rows"');
  });

  it('a host_cgroup row that breaks its schema, or a lost one: failed, naming host_cgroup', () => {
    const bad = edited((rows) => rows.map((r) => (r.source === 'host_cgroup' && r.seq === 1 ? { ...r, cpu_usage_us: 'lots' } : r)));
    expect(verifyEpisode(bad).collectors.proc!.reasons[0]).toMatch(/^1 host_cgroup rows fail their schema \(first: line \d+: cpu_usage_us: /);
    const lost = edited((rows) => rows.filter((r) => !(r.source === 'host_cgroup' && r.seq === 1)));
    expect(verifyEpisode(lost).collectors.proc!.reasons).toContainEqual(expect.stringMatching(/^host_cgroup rows are missing: 1 seq gaps \(first: line \d+: seq 2 where 1 was due\)$/));
  });

  it('host_cgroup rows that measure do not make up for process rows that measured nothing', () => {
    const nulls = edited((rows) => rows.map((r) => (r.source !== 'host_proc' ? r : { ...r, state: null, cpu_user_jiffies: null, cpu_sys_jiffies: null, processor: null, minflt: null, majflt: null, num_threads: null, vsize_bytes: null, rss_bytes: null, shared_bytes: null, text_bytes: null, data_bytes: null, rss_peak_bytes: null, swap_bytes: null, voluntary_ctxt_switches: null, nonvoluntary_ctxt_switches: null, io_rchar: null, io_wchar: null, io_read_bytes: null, io_write_bytes: null, cpu_time_ns: null, run_delay_ns: null, run_periods: null, null_reasons: { state: 'crafted' } })));
    const r = verifyEpisode(nulls).collectors.proc!;
    expect(r.verdict).toBe('failed');
    expect(r.reasons).toContainEqual(expect.stringMatching(/host_proc rows, but every measured field .* was null$/));
  });

  // Regression for: an agent with no cgroup v2 in its mount namespace (under ip netns exec) wrote host_cgroup rows that
  // all said null, and verify called proc ok: the reader was not told the cgroup rows were empty.
  it('host_cgroup rows that all measured nothing: degraded, naming the first reason and `cgroup: false`', () => {
    const why = "no cgroup v2 hierarchy is mounted in labtel's mount namespace (/proc/self/mountinfo has no cgroup2 line)";
    const empty = edited((rows) =>
      rows.map((r) => {
        if (r.source !== 'host_cgroup') return r;
        const out: Row = { ...r, cgroup_mount: null, cgroup_inode: null, cgroup_other_processes: null, interval_s: null, null_reasons: {} };
        for (const [k, v] of Object.entries(r)) if (typeof v === 'number' && !['pid', 't_mono_ns', 'seq'].includes(k)) ((out[k] = null), ((out.null_reasons as Row)[k] = why));
        return out;
      }),
    );
    const r = verifyEpisode(empty).collectors.proc!;
    expect(r.verdict).toBe('degraded');
    expect(r.reasons).toEqual([expect.stringMatching(/^\d+ host_cgroup rows, but every value was null \(first: no cgroup v2 hierarchy is mounted in labtel's mount namespace .*\): the target's cgroup was never read; .* set the proc collector's "cgroup": false$/)]);
  });
});
