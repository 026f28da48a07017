// A pull killed after it appended a fetch's rows but before it saved its state
// (and so before it acknowledged them): the server redelivers those messages,
// and the state says they were never written.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pull } from '../../src/sinks/nats/pull.js';
import { publish, startNats } from '../helpers/nats.js';
import { tmpDir } from '../helpers/tmp.js';

const row = (seq: number) => JSON.stringify({ source: 'host_proc', t_mono_ns: seq * 1000, seq, available_in_deployment: true });
const batch = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `${row(from + i)}\n`).join('');

describe('labtel pull after a pull killed between its write and its state save', () => {
  // regression for: rows appended before the kill were appended again at the redelivery (the state still said
  // seq 1), so the pulled file had rows 2-3 twice; and a write cut short left half a line before the next row.
  it.each([
    ['whole rows', batch(2, 3)],
    ['half a row', batch(2, 3).slice(0, 100)],
  ])('the rows past what the state remembers (%s) are dropped, then written once from the redelivery', async (_, torn) => {
    const nats = await startNats();
    await publish(nats.url, [['labtel.lab.ep.host_proc', batch(0, 1)]]);
    const out = path.join(tmpDir(), 'pulled');
    expect((await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' })).rows).toBe(2);
    const file = path.join(out, 'lab', 'ep', 'telemetry-proc.jsonl');
    // What the killed pull left: the next message's rows on disk, its state and its ack not.
    await publish(nats.url, [['labtel.lab.ep.host_proc', batch(2, 3)]]);
    fs.appendFileSync(file, torn);
    const r = await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' });
    expect(fs.readFileSync(file, 'utf8')).toBe(batch(0, 3));
    expect(r.rows).toBe(2);
  });
});
