// The addon's runFd hands the rows back as JSONL formatted straight into one
// reusable 1 MiB buffer, as a Uint8Array view of it. However often the buffer
// fills, the lines must be the rows feed()/finish() give, formatted as the
// pure-TS writer formats them, each hand-over whole lines counted right.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { JsonlWriter } from '../../../../src/rows/jsonl-writer.js';
import { writeNetflowRows } from '../../../../src/collectors/netflow/write-rows.js';
import type { CaptureBucketizer } from '../../../../src/native/types.js';
import { tmpDir } from '../../../helpers/tmp.js';
import { addon, BASE, GUEST4, ms, pcap, PEER4, udp4, type Rec } from '../harness.js';

const BUCKET_MS = 100;
const opts = (maxEmptyBuckets: number) => ({ bucketNs: BUCKET_MS * 1e6, fillEmpty: true, latenessNs: 0, skipBad: false, guestIps: [], guestMacs: [], bridgeIps: [], maxEmptyBuckets });

/** Packets with gaps between them: `zeros` empty buckets in each gap, every one written as a zero row. */
function gapFile(gaps: number, zeros: number): string {
  const recs: Rec[] = [];
  for (let g = 0; g <= gaps; g++) recs.push({ ts: BASE + ms(g * (zeros + 1) * BUCKET_MS), data: udp4(PEER4, GUEST4, 5000 + g, 53, [1, 2, 3]) });
  const file = path.join(tmpDir(), 'gaps.pcap');
  fs.writeFileSync(file, pcap({}, recs));
  return file;
}

interface Hand {
  lines: string;
  rows: number;
  kind: string;
}

/** runFd over a file, every hand-over kept (copied out of the reused buffer before the next). */
function runFd(file: string, maxEmptyBuckets: number, seq = 5): Hand[] {
  const b = new addon!.CaptureBucketizer(opts(maxEmptyBuckets)) as CaptureBucketizer;
  const hands: Hand[] = [];
  const fd = fs.openSync(file, 'r');
  try {
    const format = { bucketMs: BUCKET_MS, availableInDeployment: true, seq };
    expect(b.runFd!(fd, format, (lines, rows) => hands.push({ lines: Buffer.from(lines).toString('latin1'), rows, kind: lines.constructor.name })).readErrno).toBe(0);
  } finally {
    fs.closeSync(fd);
  }
  return hands;
}

/** The same rows through feed()/finish() and the pure-TS row writer. */
function tsText(file: string, maxEmptyBuckets: number, seq = 5): string {
  const b = new addon!.CaptureBucketizer(opts(maxEmptyBuckets)) as CaptureBucketizer;
  const out = path.join(tmpDir(), 'ts.jsonl');
  const w = new JsonlWriter(out, { availableInDeployment: true });
  for (let i = 0; i < seq; i++) w.writeMembers('netflow', 0, ''); // so that its rows count from seq
  writeNetflowRows(w, BUCKET_MS, b.feed(fs.readFileSync(file)));
  const end = b.finish();
  writeNetflowRows(w, BUCKET_MS, end.rows, end.lastPartial);
  w.close();
  return fs.readFileSync(out, 'latin1').split('\n').slice(seq).join('\n');
}

describe('runFd: rows handed back as JSONL from one reused buffer', () => {
  it('finds the addon', () => {
    expect(addon, 'the native addon').not.toBeNull();
  });

  // Regression for: a row cut across two hand-overs, or a hand-over's row count not its lines, once the rows of one
  // block of packets outgrow the buffer (a gap of 5,000 zero rows is ~2.3 MiB of JSONL).
  it('a block whose rows outgrow the buffer comes in pieces of whole lines, the same text as the TS writer', () => {
    const file = gapFile(3, 5000);
    const hands = runFd(file, 20000);
    expect(hands.length).toBeGreaterThan(3);
    for (const h of hands) {
      expect(h.kind).toBe('Uint8Array');
      expect(h.lines.length).toBeLessThanOrEqual(1 << 20);
      expect(h.lines === '' || h.lines.endsWith('\n')).toBe(true);
      expect(h.lines.split('\n').length - 1).toBe(h.rows);
    }
    const text = hands.map((h) => h.lines).join('');
    expect(hands.reduce((s, h) => s + h.rows, 0)).toBe(3 * 5000 + 4);
    expect(text).toBe(tsText(file, 20000));
    expect(JSON.parse(text.trimEnd().split('\n')[0]!).seq).toBe(5);
  });

  // Regression for: the addon writing rows into memory it no longer owns after onLines transferred the buffer away.
  it('refuses to go on when onLines took the buffer away (transferred), rather than write into it', () => {
    const file = gapFile(3, 5000);
    const b = new addon!.CaptureBucketizer(opts(20000)) as CaptureBucketizer;
    const fd = fs.openSync(file, 'r');
    let calls = 0;
    try {
      expect(() =>
        b.runFd!(fd, { bucketMs: BUCKET_MS, availableInDeployment: true, seq: 0 }, (lines) => {
          calls++;
          const buffer = lines.buffer as ArrayBuffer;
          structuredClone(buffer, { transfer: [buffer] });
        }),
      ).toThrow("runFd: onLines took the rows' buffer away");
    } finally {
      fs.closeSync(fd);
    }
    expect(calls).toBe(1);
  });
});
