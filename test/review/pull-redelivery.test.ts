// A pull that stopped after its messages were delivered but before they were
// written (killed, or a refused output tree) leaves them unacknowledged: the
// server gives them again only after the consumer's ack wait, and meanwhile
// the next pull gets the messages after them first. Those earlier rows must
// still be written, in seq order, not skipped as "already written".
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { nanos } from '@nats-io/nats-core';
import { pull } from '../../src/sinks/nats/pull.js';
import { publish, startNats } from '../helpers/nats.js';
import { tmpDir } from '../helpers/tmp.js';

const row = (seq: number) => JSON.stringify({ source: 'host_proc', t_mono_ns: seq * 1000, seq, available_in_deployment: true });
const batch = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `${row(from + i)}\n`).join('');

describe('labtel pull after a pull that died holding messages', () => {
  // regression for: pull skipped every row at or below the last seq written for its source, so rows delivered to a
  // pull that died before writing them (redelivered only after the ack wait) were dropped as duplicates once the
  // next pull had written the rows after them: rows 0-1 were lost for good. Then (the first fix) batches held back
  // together came again out of order, and one written past a gap made the one before it be skipped.
  it('rows redelivered after later ones arrived are written, in seq order, by one pull', async () => {
    const nats = await startNats();
    await publish(nats.url, [
      ['labtel.lab.ep.host_proc', batch(0, 1)],
      // Several after it: held back together, they come again in any order, and must still be written in seq order.
      ...Array.from({ length: 8 }, (_, i): [string, string] => ['labtel.lab.ep.host_proc', batch(2 + 2 * i, 3 + 2 * i)]),
    ]);
    // The durable as pull makes it, with a short ack wait; a pull that is "killed" after its first fetch.
    const nc = await connect({ servers: [nats.url] });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.consumers.add('LABTEL', { durable_name: 'test', ack_policy: AckPolicy.Explicit, ack_wait: nanos(1000) });
      const c = await jetstream(nc).consumers.get('LABTEL', 'test');
      const got: string[] = [];
      for await (const m of await c.fetch({ max_messages: 1, expires: 2000 })) got.push(m.string());
      expect(got).toEqual([batch(0, 1)]); // delivered, never acknowledged
    } finally {
      await nc.close();
    }
    const out = path.join(tmpDir(), 'pulled');
    const r = await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' });
    expect(fs.readFileSync(path.join(out, 'lab', 'ep', 'telemetry-proc.jsonl'), 'utf8')).toBe(batch(0, 17));
    expect(r.rows).toBe(18);
    expect(r.skipped).toBe(0);
    // Nothing is left for the consumer.
    const nc2 = await connect({ servers: [nats.url] });
    try {
      const info = await (await jetstreamManager(nc2)).consumers.info('LABTEL', 'test');
      expect([info.num_pending, info.num_ack_pending]).toEqual([0, 0]);
    } finally {
      await nc2.close();
    }
  });
});

describe('labtel pull and a gap with nothing outstanding', () => {
  // regression for: every batch after a gap in seqs (a stream limit, a forwarder that passed over a corrupt line, or a
  // publisher sending gaps) was held back one ack wait, even when no message was awaiting its ack that could fill it.
  it('a batch after a gap is written at once when no delivery is awaiting its ack', async () => {
    const nats = await startNats();
    await publish(nats.url, [
      ['labtel.lab.ep.host_proc', batch(0, 1)],
      ['labtel.lab.ep.host_proc', batch(5, 6)],
    ]);
    const nc = await connect({ servers: [nats.url] });
    try {
      // An ack wait no test waits out: a hold would show as a pull that does not end.
      await (await jetstreamManager(nc)).consumers.add('LABTEL', { durable_name: 'test', ack_policy: AckPolicy.Explicit, ack_wait: nanos(3_600_000) });
    } finally {
      await nc.close();
    }
    const out = path.join(tmpDir(), 'pulled');
    const r = await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' });
    expect(r).toMatchObject({ rows: 4, held: 0 });
    expect(fs.readFileSync(path.join(out, 'lab', 'ep', 'telemetry-proc.jsonl'), 'utf8')).toBe(batch(0, 1) + batch(5, 6));
  });
});
