// The captures and flags of the bucketize golden (test/fixtures/bucketize-golden):
// the bench's generator at small sizes with fixed seeds, every recorded
// capture and fuzz seed, and hostile inputs built here. The recorder
// (scripts/record-bucketize-golden.ts) ran them through the labtel of commit
// da5b2d9 (before issue 19's speed work); golden.test.ts runs them through
// this one and compares exit status, stderr and the rows' bytes.
import fs from 'node:fs';
import path from 'node:path';
import { generateCapture } from '../../../../scripts/bench/gen-capture.js';
import { GUEST, PEER, T0_US, ngBlock, ngPacket, ngSection, pcapHeader, pcapRecord, tcpFrame, threeGood, threeGoodNg } from '../../../helpers/capture.js';

export interface GoldenCase {
  name: string;
  /** The capture's file name in the work directory. */
  file: string;
  args: string[];
}

export interface GoldenResult {
  exit: number;
  /** stderr with the capture's path written <FILE>. */
  stderr: string;
  bytes: number;
  sha256: string;
  rows: number;
}

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..', '..');
const FIXTURES = [path.join(ROOT, 'test', 'fixtures', 'pcap'), path.join(ROOT, 'test', 'fixtures', 'fuzz-corpus')];
const GUEST_ARGS = ['--guest-ip', '10.200.0.10'];

/** Hostile captures: records cut short, lengths past every bound, pcapng blocks that lie. */
function hostile(): Record<string, Buffer> {
  const good = Buffer.concat([pcapHeader(), ...threeGood()]);
  const ngGood = Buffer.concat([ngSection(), ...threeGoodNg()]);
  const huge = Buffer.alloc(8);
  huge.writeUInt32LE(6, 0);
  huge.writeUInt32LE(0x7fffff00, 4);
  const later = (i: number) => pcapRecord(T0_US + 1_000_000 + i * 1000, tcpFrame(GUEST, PEER, 0x12));
  const badTrailer = ngPacket(0, 1_700_000_000_200_000n, tcpFrame(PEER, GUEST));
  badTrailer.writeUInt32LE(999, badTrailer.length - 4);
  return {
    'truncated-record.pcap': Buffer.concat([good, pcapRecord(T0_US + 1_000_000, tcpFrame(PEER, GUEST)).subarray(0, 30)]),
    'truncated-header.pcap': Buffer.concat([good, Buffer.alloc(9)]),
    'huge-caplen.pcap': Buffer.concat([pcapHeader(0), ...threeGood(), pcapRecord(T0_US + 1_000_000, Buffer.alloc(64), 300_000, 300_000), later(1), later(2)]),
    'over-snaplen.pcap': Buffer.concat([pcapHeader(40), pcapRecord(T0_US, tcpFrame(PEER, GUEST)), pcapRecord(T0_US + 5000, tcpFrame(GUEST, PEER))]),
    'garbage-run.pcap': Buffer.concat([good, Buffer.alloc(100, 0xff), later(1), later(2), later(3)]),
    'header-only.pcap': pcapHeader(),
    'not-a-capture.pcap': Buffer.from('hello, this is not a capture at all\n'),
    'ng-zero-length.pcapng': Buffer.concat([ngGood, Buffer.from([6, 0, 0, 0, 0, 0, 0, 0]), Buffer.alloc(32)]),
    'ng-unaligned.pcapng': Buffer.concat([ngGood, Buffer.from([6, 0, 0, 0, 30, 0, 0, 0]), Buffer.alloc(26)]),
    'ng-huge-block.pcapng': Buffer.concat([ngGood, huge, Buffer.alloc(64)]),
    'ng-bad-trailer.pcapng': Buffer.concat([ngGood, badTrailer]),
    'ng-undeclared-iface.pcapng': Buffer.concat([ngGood, ngPacket(7, 1_700_000_000_200_000n, tcpFrame(PEER, GUEST))]),
    'ng-odd-blocks.pcapng': Buffer.concat([
      ngSection(),
      ngBlock(4, Buffer.alloc(16)), // name resolution
      ngBlock(0x0bad, Buffer.alloc(20, 7)), // custom (copyable)
      ngBlock(0x12345678, Buffer.alloc(8)), // unknown
      ...threeGoodNg(),
      ngBlock(5, Buffer.alloc(12)), // interface statistics
    ]),
  };
}

/** Writes every capture into dir; returns the cases over them. */
export function writeGoldenCases(dir: string): GoldenCase[] {
  const cases: GoldenCase[] = [];
  const small = path.join(dir, 'gen-small-10000-seed2.pcap');
  const mixed = path.join(dir, 'gen-mixed-10000-seed3.pcap');
  generateCapture(small, 10_000, { small: true, seed: 2 });
  generateCapture(mixed, 10_000, { seed: 3 });
  const gen: Array<[string, string, string[]]> = [
    ['bench flags', small, ['--bucket-ms', '100', ...GUEST_ARGS]],
    ['bench flags, mixed sizes', mixed, ['--bucket-ms', '100', ...GUEST_ARGS]],
    ['lateness (several open buckets), bridge ip', mixed, ['--bucket-ms', '50', '--lateness-ms', '300', ...GUEST_ARGS, '--bridge-ip', '10.200.0.1']],
    ['no fill, guest mac, 7 ms buckets', small, ['--no-fill', '--bucket-ms', '7', '--guest-mac', '52:54:00:12:34:56']],
    ['origin given, 1 ms buckets, few empty buckets', small, ['--bucket-ms', '1', '--origin-wall-ns', '1700000000000000000', '--max-empty-buckets', '2', ...GUEST_ARGS]],
    ['IPv6 guest, no match', mixed, ['--guest-ip', 'fd00::a', '--bucket-ms', '100']],
  ];
  for (const [name, file, args] of gen) cases.push({ name: `generator: ${name}`, file: path.basename(file), args });
  for (const [name, bytes] of Object.entries(hostile())) {
    fs.writeFileSync(path.join(dir, name), bytes);
    cases.push({ name: `hostile: ${name}`, file: name, args: GUEST_ARGS });
    cases.push({ name: `hostile: ${name} --skip-bad`, file: name, args: [...GUEST_ARGS, '--skip-bad'] });
  }
  for (const fixtures of FIXTURES) {
    for (const f of fs.readdirSync(fixtures).filter((n) => /\.(pcap|pcapng)$/.test(n)).sort()) {
      const name = `${path.basename(fixtures)}-${f}`;
      // A fuzz seed starts with the fuzzer's two control bytes ([ctl][seed]): the capture is the rest.
      const bytes = fs.readFileSync(path.join(fixtures, f));
      fs.writeFileSync(path.join(dir, name), fixtures.endsWith('fuzz-corpus') ? bytes.subarray(2) : bytes);
      cases.push({ name: `fixture: ${name}`, file: name, args: GUEST_ARGS });
      cases.push({ name: `fixture: ${name} --skip-bad`, file: name, args: [...GUEST_ARGS, '--skip-bad', '--bucket-ms', '10'] });
    }
  }
  return cases;
}
