// Rows larger than a NATS message may carry, and lines longer than the
// forwarder's 4 MiB read window, against a real nats-server whose
// max_payload is 64 KiB (so "larger than a message" is cheap): each goes as a
// stub line keeping its envelope and saying why, counted in the progress and
// the accounting, and every row after it, in its file and in the others, is
// forwarded. episode.json or summary.json too large goes as {"stub": why}.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { natsSinkConfig } from '../../../src/sinks/nats/config.js';
import { NatsForwarder, WINDOW_BYTES } from '../../../src/sinks/nats/forwarder.js';
import { jetstreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { hasNats, startNats } from '../../helpers/nats.js';
import { tmpDir } from '../../helpers/tmp.js';
import { fileRowsBySource, readStream, row, rowOfSize, rowsBySource, startNatsWithMaxPayload } from './forward-stream.js';

const MAX_PAYLOAD = 65536;
const key = { prefix: 'labtel', host: 'lab-a', episode: 'ep' };
const rssNow = () => Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;

describe.skipIf(!hasNats())('rows too large for a NATS message', () => {
  // Regression for: "a guest line near 1 MiB exceeded NATS's max_payload and stopped forwarding" (the publish
  // failed at every pass, so no row after it in any file went), and "a row over 4 MiB was silently never sent"
  // (a line longer than the read window was never found whole, and its file stopped there without a word).
  it('a row over max_payload, one over the 4 MiB window and a 15 MiB one become stubs; every row after them goes', async () => {
    const nats = await startNatsWithMaxPayload(MAX_PAYLOAD);
    const dir = path.join(tmpDir(), 'ep');
    fs.mkdirSync(dir);
    const big = [100_000, WINDOW_BYTES + 123_456, 15 << 20];
    const guest = [row('guest', 0), rowOfSize('guest', 1, big[0]!), row('guest', 2), rowOfSize('guest', 3, big[1]!), row('guest', 4), rowOfSize('guest', 5, big[2]!), row('guest', 6)];
    fs.writeFileSync(path.join(dir, 'telemetry-guest_agent.jsonl'), guest.join(''));
    fs.writeFileSync(path.join(dir, 'telemetry-proc.jsonl'), [0, 1, 2].map((i) => row('host_proc', i)).join(''));
    fs.writeFileSync(path.join(dir, 'episode.json'), JSON.stringify({ episode: 'ep' }));
    fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify({ errors: ['e'.repeat(MAX_PAYLOAD)] }));
    const f = new NatsForwarder(dir, natsSinkConfig.parse({ servers: [nats.url], host: key.host }), key);
    const rss0 = rssNow();
    try {
      expect(await f.pass(), f.progress.error ?? '').toBe(true);
      expect(await f.forwardEpisodeFiles()).toBe(true);
      const rssGrowth = rssNow() - rss0;
      expect(rssGrowth, 'RSS growth while forwarding a 15 MiB line').toBeLessThan(64 << 20);
      const limit = f.messageLimit();
      expect(f.progress).toEqual({ published: 10, skipped: 0, stubs: 3, corrupt: 0, error: null });
      expect(f.accounting()).toEqual({
        by_source: { guest: { forwarded: 7, stubs: 3, remaining: 0 }, host_proc: { forwarded: 3, stubs: 0, remaining: 0 } },
        files: { episode: true, summary: true },
        error: null,
      });

      const msgs = await readStream(nats.url);
      expect(msgs.length).toBeGreaterThan(0);
      for (const m of msgs) expect(m.data.length).toBeLessThanOrEqual(limit);
      const pulled = rowsBySource(msgs);
      // Every row is there in its place, the large ones as stubs keeping their envelope and saying why.
      const got = pulled.get('guest')!;
      expect(got.length).toBe(7);
      for (const [i, seq] of [1, 3, 5].entries()) {
        expect(JSON.parse(got[seq]!)).toEqual({
          source: 'guest',
          t_mono_ns: 1000 + seq,
          seq,
          stub: `not forwarded: the row is ${big[i]! - 1} bytes, over the ${limit} bytes a message may carry on this NATS server; it is in telemetry-guest_agent.jsonl on host lab-a`,
        });
      }
      const expected = fileRowsBySource(dir);
      for (const seq of [0, 2, 4, 6]) expect(got[seq]).toBe(expected.get('guest')![seq]);
      expect(pulled.get('host_proc')).toEqual(expected.get('host_proc'));
      // The stub of summary.json, and episode.json as it is.
      const summary = msgs.filter((m) => m.subject === 'labtel.lab-a.ep._summary');
      expect(summary.length).toBe(1);
      const size = fs.statSync(path.join(dir, 'summary.json')).size;
      expect(JSON.parse(summary[0]!.data.toString())).toEqual({
        stub: `not forwarded: summary.json is ${size} bytes, over the ${limit} bytes a message may carry on this NATS server; it is in the episode directory on host lab-a`,
      });
      expect(msgs.filter((m) => m.subject === 'labtel.lab-a.ep._episode').map((m) => m.data.toString())).toEqual([JSON.stringify({ episode: 'ep' })]);
    } finally {
      await f.close();
    }
  });

  // Regression for: a line longer than the read window that was still being written (no newline yet) was never
  // sent and never waited for; now it waits until whole, then goes (here as a stub).
  it('a line over the 4 MiB window still being written waits, and goes once whole', async () => {
    const nats = await startNatsWithMaxPayload(MAX_PAYLOAD);
    const dir = path.join(tmpDir(), 'ep');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'telemetry-guest_agent.jsonl');
    const long = rowOfSize('guest', 1, WINDOW_BYTES * 2);
    fs.writeFileSync(file, row('guest', 0) + long.slice(0, WINDOW_BYTES + 10));
    const f = new NatsForwarder(dir, natsSinkConfig.parse({ servers: [nats.url], host: key.host }), key);
    try {
      expect(await f.pass(), f.progress.error ?? '').toBe(true);
      expect(f.progress.published).toBe(1);
      expect(f.accounting().by_source).toEqual({ guest: { forwarded: 1, stubs: 0, remaining: 0 } });
      fs.appendFileSync(file, long.slice(WINDOW_BYTES + 10) + row('guest', 2));
      expect(f.accounting().by_source).toEqual({ guest: { forwarded: 1, stubs: 0, remaining: 2 } });
      expect(await f.pass(), f.progress.error ?? '').toBe(true);
      expect(f.progress).toMatchObject({ published: 3, stubs: 1 });
      const got = rowsBySource(await readStream(nats.url)).get('guest')!;
      expect(got.length).toBe(3);
      expect(JSON.parse(got[1]!)).toMatchObject({ source: 'guest', seq: 1, stub: expect.stringContaining(`the row is ${long.length - 1} bytes`) });
      expect(got[2]).toBe(row('guest', 2).trimEnd());
    } finally {
      await f.close();
    }
  });

  // Regression for: a stream made by an administrator with a max_msg_size under the server's max_payload refused
  // every batch over it, and (with one row over it) stopped forwarding as max_payload did.
  it('a stream whose max_msg_size is under the server\'s bound: batches keep under it, a larger row goes as a stub', async () => {
    const nats = await startNats();
    const nc = await connect({ servers: [nats.url] });
    await (await jetstreamManager(nc)).streams.add({ name: 'LABTEL', subjects: ['labtel.>'], duplicate_window: nanos(60_000), max_msg_size: 4096 });
    await nc.drain();
    const dir = path.join(tmpDir(), 'ep');
    fs.mkdirSync(dir);
    const rows = [...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => row('host_proc', i, { pad: 'z'.repeat(600) })), rowOfSize('host_proc', 10, 5000), row('host_proc', 11)];
    fs.writeFileSync(path.join(dir, 'telemetry-proc.jsonl'), rows.join(''));
    const f = new NatsForwarder(dir, natsSinkConfig.parse({ servers: [nats.url], host: key.host }), key);
    try {
      expect(await f.pass(), f.progress.error ?? '').toBe(true);
      const limit = f.messageLimit();
      expect(limit).toBeLessThan(4096);
      expect(f.progress).toMatchObject({ published: 12, stubs: 1, error: null });
      const msgs = await readStream(nats.url);
      expect(msgs.length).toBeGreaterThan(2);
      for (const m of msgs) expect(m.data.length).toBeLessThanOrEqual(limit);
      const got = rowsBySource(msgs).get('host_proc')!;
      expect(got.length).toBe(12);
      expect(JSON.parse(got[10]!)).toMatchObject({ seq: 10, stub: `not forwarded: the row is 4999 bytes, over the ${limit} bytes a message may carry on this NATS server; it is in telemetry-proc.jsonl on host lab-a` });
      expect(got[11]).toBe(rows[11]!.trimEnd());
    } finally {
      await f.close();
    }
  });
});
