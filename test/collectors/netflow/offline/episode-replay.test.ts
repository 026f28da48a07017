// `labtel bucketize --episode` follows a live episode's capture map (the pcap
// event rows) across rotated files and tcpdump runs. Built by hand here so
// every edge is known: file boundaries inside a run, a run boundary inside a
// file, saving stopped early, and a run the agent never saw end.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { replayEpisode, readEpisodeCapture } from '../../../../src/collectors/netflow/offline/episode-replay.js';
import { LiveSeries } from '../../../../src/collectors/netflow/live-series.js';
import { JsonlWriter } from '../../../../src/rows/jsonl-writer.js';
import { GUEST, PEER, pcapHeader, pcapRecord, tcpFrame } from '../../../helpers/capture.js';
import { LABTEL_BIN } from '../../../helpers/cli.js';
import { tmpDir } from '../../../helpers/tmp.js';

const exec = promisify(execFile);
const ORIGIN_NS = 1_700_000_000_000_000_000n;
/** A packet at episode time `ms`, in or out. */
const at = (ms: number, out = false) => pcapRecord(Number(ORIGIN_NS / 1000n) + ms * 1000, out ? tcpFrame(GUEST, PEER) : tcpFrame(PEER, GUEST));
const netflow = { bucket_ms: 100, lateness_ms: 2000, guest_ip: '10.200.0.10' };
const options = { bucketMs: 100, latenessMs: 2000, guestIp: '10.200.0.10', originWallNs: ORIGIN_NS };

interface Run {
  startMs: number;
  endMs: number | null;
  records: Buffer[];
}

/** An episode directory as the pcap collector leaves it, its stream split into files after `splitAfter` records. */
function episode(runs: Run[], splitAfter: number[], extraRows: object[] = []): string {
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'episode.json'), JSON.stringify({ clock: { realtime_origin_ns: String(ORIGIN_NS) }, manifest: { collectors: { netflow } } }));
  const all = runs.flatMap((r) => r.records);
  const files: Buffer[][] = [[]];
  all.forEach((rec, i) => {
    files.at(-1)!.push(rec);
    if (splitAfter.includes(i + 1)) files.push([]);
  });
  files.forEach((recs, n) => fs.writeFileSync(path.join(dir, n === 0 ? 'network.pcap' : `network-${String(n).padStart(3, '0')}.pcap`), Buffer.concat([pcapHeader(), ...recs])));
  const rows: object[] = [];
  let offset = 24;
  runs.forEach((r, run) => {
    rows.push({ source: 'pcap', t_mono_ns: r.startMs * 1e6, event: 'capture_started', run, at_ns: r.startMs * 1e6, stream_offset: offset, message: null });
    offset += r.records.reduce((n, b) => n + b.length, 0);
    if (r.endMs !== null) rows.push({ source: 'pcap', t_mono_ns: r.endMs * 1e6 + 5e8, event: 'capture_ended', run, at_ns: r.endMs * 1e6, stream_offset: offset, message: 'x' });
  });
  rows.push(...extraRows);
  fs.writeFileSync(path.join(dir, 'telemetry-pcap.jsonl'), rows.map((r) => JSON.stringify(r) + '\n').join(''));
  return dir;
}

/** The rows the live collector writes for these runs: one LiveSeries each over the run's bytes. */
function live(runs: Run[], lastNs = 0): string {
  const file = path.join(tmpDir(), 'live.jsonl');
  const w = new JsonlWriter(file, { availableInDeployment: true });
  for (const r of runs) {
    const s = new LiveSeries(w, options, r.startMs * 1e6);
    s.feed(Buffer.concat([pcapHeader(), ...r.records]));
    s.end(r.endMs === null ? lastNs : r.endMs * 1e6);
  }
  w.close();
  return fs.readFileSync(file, 'utf8');
}

async function replay(dir: string) {
  return exec(process.execPath, [LABTEL_BIN, 'bucketize', '--episode', dir, '-o', '-']).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}

const runs: Run[] = [
  { startMs: 150, endMs: 720, records: [at(160), at(230, true), at(240), at(505), at(690)] },
  { startMs: 1320, endMs: 1610, records: [at(1330, true), at(1420), at(1600)] },
];

