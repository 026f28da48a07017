// Issue 17 point 6: a capture whose timestamps jump (hostile or broken)
// cannot make `labtel bucketize` write millions of zero rows. Empty buckets
// between packets are written up to --max-empty-buckets (default 3600) in a
// row and within a fill budget (that bound plus 16 per packet); the rest of a
// gap is not written and the next row's empty_buckets_skipped says how many
// buckets it was. Hostile captures are written here; both paths (native and
// pure-TS) run them and must write the same rows.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bucketizeCommand } from '../../../../src/cli/commands/bucketize.js';
import { UsageError, type BucketizeFlags } from '../../../../src/cli/commands/bucketize-options.js';
import { bucketizeFile } from '../../../../src/collectors/netflow/offline/bucketize-file.js';
import { LiveSeries } from '../../../../src/collectors/netflow/live-series.js';
import { readEpisodeCapture, replayEpisode } from '../../../../src/collectors/netflow/offline/episode-replay.js';
import { JsonlWriter } from '../../../../src/rows/jsonl-writer.js';
import { netflowRow } from '../../../../src/collectors/netflow/rows.js';
import type { RawBucketRow } from '../../../../src/collectors/netflow/bucketizer.js';
import { readJsonl, tmpDir } from '../../../helpers/tmp.js';
import { addon, evenJumps, expectGapsAccounted, GUEST4, pcap, PEER4, udp4, YEAR_S, yearJumps, type Rec } from '../harness.js';

const KINDS = ['native', 'ts'] as const;
const BUCKET_NS = 100e6;
const DEFAULT_MAX = 3600;
/** Zero rows earned per packet in a written row (native/core/bucketizer.h fill_credit_per_packet). */
const CREDIT = 16;
/** The stated worst case: every packet its own row, plus the fill budget. */
const rowBound = (packets: number, max = DEFAULT_MAX) => packets + max + CREDIT * packets;

afterEach(() => vi.restoreAllMocks());

const flags = (o: Partial<BucketizeFlags> = {}): BucketizeFlags => ({ guestIp: [GUEST4], guestMac: [], bridgeIp: [], fill: true, ...o });

function captureFile(recs: Rec[]): string {
  const file = path.join(tmpDir(), 'jumps.pcap');
  fs.writeFileSync(file, pcap({}, recs));
  return file;
}

/** Both paths over one file: rows (as objects), status, the output's size. */
function bucketizeBoth(file: string, maxEmptyBuckets?: number) {
  expect(addon, 'the native addon').not.toBeNull();
  return KINDS.map((kind) => {
    const out = path.join(tmpDir(), `${kind}.jsonl`);
    const writer = new JsonlWriter(out, { availableInDeployment: true });
    const r = bucketizeFile(file, writer, { bucketMs: 100, guestIp: GUEST4, kind, maxEmptyBuckets });
    writer.close();
    const rows = readJsonl(out) as unknown as Array<RawBucketRow & { partial: boolean }>;
    return { kind, rows, status: r.status, bytes: fs.statSync(out).size, text: fs.readFileSync(out, 'utf8') };
  });
}

const packetsIn = (rows: RawBucketRow[]) => rows.reduce((s, r) => s + r.pkts_in + r.pkts_out + r.pkts_unmatched, 0);

