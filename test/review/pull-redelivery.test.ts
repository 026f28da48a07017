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
  // next pull had written the rows after them: rows 0-1 were lost for good.
  it('rows redelivered after later ones arrived are written, in seq order, by one pull', async () => {
    const nats = await startNats();
    await publish(nats.url, [
      ['labtel.lab.ep.host_proc', batch(0, 1)],
      ['labtel.lab.ep.host_proc', batch(2, 3)],
      ['labtel.lab.ep.host_proc', batch(4, 5)],
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
    expect(fs.readFileSync(path.join(out, 'lab', 'ep', 'telemetry-proc.jsonl'), 'utf8')).toBe(batch(0, 5));
    expect(r.rows).toBe(6);
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