describe('labtel bucketize --episode on a live episode', () => {
  it('follows the runs across rotated files: the rows one LiveSeries per run gives', async () => {
    // Files break inside run 0 (after 2 records) and right at the run boundary (after 5).
    const dir = episode(runs, [2, 5, 6]);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.pcap'))).toHaveLength(4);
    const r = await replay(dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(live(runs));
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    // Run 0: buckets 1..7 (150 ms begins inside bucket 1, 720 ends inside bucket 7); run 1: 13..16. No rows between runs.
    expect(rows.map((x) => x.t_mono_ns / 1e8)).toEqual([1, 2, 3, 4, 5, 6, 7, 13, 14, 15, 16]);
    expect(rows.filter((x) => x.partial).map((x) => x.t_mono_ns / 1e8)).toEqual([1, 7, 13, 16]);
    expect(rows.reduce((n, x) => n + x.pkts_in + x.pkts_out, 0)).toBe(8);
  });

  it('a run the agent never saw end (it died) ends at the last pcap row', async () => {
    const open: Run[] = [runs[0]!, { ...runs[1]!, endMs: null }];
    const last = { source: 'pcap', t_mono_ns: 1_850_000_000, run: 1 };
    const r = await replay(episode(open, [], [last]));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(live(open, 1_850_000_000));
  });

  it('saving stopped inside a run: rows up to where the files are whole, and exit 1 naming where and why', async () => {
    const dir = episode(runs, []);
    const pcapFile = path.join(dir, 'network.pcap');
    const cut = 24 + runs[0]!.records.slice(0, 3).reduce((n, b) => n + b.length, 0);
    fs.truncateSync(pcapFile, cut);
    fs.appendFileSync(
      path.join(dir, 'telemetry-pcap.jsonl'),
      // Saving stopped at 1.5 s: the files hold every packet stamped before 0.4 s (the ring delivers up to 1.1 s late).
      JSON.stringify({ source: 'pcap', t_mono_ns: 15e8, event: 'saving_stopped', run: 0, at_ns: 15e8, stream_offset: cut, message: 'max_total_mb reached' }) + '\n',
    );
    const r = await replay(dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`labtel: ${dir}: the saved capture stops at byte ${cut} (max_total_mb reached), inside run 0: its rows end at 0.400 s, 1100 ms before saving stopped\n`);
    expect(r.stdout).toBe(live([{ startMs: 150, endMs: 400, records: runs[0]!.records.slice(0, 3) }]));
  });

  it('an episode with no capture kept says so', async () => {
    const dir = episode(runs, []);
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.pcap')) fs.rmSync(path.join(dir, f));
    const r = await replay(dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`labtel: ${dir} has no saved capture (network.pcap): was keep_pcap false?\n`);
  });

  // Regression for: the replay summed each run's packets and dropped its
  // recordsOverSnaplen, so a saved file whose header snaplen was rewritten
  // below its records replayed into rows from cut packets without a word.
  it.each(['native', 'ts'] as const)('counts the records over the saved file\'s snaplen over all runs (%s)', (kind) => {
    const dir = episode(runs, [2, 5, 6]);
    const first = path.join(dir, 'network.pcap');
    const bytes = fs.readFileSync(first);
    const records = runs.flatMap((r) => r.records);
    expect(records).toHaveLength(8);
    expect(records.every((rec) => rec.readUInt32LE(8) > 40)).toBe(true);
    bytes.writeUInt32LE(40, 16); // every record (54 bytes) is over it
    fs.writeFileSync(first, bytes);
    const capture = readEpisodeCapture(dir);
    expect(capture?.runs).toHaveLength(2);
    const w = new JsonlWriter(path.join(tmpDir(), 'replay.jsonl'), { availableInDeployment: true });
    const r = replayEpisode(dir, capture!, w, options, kind);
    w.close();
    expect(r).toMatchObject({ runs: 2, packets: 8, error: null, incomplete: null });
    expect(r.recordsOverSnaplen).toBe(8);
  });
});