describe('labtel bucketize on captures whose timestamps jump', () => {
  it('timestamps jumping back and forth by years: a bounded number of rows, every gap counted in the row after it, the packets after the jumps still counted, the same on both paths', () => {
    // regression for: each forward jump wrote 1,000,000 zero rows (about 550 MB), with no row saying where the gap was.
    const jumps = yearJumps(40);
    const last = 1_600_000_000 + 20 * YEAR_S;
    // After the attack, ordinary traffic: 30 packets 10 ms apart past the last jump (the collector goes on).
    const after: Rec[] = Array.from({ length: 30 }, (_, i) => ({ ts: 0n, sec: last + 1, frac: i * 10_000, data: udp4(PEER4, GUEST4, 5000, 53) }));
    const file = captureFile([...jumps, ...after]);
    const packets = jumps.length + after.length;
    const rssBefore = process.memoryUsage().rss;
    const [native, ts] = bucketizeBoth(file);
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    expect(ts!.text).toBe(native!.text);
    expect(ts!.status).toEqual(native!.status);
    const { rows, status } = native!;
    // Every row fits the schema (empty_buckets_skipped included).
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      const { source: _s, t_mono_ns: _t, seq: _q, available_in_deployment: _a, ...fields } = r as unknown as Record<string, unknown>;
      expect(netflowRow.safeParse(fields).error).toBeUndefined();
    }
    // Bounded: rows, bytes on disk, memory.
    expect(rows.length).toBeLessThanOrEqual(rowBound(packets));
    expect(native!.bytes).toBeLessThanOrEqual(rowBound(packets) * 1024);
    expect(rssGrowth, 'RSS growth, bytes').toBeLessThan(256 << 20);
    // Every packet counted; the ones that jumped back years are late into the open bucket.
    expect(packetsIn(rows)).toBe(packets);
    expect(rows.reduce((s, r) => s + r.pkts_late, 0)).toBe(19);
    // The collector kept collecting: the last 30 packets are in the last buckets, 10 ms apart (one row per 100 ms).
    expect(packetsIn(rows.slice(-3))).toBe(30);
    // Drops counted: every bucket between two rows was written or counted in the later row, and the sum is the status's.
    const skipped = expectGapsAccounted(rows, BUCKET_NS);
    expect(skipped).toBeGreaterThan(0);
    expect(status).toMatchObject({ ok: true, packets, emptyBucketsSkipped: skipped });
    expect(status.holes).toBe(rows.filter((r) => r.empty_buckets_skipped > 0).length);
    // The first gap got the first 3600 zero rows, then the budget (16 per packet so far) ran out.
    const firstGap = rows.slice(1, 3601);
    expect(firstGap).toHaveLength(3600);
    expect(firstGap.every((r) => packetsIn([r]) === 0 && r.empty_buckets_skipped === 0)).toBe(true);
    expect(rows[3601]!.empty_buckets_skipped).toBeGreaterThan(300_000_000);
  });

  it('packets alternating with jumps just under the bound, many times: the fill budget bounds the rows; the same on both paths', () => {
    // regression for: 3599 empty buckets between packets, 60 times, wrote 212,000 zero rows (1 per 16 bytes of input became 3600).
    const recs = evenJumps(60, DEFAULT_MAX - 1);
    const file = captureFile(recs);
    const [native, ts] = bucketizeBoth(file);
    expect(ts!.text).toBe(native!.text);
    expect(ts!.status).toEqual(native!.status);
    const { rows, status } = native!;
    expect(rows.length).toBeLessThanOrEqual(rowBound(recs.length));
    expect(native!.bytes).toBeLessThanOrEqual(rowBound(recs.length) * 1024);
    expect(packetsIn(rows)).toBe(recs.length);
    const skipped = expectGapsAccounted(rows, BUCKET_NS);
    // The first gap is filled (3599 <= 3600, and the budget is 3600 + 16 for the first packet); each later one gets what the budget
    // holds then (17 left + 16, then 16 per packet), the rest counted.
    expect(rows.slice(0, 3601).filter((r) => packetsIn([r]) > 0).length).toBe(2);
    expect(status.holes).toBe(58);
    expect(skipped).toBe(59 * 3599 - (3600 + 16 + 58 * 16));
    expect(status).toMatchObject({ ok: true, packets: 60, emptyBucketsSkipped: skipped });
  });

  it('--max-empty-buckets changes the bound: 100 writes the first 100 empty buckets of a long gap, 0 none, 500 every gap of 250', () => {
    const file = captureFile(evenJumps(3, 250));
    const small = bucketizeBoth(file, 100);
    expect(small[1]!.text).toBe(small[0]!.text);
    const rows = small[0]!.rows;
    // 100 zero rows, then 150 buckets counted in the second packet's row; then the budget holds 100 + 16 - 100 + 16 = 32 rows, and 218 are counted.
    expect(rows.map((r) => r.empty_buckets_skipped).filter((n) => n > 0)).toEqual([150, 218]);
    expect(rows.length).toBe(3 + 100 + 32);
    expect(expectGapsAccounted(rows, BUCKET_NS)).toBe(368);
    expect(small[0]!.status).toMatchObject({ holes: 2, emptyBucketsSkipped: 368 });
    const none = bucketizeBoth(file, 0);
    expect(none[1]!.text).toBe(none[0]!.text);
    expect(none[0]!.rows.map((r) => r.empty_buckets_skipped)).toEqual([0, 250, 250]);
    const whole = bucketizeBoth(file, 500);
    expect(whole[1]!.text).toBe(whole[0]!.text);
    expect(whole[0]!.rows.length).toBe(3 + 2 * 250);
    expect(whole[0]!.rows.every((r) => r.empty_buckets_skipped === 0)).toBe(true);
    expect(whole[0]!.status.holes).toBe(0);
  });

  it('says on stderr how many gaps and buckets were not written, and under which bound; --max-empty-buckets is checked like the manifest key', async () => {
    const file = captureFile(evenJumps(3, 250));
    const out = path.join(tmpDir(), 'rows.jsonl');
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await bucketizeCommand([file], flags({ output: out, maxEmptyBuckets: '100' }))).toBe(0);
    expect(err.mock.calls.map((c) => c.join(' '))).toEqual([
      `labtel: ${file}: 2 gaps between packets (timestamp jumps) longer than --max-empty-buckets 100 or past the fill budget: 368 empty buckets not written, each gap counted in the next row's empty_buckets_skipped`,
    ]);
    expect(readJsonl(out).map((r) => r.empty_buckets_skipped).filter((n) => n !== 0)).toEqual([150, 218]);
    await expect(bucketizeCommand([file], flags({ output: path.join(tmpDir(), 'x.jsonl'), maxEmptyBuckets: '-1' }))).rejects.toThrow(
      new UsageError('--max-empty-buckets: expected a number of buckets, 0 or more, got "-1"'),
    );
  });

  it('live: empty buckets the episode clock passed are all written, however many; a packet stamped far ahead of the clock is bounded', () => {
    // regression for: the bound must not cut a live series whose link was silent (verify would see the collector go quiet).
    expect(addon, 'the native addon').not.toBeNull();
    const origin = 1_700_000_000_000_000_000n;
    const rec = (ms: number) => pcap({}, [{ ts: origin + BigInt(ms) * 1_000_000n, data: udp4(PEER4, GUEST4, 1, 53) }]).subarray(24);
    const header = pcap({}, []);
    const texts = KINDS.map((kind) => {
      const out = path.join(tmpDir(), `${kind}.jsonl`);
      const writer = new JsonlWriter(out, { availableInDeployment: true });
      const s = new LiveSeries(writer, { bucketMs: 100, latenessMs: 2000, guestIp: GUEST4, originWallNs: origin, maxEmptyBuckets: 50 }, 0, kind);
      s.feed(header);
      s.feed(rec(10));
      for (let t = 1000; t <= 1_000_000; t += 1000) s.advance(t * 1e6); // 10,000 buckets of silence, the clock passing
      s.feed(rec(1_000_050));
      s.feed(rec(1_000_000 + 10 * 86_400_000)); // ten days ahead of the clock
      s.advance(1_001_000 * 1e6);
      const end = s.end(1_001_500 * 1e6);
      writer.close();
      expect(end.status.ok).toBe(true);
      return fs.readFileSync(out, 'utf8');
    });
    expect(texts[1]).toBe(texts[0]);
    const rows = texts[0]!.trimEnd().split('\n').map((l) => JSON.parse(l) as RawBucketRow);
    // Every bucket from 0 to the one at 1,000,000 ms written (the clock saw them), then 50 zero rows ahead of the clock, and no more.
    expect(rows.length).toBeGreaterThan(10_000);
    const seen = rows.slice(0, 10_001);
    expect(seen).toHaveLength(10_001);
    expect(seen.every((r) => r.empty_buckets_skipped === 0)).toBe(true);
    expectGapsAccounted(seen, BUCKET_NS);
    expect(rows.length).toBeLessThanOrEqual(10_001 + 50);
  });

  it('live: when the clock later passes buckets kept open after a jump, the first zero row written carries the count of the ones skipped; the same on both paths', () => {
    // (native/test/pcap_tests.cc "bucket gaps: live" holds the native to the same numbers)
    const origin = 1_700_000_000_000_000_000n;
    const rec = (ms: number) => pcap({}, [{ ts: origin + BigInt(ms) * 1_000_000n, data: udp4(PEER4, GUEST4, 1, 53) }]).subarray(24);
    const texts = KINDS.map((kind) => {
      const out = path.join(tmpDir(), `${kind}.jsonl`);
      const writer = new JsonlWriter(out, { availableInDeployment: true });
      const s = new LiveSeries(writer, { bucketMs: 100, latenessMs: 2000, guestIp: GUEST4, originWallNs: origin, maxEmptyBuckets: 5 }, 0, kind);
      s.feed(pcap({}, []));
      for (let t = 100; t <= 1000; t += 100) s.advance(t * 1e6);
      s.feed(rec(10_000)); // 9 s ahead of the clock: buckets 10..79 are past it, 5 written, 65 not
      s.advance(12_000 * 1e6); // the clock passes buckets 80..99, which the packet's lateness kept open
      s.end(12_500 * 1e6);
      writer.close();
      return fs.readFileSync(out, 'utf8');
    });
    expect(texts[1]).toBe(texts[0]);
    const rows = texts[0]!.trimEnd().split('\n').map((l) => JSON.parse(l) as RawBucketRow);
    expect(rows.length).toBe(1 + 9 + 5 + 20 + 1 + 24);
    expect(rows[15]).toMatchObject({ t_mono_ns: 8_000_000_000, pkts_in: 0, empty_buckets_skipped: 65 });
    expect(expectGapsAccounted(rows, BUCKET_NS)).toBe(65);
  });

  it('--episode replay of a live run with a long silence writes every bucket, as live did: the run\'s end is the clock', () => {
    // regression for: replay has no advance(), so a silence between packets longer than max_empty_buckets was cut there but whole live.
    const origin = 1_700_000_000_000_000_000n;
    const recs = [10, 1_000_000].map((ms) => pcap({}, [{ ts: origin + BigInt(ms) * 1_000_000n, data: udp4(PEER4, GUEST4, 1, 53) }]).subarray(24));
    const endMs = 1_000_500;
    const o = { bucketMs: 100, latenessMs: 2000, guestIp: GUEST4, originWallNs: origin, maxEmptyBuckets: 50 };
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'episode.json'), JSON.stringify({ clock: { realtime_origin_ns: String(origin) }, manifest: { collectors: { netflow: { bucket_ms: 100, lateness_ms: 2000, guest_ip: GUEST4, max_empty_buckets: 50 } } } }));
    fs.writeFileSync(path.join(dir, 'network.pcap'), Buffer.concat([pcap({}, []), ...recs]));
    const events = [
      { source: 'pcap', t_mono_ns: 0, event: 'capture_started', run: 0, at_ns: 0, stream_offset: 24, message: null },
      { source: 'pcap', t_mono_ns: endMs * 1e6, event: 'capture_ended', run: 0, at_ns: endMs * 1e6, stream_offset: 24 + recs[0]!.length + recs[1]!.length, message: 'x' },
    ];
    fs.writeFileSync(path.join(dir, 'telemetry-pcap.jsonl'), events.map((r) => JSON.stringify(r) + '\n').join(''));
    const capture = readEpisodeCapture(dir)!;
    expect(capture.runs).toHaveLength(1);
    const texts = KINDS.flatMap((kind) => {
      // Live: the clock passes every second.
      const liveFile = path.join(tmpDir(), `live-${kind}.jsonl`);
      const lw = new JsonlWriter(liveFile, { availableInDeployment: true });
      const s = new LiveSeries(lw, o, 0, kind);
      s.feed(Buffer.concat([pcap({}, []), recs[0]!]));
      for (let t = 1000; t < 1_000_000; t += 1000) s.advance(t * 1e6);
      s.feed(recs[1]!);
      s.end(endMs * 1e6);
      lw.close();
      // Replay: no clock but the run's end.
      const replayFile = path.join(tmpDir(), `replay-${kind}.jsonl`);
      const rw = new JsonlWriter(replayFile, { availableInDeployment: true });
      const r = replayEpisode(dir, capture, rw, o, kind);
      rw.close();
      expect(r).toMatchObject({ runs: 1, packets: 2, error: null, incomplete: null });
      return [fs.readFileSync(liveFile, 'utf8'), fs.readFileSync(replayFile, 'utf8')];
    });
    expect(texts).toHaveLength(4);
    const others = texts.slice(1);
    expect(others).toHaveLength(3);
    for (const t of others) expect(t).toBe(texts[0]);
    const rows = texts[0]!.trimEnd().split('\n').map((l) => JSON.parse(l) as RawBucketRow);
    expect(rows.length).toBe(10_005);
    expect(expectGapsAccounted(rows, BUCKET_NS)).toBe(0);
  });
});
