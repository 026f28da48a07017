// Captures come from attacked guests. Each bad input must end in a clear
// error naming the file, the byte offset and the problem, with the rows for
// everything before the bad record written, and a non-zero exit; the same
// with the addon and without it (LABTEL_NATIVE=0: the pure-TS path, which
// refused pcapng and --skip-bad before).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { T0_US, GUEST, ngBlock, ngPacket, ngSection, pcapHeader, pcapRecord, tcpFrame, threeGood, threeGoodNg, PEER } from '../../../helpers/capture.js';
import { LABTEL_BIN } from '../../../helpers/cli.js';
import { readJsonl, tmpDir } from '../../../helpers/tmp.js';

const exec = promisify(execFile);

const PATHS = [
  ['native', { ...process.env, LABTEL_NATIVE: undefined }],
  ['pure-TS', { ...process.env, LABTEL_NATIVE: '0' }],
] as const;

async function bucketize(name: string, bytes: Buffer, extra: string[] = [], env: NodeJS.ProcessEnv = process.env) {
  const dir = tmpDir();
  const file = path.join(dir, name);
  const out = path.join(dir, 'out.jsonl');
  fs.writeFileSync(file, bytes);
  const r = await exec(process.execPath, [LABTEL_BIN, 'bucketize', file, '-o', out, '--guest-ip', '10.200.0.10', ...extra], { env }).then(
    (ok) => ({ code: 0, stderr: ok.stderr }),
    (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
  );
  const rows = readJsonl(out);
  return { ...r, file, rows, packets: rows.reduce((n, row) => n + (row.pkts_in as number) + (row.pkts_out as number) + (row.pkts_unmatched as number), 0) };
}

const pcapGood = Buffer.concat([pcapHeader(), ...threeGood()]);
const ngGood = Buffer.concat([ngSection(), ...threeGoodNg()]);
const huge = Buffer.alloc(8);
huge.writeUInt32LE(6, 0);
huge.writeUInt32LE(0x7fffff00, 4);

describe('labtel bucketize on hostile captures', () => {
  it.each([
    ['caplen over 256 KiB', 'a.pcap', Buffer.concat([pcapHeader(0), ...threeGood(), pcapRecord(T0_US + 1_000_000, Buffer.alloc(64), 300_000, 300_000)]), 234, 'record caplen 300000 exceeds the 262144-byte limit'],
    ['a truncated last record', 'a.pcap', Buffer.concat([pcapGood, pcapRecord(T0_US + 1_000_000, tcpFrame(PEER, GUEST)).subarray(0, 30)]), 234, 'truncated pcap record: input ends after 30 of its 70 bytes'],
    ['a pcapng block of length 0', 'a.pcapng', Buffer.concat([ngGood, Buffer.from([6, 0, 0, 0, 0, 0, 0, 0]), Buffer.alloc(32)]), 312, 'enhanced packet block length 0 is below the 12-byte minimum'],
    ['an unaligned pcapng block', 'a.pcapng', Buffer.concat([ngGood, Buffer.from([6, 0, 0, 0, 30, 0, 0, 0]), Buffer.alloc(26)]), 312, 'enhanced packet block length 30 is not a multiple of 4'],
    ['a huge pcapng block', 'a.pcapng', Buffer.concat([ngGood, huge, Buffer.alloc(64)]), 312, 'enhanced packet block length 2147483392 exceeds the 16777216-byte limit'],
    ['a trailer that disagrees', 'a.pcapng', Buffer.concat([ngGood, (() => { const b = ngPacket(0, 1_700_000_000_200_000n, tcpFrame(PEER, GUEST)); b.writeUInt32LE(999, b.length - 4); return b; })()]), 312, 'enhanced packet block trailer length 999 disagrees with its header length 88'],
    ['an undeclared interface', 'a.pcapng', Buffer.concat([ngGood, ngPacket(7, 1_700_000_000_200_000n, tcpFrame(PEER, GUEST))]), 312, 'enhanced packet block names interface 7 but the section declared 1'],
  ])('%s: error at its offset, rows before it written, exit 1, on both paths', async (_what, name, bytes, offset, message) => {
    expect(PATHS.length).toBe(2);
    for (const [which, env] of PATHS) {
      const r = await bucketize(name, bytes, [], env);
      expect(r.code, which).toBe(1);
      expect(r.stderr, which).toBe(`labtel: ${r.file}: at byte ${offset}: ${message} (2 rows written for the 3 packets before it; --skip-bad skips bad records instead)\n`);
      expect(r.rows, which).toHaveLength(2);
      expect(r.packets, which).toBe(3);
      expect(r.rows.at(-1)!.partial, which).toBe(true);
    }
  });

  it("a record over the file header's snaplen is read as libpcap reads it (cut to the snaplen), counted, and not refused, on both paths", async () => {
    // Regression: "at byte 234: record caplen 200 exceeds the file's snaplen 100", exit 1.
    const bytes = Buffer.concat([pcapHeader(100), ...threeGood(), pcapRecord(T0_US + 150_000, tcpFrame(GUEST, PEER, 0x12), 200, 200)].map((b, i) => (i === 4 ? Buffer.concat([b, Buffer.alloc(200 - 54)]) : b)));
    expect(PATHS.length).toBe(2);
    for (const [which, env] of PATHS) {
      const r = await bucketize('a.pcap', bytes, [], env);
      expect(r.code, which).toBe(0);
      expect(r.stderr, which).toBe(`labtel: ${r.file}: read 1 record longer than the file's snaplen, as libpcap does (cut to the snaplen)\n`);
      expect(r.packets, which).toBe(4);
      expect(r.rows.reduce((n, row) => n + (row.tcp_synack as number), 0), which).toBe(1);
    }
  });

  it('absurd interface counts are refused without allocating for them, on both paths', async () => {
    const idb = Buffer.alloc(8);
    idb.writeUInt16LE(1, 0);
    expect(PATHS.length).toBe(2);
    for (const [which, env] of PATHS) {
      const r = await bucketize('a.pcapng', Buffer.concat([ngSection(), ...Array.from({ length: 5000 }, () => ngBlock(1, idb))]), [], env);
      expect(r.code, which).toBe(1);
      expect(r.stderr, which).toBe(`labtel: ${r.file}: at byte 81948: section declares more than 4096 interfaces (0 rows written for the 0 packets before it; --skip-bad skips bad records instead)\n`);
    }
  });

  it('a file that is not a capture at all is named as such, at byte 0, on both paths', async () => {
    expect(PATHS.length).toBe(2);
    for (const [which, env] of PATHS) {
      const r = await bucketize('notes.txt', Buffer.from('this is not a capture, just text from an attacked guest\n'), [], env);
      expect(r.code, which).toBe(1);
      expect(r.stderr, which).toBe(`labtel: ${r.file}: at byte 0: not a pcap or pcapng capture (starts with 74 68 69 73) (0 rows written for the 0 packets before it)\n`);
      expect(r.rows, which).toEqual([]);
    }
  });

  it.each([
    ['pcap: a caplen over 256 KiB', 'a.pcap', Buffer.concat([pcapHeader(), ...threeGood(), pcapRecord(T0_US + 1_000_000, Buffer.alloc(64), 300_000, 300_000), pcapRecord(T0_US + 1_050_000, tcpFrame(PEER, GUEST))]), 80],
    ['pcapng: a block of length 0', 'a.pcapng', Buffer.concat([ngGood, Buffer.from([6, 0, 0, 0, 0, 0, 0, 0]), ngPacket(0, 1_700_000_001_050_000n, tcpFrame(PEER, GUEST))]), 8],
    ['pcapng: an undeclared interface', 'a.pcapng', Buffer.concat([ngGood, ngPacket(7, 1_700_000_001_000_000n, tcpFrame(PEER, GUEST)), ngPacket(0, 1_700_000_001_050_000n, tcpFrame(PEER, GUEST))]), 88],
  ])('--skip-bad (%s) resynchronizes, counts what it skipped, and keeps the packets after the bad record, on both paths', async (_what, name, bytes, skipped) => {
    // Regression: without the addon, "--skip-bad needs the native addon (this is the pure-TypeScript path)".
    expect(PATHS.length).toBe(2);
    for (const [which, env] of PATHS) {
      const r = await bucketize(name, bytes, ['--skip-bad'], env);
      expect(r.code, `${which}: ${r.stderr}`).toBe(0);
      expect(r.stderr, which).toBe(`labtel: ${r.file}: skipped 1 bad records (${skipped} bytes)\n`);
      expect(r.packets, which).toBe(4);
    }
  });
});

describe('labtel bucketize usage', () => {
  it('checks its flags with the manifest schema, naming the flag and the value', async () => {
    const err = await exec(process.execPath, [LABTEL_BIN, 'bucketize', '/dev/null', '--bucket-ms', 'fast', '--guest-ip', '10.0.0']).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toBe('labtel: --bucket-ms: expected a positive integer, got "fast"\n--guest-ip: expected an IP address or a list of them, got "10.0.0"\n');
  });

  it('spreads several captures over worker threads, one output each, same rows as one at a time', async () => {
    const dir = tmpDir();
    const inputs = ['a.pcap', 'b.pcap', 'c.pcapng'].map((n) => path.join(dir, n));
    fs.writeFileSync(inputs[0]!, pcapGood);
    fs.writeFileSync(inputs[1]!, Buffer.concat([pcapHeader(), ...threeGood(), ...threeGood().map((b) => { const c = Buffer.from(b); c.writeUInt32LE(1_700_000_003, 0); return c; })]));
    fs.writeFileSync(inputs[2]!, ngGood);
    await exec(process.execPath, [LABTEL_BIN, 'bucketize', ...inputs, '--out-dir', path.join(dir, 'out'), '--guest-ip', '10.200.0.10', '-j', '2']);
    for (const input of inputs) {
      const one = path.join(dir, path.basename(input) + '.one.jsonl');
      await exec(process.execPath, [LABTEL_BIN, 'bucketize', input, '-o', one, '--guest-ip', '10.200.0.10']);
      const many = path.join(dir, 'out', path.basename(input).replace(/\.pcap(ng)?$/, '') + '.netflow.jsonl');
      expect(fs.readFileSync(many, 'utf8')).toBe(fs.readFileSync(one, 'utf8'));
    }
    // The gap of ~2 s in b.pcap is filled with zero rows: no holes in the series.
    const b = readJsonl(path.join(dir, 'out', 'b.netflow.jsonl'));
    expect(b.map((r) => r.t_mono_ns)).toEqual(b.map((_, i) => i * 100_000_000));
  });

  it('writes to stdout with -o -, and no progress bar when stderr is not a terminal', async () => {
    const file = path.join(tmpDir(), 'a.pcap');
    fs.writeFileSync(file, pcapGood);
    const { stdout, stderr } = await exec(process.execPath, [LABTEL_BIN, 'bucketize', file, '-o', '-', '--no-fill']);
    expect(stdout.trim().split('\n').map((l) => JSON.parse(l).source)).toEqual(['netflow', 'netflow']);
    expect(stderr).toBe('');
  });

  it('--episode puts the rows on that episode clock', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'episode.json'), JSON.stringify({ clock: { realtime_origin_ns: '1700000000900000000' } }));
    fs.writeFileSync(path.join(dir, 'network.pcap'), pcapGood);
    const { stdout } = await exec(process.execPath, [LABTEL_BIN, 'bucketize', '--episode', dir, '--bucket-ms', '50', '--guest-ip', '10.200.0.10']);
    // Packets at wall T0 + 0, 60, 120 ms; the origin is T0 - 100 ms: t = 100, 160, 220 ms.
    expect(stdout.trim().split('\n').map((l) => [JSON.parse(l).t_mono_ns, JSON.parse(l).pkts_in])).toEqual([[100e6, 1], [150e6, 1], [200e6, 1]]);
  });

  it('a capture jumping back and forth by years: exit 0, a bounded file, every gap counted in a row, and stderr says how many, on both paths', async () => {
    // regression for: each forward jump made 1,000,000 zero rows; on a 4 KB capture like this one the native path
    // grew to 16 GB RSS and died of SIGABRT ("terminate called without an active exception"), writing nothing.
    const YEAR_US = 365 * 86400 * 1e6;
    const recs = Array.from({ length: 40 }, (_, i) => pcapRecord(T0_US + (i % 2 ? ((i + 1) / 2) * YEAR_US : 0) + i, tcpFrame(PEER, GUEST)));
    const bytes = Buffer.concat([pcapHeader(), ...recs]);
    const outs: string[] = [];
    expect(PATHS.length).toBe(2);
    for (const [which, env] of PATHS) {
      const r = await bucketize('jumps.pcap', bytes, [], env);
      expect(r.code, which).toBe(0);
      expect(r.packets, which).toBe(40);
      // 40 packets: at most one row each, plus the fill budget (3600 + 16 per packet).
      expect(r.rows.length, which).toBeLessThanOrEqual(40 + 3600 + 16 * 40);
      const skipped = r.rows.reduce((n, row) => n + (row.empty_buckets_skipped as number), 0);
      expect(skipped, which).toBeGreaterThan(20 * 300_000_000);
      expect(r.stderr, which).toBe(
        `labtel: ${r.file}: 20 gaps between packets (timestamp jumps) longer than --max-empty-buckets 3600 or past the fill budget: ${skipped} empty buckets not written, each gap counted in the next row's empty_buckets_skipped\n`,
      );
      outs.push(JSON.stringify(r.rows));
    }
    expect(outs[1]).toBe(outs[0]);
  });
});
