// labtel verify on a pulled episode with stub rows: a row the NATS forwarder
// could not send (larger than a message may carry) arrives as its envelope
// and "stub": why. Verify reports it as what it is (the source, how many, the
// first reason) and never counts it as a measurement.
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyEpisode } from '../../src/verify/verify-episode.js';
import { cleanEpisode, copyOf, type Row } from './crafted-episode.js';

let clean: string;
beforeAll(async () => {
  clean = await cleanEpisode();
});

/** The row as the wire contract's stub stands for it: its envelope, and why. */
const stub = (r: Row, bytes: number): Row => ({
  source: r.source,
  t_mono_ns: r.t_mono_ns,
  seq: r.seq,
  stub: `not forwarded: the row is ${bytes} bytes, over the 1048320 bytes a message may carry on this NATS server; it is in telemetry-proc.jsonl on host lab-a`,
});

describe('labtel verify on stub rows', () => {
  // regression for: a stub row failed its row schema, so a pulled episode with one row too large for NATS was
  // "failed: rows fail their schema" and the reason it was not forwarded was never shown.
  it('stub rows make the collector degraded, naming the source, the count and the first reason; their seqs still count', () => {
    let rows = 0;
    const dir = copyOf(clean, (rs) => {
      rows = rs.length;
      return rs.map((r, i) => (i === 3 || i === 5 ? stub(r, 2_000_123 + i) : r));
    });
    expect(rows).toBeGreaterThan(6);
    const proc = verifyEpisode(dir).collectors.proc!;
    expect(proc.verdict).toBe('degraded');
    expect(proc.rows).toBe(rows);
    expect(proc.reasons).toEqual([
      '2 host_proc rows are stubs, not measurements: the rows were not forwarded (first: line 4: not forwarded: the row is 2000126 bytes, over the 1048320 bytes a message may carry on this NATS server; it is in telemetry-proc.jsonl on host lab-a)',
    ]);
  });

  // regression for: stubs must not pass for measurements: an episode whose every row is a stub measured nothing.
  it('a source whose every row is a stub has measured nothing: failed, and the stubs are named', () => {
    const dir = copyOf(clean, (rs) => rs.map((r) => stub(r, 5_000_000)));
    const proc = verifyEpisode(dir).collectors.proc!;
    expect(proc.verdict).toBe('failed');
    expect(proc.reasons.some((x) => x.includes('host_proc rows are stubs, not measurements'))).toBe(true);
    expect(proc.reasons.some((x) => /fail their schema/.test(x))).toBe(false);
  });
});
