// Issue 17 point 6, reviewed: a capture whose timestamps jump is bounded in
// rows, and `labtel bucketize` must also stay bounded in memory while it
// writes them: the native path hands rows to JS in blocks of about 64 MiB of
// text, and those blocks must not be kept until the whole file is done.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bucketizeFile } from '../../src/collectors/netflow/offline/bucketize-file.js';
import { JsonlWriter } from '../../src/rows/jsonl-writer.js';
import { tmpDir } from '../helpers/tmp.js';
import { addon, GUEST4, pcap, type Rec } from '../collectors/netflow/harness.js';

/** Empty records (16 bytes each) 17 buckets of 100 ms apart: each earns 16 zero rows of fill budget, so every gap is filled. */
function creditCapture(n: number): Rec[] {
  return Array.from({ length: n }, (_, i) => {
    const ms = i * 1700;
    return { ts: 0n, sec: 1_600_000_000 + Math.floor(ms / 1000), frac: (ms % 1000) * 1000, data: [] };
  });
}

describe('labtel bucketize on a hostile capture: memory', () => {
  it('native path: RSS stays bounded while 2.5M rows (1.3 GB of JSONL) of a 2.4 MB capture are written', () => {
    // regression for: runFd created each 64 MiB text block as a JS string in the call's own handle scope, so every block
    // stayed alive until the whole capture was done: RSS grew with the output (3.3 GB for a 6M-row gap; a hostile capture
    // within the default fill budget writes about 17 rows per 16-byte record, so a 100 MB capture would need ~50 GB).
    expect(addon, 'the native addon').not.toBeNull();
    const dir = tmpDir();
    const file = `${dir}/credit.pcap`;
    const packets = 150_000;
    fs.writeFileSync(file, pcap({}, creditCapture(packets)));
    const sink = fs.openSync('/dev/null', 'w');
    const writer = new JsonlWriter({ fd: sink, name: '/dev/null' }, { availableInDeployment: true });
    const rssBefore = process.memoryUsage().rss;
    const samples: number[] = [];
    const r = bucketizeFile(file, writer, { bucketMs: 100, guestIp: GUEST4, kind: 'native', onProgress: () => samples.push(process.memoryUsage().rss) });
    samples.push(process.memoryUsage().rss);
    writer.close();
    fs.closeSync(sink);
    expect(r.kind).toBe('native');
    // Every gap of 16 empty buckets filled: one row per packet and 16 zero rows after each but the last.
    expect(r.rows).toBe(packets + 16 * (packets - 1));
    expect(r.status).toMatchObject({ ok: true, packets, holes: 0, emptyBucketsSkipped: 0 });
    // Handed over in many blocks, and none of them kept.
    expect(samples.length).toBeGreaterThan(10);
    const growth = Math.max(...samples) - rssBefore;
    expect(growth, 'RSS growth, bytes').toBeLessThan(512 << 20);
  });

  it('pure-TS path: RSS stays bounded on a 2 MiB capture of such records (2.2M rows)', () => {
    // regression for: the TS path fed each 4 MiB read at once and feed() returns every row it closed in one Float64Array
    // (216 bytes a row, in an array grown by doubling, then copied): 1.9 GB of RSS for a 4 MiB capture, 513 MB more for this one (43 MB fed 64 KiB at a time).
    const dir = tmpDir();
    const file = `${dir}/credit.pcap`;
    const packets = 130_000;
    fs.writeFileSync(file, pcap({}, creditCapture(packets)));
    const sink = fs.openSync('/dev/null', 'w');
    const writer = new JsonlWriter({ fd: sink, name: '/dev/null' }, { availableInDeployment: true });
    const rssBefore = process.memoryUsage().rss;
    const samples: number[] = [];
    const r = bucketizeFile(file, writer, { bucketMs: 100, guestIp: GUEST4, kind: 'ts', onProgress: () => samples.push(process.memoryUsage().rss) });
    samples.push(process.memoryUsage().rss);
    writer.close();
    fs.closeSync(sink);
    expect(r.kind).toBe('ts');
    expect(r.rows).toBe(packets + 16 * (packets - 1));
    expect(r.status).toMatchObject({ ok: true, packets, holes: 0, emptyBucketsSkipped: 0 });
    expect(samples.length).toBeGreaterThan(0);
    const growth = Math.max(...samples) - rssBefore;
    expect(growth, 'RSS growth, bytes').toBeLessThan(192 << 20);
  });
});
