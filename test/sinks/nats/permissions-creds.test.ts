// Per-host permissions with decentralized auth (an operator, an account and
// a user JWT per host, as nsc sets them up): each host gets a .creds file
// (sinks.nats.credentials) whose JWT allows publishing only under
// labtel.<host>.>; the puller's only reads. Real nats-server in operator mode.
import fs from 'node:fs';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { connectNats } from '../../../src/sinks/nats/connection.js';
import { NatsForwarder } from '../../../src/sinks/nats/forwarder.js';
import { pull } from '../../../src/sinks/nats/pull.js';
import { hasNats } from '../../helpers/nats.js';
import { startOperatorNats, storedMessages } from '../../helpers/nats-auth.js';
import { readJsonl, tmpDir } from '../../helpers/tmp.js';

const row = (seq: number) => JSON.stringify({ source: 'host_proc', t_mono_ns: 1000 * (seq + 1), seq, pid: 42, cpu_user_s: seq });

describe.runIf(hasNats())('per-host NATS permissions with .creds files (operator mode)', () => {
  it("host A's forwarder publishes with its .creds file; under host B it is refused and nothing is stored; the puller's .creds reads it all", async () => {
    // regression for: a .creds file (what nsc hands a lab host) could not be used, and nothing kept one host from publishing as another
    const srv = await startOperatorNats(['lab-a', 'lab-b']);
    const a = srv.creds['lab-a']!;
    const dir = tmpDir('labtel-perm-ep-');
    fs.writeFileSync(path.join(dir, 'telemetry-proc.jsonl'), Array.from({ length: 20 }, (_, i) => row(i) + '\n').join(''));
    fs.writeFileSync(path.join(dir, 'episode.json'), JSON.stringify({ episode: 'ep1' }));
    fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify({ episode: 'ep1', collectors: {} }));
    const fwd = new NatsForwarder(dir, { servers: [srv.url], stream: 'LABTEL', subject_prefix: 'labtel', replicas: 1, credentials: a.file, inbox_prefix: a.inboxPrefix }, { prefix: 'labtel', host: 'lab-a', episode: 'ep1' });
    try {
      const ok = (await fwd.pass()) && (await fwd.forwardEpisodeFiles());
      expect(fwd.progress.error).toBeNull();
      expect(ok).toBe(true);
    } finally {
      await fwd.close();
    }

    const nc = await connectNats({ servers: [srv.url], credentials: a.file, inbox_prefix: a.inboxPrefix }, { timeout: 5000 });
    try {
      const err = await jetstream(nc, { timeout: 3000 }).publish('labtel.lab-b.ep1.host_proc', new TextEncoder().encode(row(0) + '\n')).then(() => null, (e: Error) => e);
      expect(err?.message).toMatch(/permissions violation for publish to "labtel\.lab-b\.ep1\.host_proc"/i);
    } finally {
      await nc.drain();
    }
    const subjects = (await storedMessages(srv.url, { credsFile: srv.creds.admin!.file })).map(([s]) => s);
    expect(subjects.length).toBe(3);
    expect(subjects.filter((s) => !s.startsWith('labtel.lab-a.ep1.'))).toEqual([]);

    const p = srv.creds.puller!;
    const pnc = await connectNats({ servers: [srv.url], credentials: p.file, inbox_prefix: p.inboxPrefix }, { timeout: 5000 });
    try {
      const err = await jetstream(pnc, { timeout: 3000 }).publish('labtel.lab-a.ep1.host_proc', new TextEncoder().encode(row(99) + '\n')).then(() => null, (e: Error) => e);
      expect(err?.message).toMatch(/permissions violation for publish/i);
    } finally {
      await pnc.drain();
    }
    const out = tmpDir('labtel-perm-out-');
    const r = await pull({ servers: [srv.url], stream: 'LABTEL', out, durable: 'puller-1', credentials: p.file, inbox_prefix: p.inboxPrefix });
    expect(r.rows).toBe(20);
    expect(readJsonl(path.join(out, 'lab-a', 'ep1', 'telemetry-proc.jsonl')).map((x) => x.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});
