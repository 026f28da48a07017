// Review of the batched forwarder (issue 18 points 1 and 3), against a real
// nats-server: what pull keeps (each source's rows in seq order, dropping a
// seq at or below the last it wrote) must be every row of the files, even
// when JetStream refuses one batch and takes the next, and even when a rows
// file holds a line claiming another file's source.
import fs from 'node:fs';
import path from 'node:path';
import { DiscardPolicy, jetstreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { natsSinkConfig } from '../../src/sinks/nats/config.js';
import { CATALOG } from '../../src/collectors/catalog.js';
import { NatsForwarder } from '../../src/sinks/nats/forwarder.js';
import { fileOfSource } from '../../src/sinks/nats/subjects.js';
import { hasNats } from '../helpers/nats.js';
import { tmpDir } from '../helpers/tmp.js';
import { fileRowsBySource, linesOf, readStream, row, rowsBySource, startNatsWithMaxPayload } from '../sinks/nats/forward-stream.js';

const MAX_PAYLOAD = 65536;
const key = { prefix: 'labtel', host: 'lab-a', episode: 'ep' };
const forwarder = (dir: string, url: string) => new NatsForwarder(dir, natsSinkConfig.parse({ servers: [url], host: key.host }), key);
/** `n` proc rows from seq `from`, each about 600 bytes. */
const procRows = (from: number, n: number) => Array.from({ length: n }, (_, i) => row('host_proc', from + i, { pad: 'p'.repeat(520) })).join('');

describe('forwarder review: the file of each source', () => {
  // Guards the check below: a collector whose source is missing from FILE_OF_SOURCE (subjects.ts) would have every
  // row of its file passed over by the forwarder as another file's, and pulled into another file.
  it('every source of every collector maps to its collector\'s rows file', () => {
    const pairs = CATALOG.flatMap((c) => c.rows.map((r) => [r.source as string, c.name as string] as const));
    expect(pairs.length).toBeGreaterThan(0);
    for (const [source, name] of pairs) expect(fileOfSource(source), source).toBe(name);
    expect(fileOfSource('agent')).toBe('agent');
  });
});

describe.skipIf(!hasNats())('forwarder review: what pull keeps is every row', () => {
  // regression for: a window's batches were published all at once, so when JetStream refused one (here a stream
  // at its max_bytes with discard new; in a cluster, a 503 while a stream leader is elected) and took the next of
  // the same source, the later rows were stored first; the retry stored the refused ones after them, and pull,
  // which drops a seq at or below the last it wrote, dropped them for good.
  it('a batch JetStream refuses is never overtaken by a later batch of its source', async () => {
    const nats = await startNatsWithMaxPayload(MAX_PAYLOAD);
    const nc = await connect({ servers: [nats.url] });
    const jsm = await jetstreamManager(nc);
    // The lab's admin made the stream with a byte limit: a ~64 KB batch does not fit, a ~9 KB one does.
    await jsm.streams.add({ name: 'LABTEL', subjects: ['labtel.>'], duplicate_window: nanos(60_000), max_bytes: 30_000, discard: DiscardPolicy.New });
    const dir = path.join(tmpDir(), 'ep');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'telemetry-proc.jsonl'), procRows(0, 120)); // one full batch, then a small one
    const f = forwarder(dir, nats.url);
    try {
      expect(await f.pass()).toBe(false);
      expect(f.progress.error).toMatch(/^publishing host_proc seq 0-\d+ of telemetry-proc\.jsonl: /);
      // Once the admin lifts the limit, the next pass sends what is left.
      const info = await jsm.streams.info('LABTEL');
      await jsm.streams.update('LABTEL', { ...info.config, max_bytes: -1 });
      expect(await f.pass(), f.progress.error ?? '').toBe(true);
      expect(f.accounting().by_source).toEqual({ host_proc: { forwarded: 120, stubs: 0, remaining: 0 } });
    } finally {
      await f.close();
      await nc.drain();
    }
    const msgs = await readStream(nats.url);
    expect(msgs.length).toBeGreaterThan(0);
    // Stored in seq order: each message starts past the last seq stored before it.
    let last = -1;
    for (const m of msgs) {
      const first = (JSON.parse(linesOf(m.data)[0]!) as { seq: number }).seq;
      expect(first, `${m.id} stored after seq ${last}`).toBeGreaterThan(last);
      last = (JSON.parse(linesOf(m.data).at(-1)!) as { seq: number }).seq;
    }
    expect(rowsBySource(msgs).get('host_proc')).toEqual(fileRowsBySource(dir).get('host_proc'));
  });

  // regression for: a line of telemetry-proc.jsonl claiming "source":"guest" with a high seq was published as a guest
  // row and moved the cursor's acknowledged guest seq up to it, so every later row of telemetry-guest_agent.jsonl
  // was passed over as already acknowledged (counted as skipped, never sent, and not counted as remaining).
  it('a line whose source belongs to another file is passed over, and that file\'s rows all go', async () => {
    const nats = await startNatsWithMaxPayload(MAX_PAYLOAD);
    const dir = path.join(tmpDir(), 'ep');
    fs.mkdirSync(dir);
    const guestFile = path.join(dir, 'telemetry-guest_agent.jsonl');
    const guestRows = (from: number, n: number) => Array.from({ length: n }, (_, i) => row('guest', from + i)).join('');
    fs.writeFileSync(guestFile, guestRows(0, 10));
    const foreign = row('guest', 1_000_000, { line: 'planted' });
    fs.writeFileSync(path.join(dir, 'telemetry-proc.jsonl'), procRows(0, 5) + foreign + procRows(5, 5));
    const f = forwarder(dir, nats.url);
    try {
      expect(await f.pass(), f.progress.error ?? '').toBe(true);
      fs.appendFileSync(guestFile, guestRows(10, 10));
      expect(await f.pass(), f.progress.error ?? '').toBe(true);
      expect(f.progress).toMatchObject({ published: 30, skipped: 0, corrupt: 1 });
      const acc = f.accounting();
      expect(acc.by_source).toEqual({ guest: { forwarded: 20, stubs: 0, remaining: 0 }, host_proc: { forwarded: 10, stubs: 0, remaining: 0 } });
      expect(acc.error).toContain(`the first at byte ${procRows(0, 5).length} of telemetry-proc.jsonl`);
    } finally {
      await f.close();
    }
    const msgs = await readStream(nats.url);
    const pulled = rowsBySource(msgs);
    expect(pulled.get('guest')).toEqual(guestRows(0, 20).slice(0, -1).split('\n'));
    expect(pulled.get('host_proc')).toEqual(procRows(0, 10).slice(0, -1).split('\n'));
  });
});
