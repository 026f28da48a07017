// How labtel pull fetches from a real nats-server: bounded in bytes whatever
// the backlog, and not stalled by the client's fetch-by-bytes limits.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pull } from '../../../src/sinks/nats/pull.js';
import { publish, startNats } from '../../helpers/nats.js';
import { readJsonl, tmpDir } from '../../helpers/tmp.js';

const row = (seq: number) => JSON.stringify({ source: 'host_proc', t_mono_ns: seq * 1000, seq, available_in_deployment: true });

describe('labtel pull fetches', () => {
  // regression for: fetches asked for 1000 messages whatever their size, so a backlog of large messages was held in
  // memory a thousand at a time (1000 MiB at the default max_payload); a fetch is now bounded in bytes.
  it('a backlog of 96 messages of 1 MiB is pulled with the memory of a few fetches, each set aside and counted', async () => {
    const nats = await startNats();
    const garbage = 'x'.repeat((1 << 20) - 4096);
    const msgs = Array.from({ length: 96 }, () => ['labtel.lab.ep.host_proc', garbage] as [string, string]);
    await publish(nats.url, [...msgs, ['labtel.lab.ep.host_proc', row(0)]]);
    const out = path.join(tmpDir(), 'pulled');
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    let r: Awaited<ReturnType<typeof pull>>;
    try {
      r = await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' });
    } finally {
      clearInterval(timer);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(r.rejected.not_a_row).toBe(96);
    expect(r.setAside.not_a_row?.length).toBe(5);
    expect(readJsonl(path.join(out, 'lab', 'ep', 'telemetry-proc.jsonl')).map((x) => x.seq)).toEqual([0]);
    // Two fetches of 8 MiB in flight at most, plus the client's copies: far below the 96 MiB backlog.
    expect(peak - rss0, `RSS grew ${peak - rss0} bytes`).toBeLessThan(64 << 20);
  });

  // regression for: a fetch by bytes asks for 100 messages (the client's default beside a byte bound), and the
  // client then waited for the rest of the bytes until two heartbeats were missed and threw "heartbeats missed".
  it('more than 100 small messages (the old one-row format) are all pulled, each once', async () => {
    const nats = await startNats();
    await publish(nats.url, Array.from({ length: 250 }, (_, i) => ['labtel.lab.ep.host_proc', row(i)] as [string, string]));
    const out = path.join(tmpDir(), 'pulled');
    const r = await pull({ servers: [nats.url], stream: 'LABTEL', out, durable: 'test' });
    expect(r.rows).toBe(250);
    expect(readJsonl(path.join(out, 'lab', 'ep', 'telemetry-proc.jsonl')).map((x) => x.seq)).toEqual(Array.from({ length: 250 }, (_, i) => i));
  });
});
