// The forwarder's memory against a real nats-server: a backlog of about
// 200 MB of rows (an agent that could not reach NATS for a long episode) is
// forwarded with one read window and the acknowledgements of one window in
// flight, so the process's RSS grows by a bounded amount, not with the
// backlog.
import fs from 'node:fs';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { natsSinkConfig } from '../../../src/sinks/nats/config.js';
import { NatsForwarder } from '../../../src/sinks/nats/forwarder.js';
import { hasNats, startNats } from '../../helpers/nats.js';
import { tmpDir } from '../../helpers/tmp.js';
import { row } from './forward-stream.js';

const BACKLOG_BYTES = 200e6;
const BOUND = 64 << 20;
const rssNow = () => Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;

describe.skipIf(!hasNats())('the forwarder\'s memory', () => {
  // Regression for: memory that grows with the backlog (every row of a read kept with its own copy and promise
  // until the whole read was acknowledged); the bound here is generous, the growth must not follow the 200 MB.
  it(`forwards a ${BACKLOG_BYTES / 1e6} MB backlog with RSS growth under ${BOUND >> 20} MiB`, async () => {
    const nats = await startNats();
    const dir = path.join(tmpDir(), 'ep');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'telemetry-proc.jsonl');
    const fd = fs.openSync(file, 'w');
    let rows = 0;
    for (let bytes = 0; bytes < BACKLOG_BYTES; ) {
      const chunk = Array.from({ length: 5000 }, (_, i) => row('host_proc', rows + i, { pad: 'q'.repeat(900) })).join('');
      fs.writeSync(fd, chunk);
      bytes += chunk.length;
      rows += 5000;
    }
    fs.closeSync(fd);
    const f = new NatsForwarder(dir, natsSinkConfig.parse({ servers: [nats.url], host: 'lab-a' }), { prefix: 'labtel', host: 'lab-a', episode: 'ep' });
    try {
      await f.connect();
      global.gc?.();
      const rss0 = rssNow();
      let peak = rss0;
      const samples: number[] = [];
      const sampler = setInterval(() => {
        const r = rssNow();
        samples.push(r);
        peak = Math.max(peak, r);
      }, 20);
      const ok = await f.pass().finally(() => clearInterval(sampler));
      peak = Math.max(peak, rssNow());
      expect(ok, f.progress.error ?? '').toBe(true);
      expect(samples.length).toBeGreaterThan(0); // sampled while it ran
      expect(peak - rss0, `RSS grew from ${rss0} to ${peak} bytes forwarding ${fs.statSync(file).size} bytes`).toBeLessThan(BOUND);
      expect(f.progress).toMatchObject({ published: rows, stubs: 0, corrupt: 0, error: null });
      expect(f.accounting().by_source).toEqual({ host_proc: { forwarded: rows, stubs: 0, remaining: 0 } });
    } finally {
      await f.close();
    }
    // The stream holds the whole file, its last message ending at the last row.
    const nc = await connect({ servers: [nats.url] });
    try {
      const jsm = await jetstreamManager(nc);
      const { state } = await jsm.streams.info('LABTEL');
      expect(state.messages).toBeGreaterThan(0);
      const last = await jsm.streams.getMessage('LABTEL', { seq: state.last_seq });
      expect(last!.header?.get('Nats-Msg-Id')).toMatch(new RegExp(`^lab-a/ep/host_proc/\\d+-${rows - 1}/[A-Za-z0-9_-]+$`));
    } finally {
      await nc.drain();
    }
  });
});
