// Review of issue 18 point 5 (who may publish what): JetStream drops a
// message whose Nats-Msg-Id it has seen within the duplicate window, across
// the whole stream, whatever its subject. A host allowed only under
// labtel.lab-a.> could therefore publish, on its own subject, the ids host B
// is about to use, and B's rows and episode files were acknowledged as
// duplicates and never stored. Real nats-server with per-host permissions.
import fs from 'node:fs';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { connectNats } from '../../src/sinks/nats/connection.js';
import { NatsForwarder } from '../../src/sinks/nats/forwarder.js';
import { pull } from '../../src/sinks/nats/pull.js';
import { hasNats } from '../helpers/nats.js';
import { startAuthNats } from '../helpers/nats-auth.js';
import { readJsonl, tmpDir } from '../helpers/tmp.js';

const row = (seq: number) => JSON.stringify({ source: 'host_proc', t_mono_ns: 1000 * (seq + 1), seq, pid: 42, cpu_user_s: seq });

describe.runIf(hasNats())("a host cannot suppress another host's messages through JetStream's duplicate window", () => {
  it("host A publishing host B's message ids under its own subjects takes nothing of B's episode from the stream", async () => {
    // regression for: ids were <host>/<episode>/_summary and <host>/<episode>/<source>/<first>-<last>, guessable by any host; host A published them under labtel.lab-a.> (allowed), and host B's summary.json, episode.json and rows were acknowledged as duplicates for 30 minutes and never stored, while B's forwarder counted them forwarded
    const srv = await startAuthNats(['lab-a', 'lab-b']);
    const a = srv.hosts['lab-a']!;
    const b = srv.hosts['lab-b']!;
    const na = await connectNats({ servers: [srv.url], nkey_seed_file: a.seedFile, inbox_prefix: a.inboxPrefix }, { timeout: 5000 });
    const planted: string[] = ['lab-b/ep1/_summary', 'lab-b/ep1/_episode'];
    for (let first = 0; first < 3; first++) for (let last = first; last < 12; last++) planted.push(`lab-b/ep1/host_proc/${first}-${last}`);
    try {
      const js = jetstream(na, { timeout: 5000 });
      expect(planted.length).toBeGreaterThan(0);
      for (const id of planted) {
        const ack = await js.publish('labtel.lab-a.decoy.host_proc', new TextEncoder().encode(row(0) + '\n'), { msgID: id });
        expect(ack.duplicate, id).toBe(false);
      }
    } finally {
      await na.drain();
    }

    const dir = tmpDir('labtel-msgid-ep-');
    fs.writeFileSync(path.join(dir, 'telemetry-proc.jsonl'), Array.from({ length: 10 }, (_, i) => row(i) + '\n').join(''));
    fs.writeFileSync(path.join(dir, 'episode.json'), JSON.stringify({ episode: 'ep1' }));
    fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify({ episode: 'ep1', collectors: {} }));
    const fwd = new NatsForwarder(dir, { servers: [srv.url], stream: 'LABTEL', subject_prefix: 'labtel', replicas: 1, nkey_seed_file: b.seedFile, inbox_prefix: b.inboxPrefix }, { prefix: 'labtel', host: 'lab-b', episode: 'ep1' });
    try {
      expect((await fwd.pass()) && (await fwd.forwardEpisodeFiles())).toBe(true);
    } finally {
      await fwd.close();
    }

    const out = tmpDir('labtel-msgid-out-');
    await pull({ servers: [srv.url], stream: 'LABTEL', out, durable: 'p1', user: srv.puller.user, password_file: srv.puller.passwordFile, inbox_prefix: srv.puller.inboxPrefix });
    const ep = path.join(out, 'lab-b', 'ep1');
    expect(fs.existsSync(path.join(ep, 'summary.json')), 'summary.json of lab-b pulled').toBe(true);
    expect(fs.existsSync(path.join(ep, 'episode.json')), 'episode.json of lab-b pulled').toBe(true);
    expect(fs.existsSync(path.join(ep, 'telemetry-proc.jsonl')), 'rows of lab-b pulled').toBe(true);
    expect(readJsonl(path.join(ep, 'telemetry-proc.jsonl')).map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });
});
