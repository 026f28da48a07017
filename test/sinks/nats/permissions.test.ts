// Who may publish what, enforced by nats-server's own authorization config
// (helpers/nats-auth.ts writes it as a lab admin would): host A publishes only
// under labtel.lab-a.>, a puller only reads. Real server, real clients.
import fs from 'node:fs';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { connectNats } from '../../../src/sinks/nats/connection.js';
import { NatsForwarder } from '../../../src/sinks/nats/forwarder.js';
import { pull } from '../../../src/sinks/nats/pull.js';
import { hasNats } from '../../helpers/nats.js';
import { startAuthNats, storedMessages } from '../../helpers/nats-auth.js';
import { readJsonl, tmpDir } from '../../helpers/tmp.js';

const row = (seq: number) => JSON.stringify({ source: 'host_proc', t_mono_ns: 1000 * (seq + 1), seq, pid: 42, cpu_user_s: seq });

/** A finished episode directory with `n` proc rows, episode.json and summary.json. */
function episodeDir(n: number): string {
  const dir = tmpDir('labtel-perm-ep-');
  fs.writeFileSync(path.join(dir, 'telemetry-proc.jsonl'), Array.from({ length: n }, (_, i) => row(i) + '\n').join(''));
  fs.writeFileSync(path.join(dir, 'episode.json'), JSON.stringify({ episode: 'ep1' }));
  fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify({ episode: 'ep1', collectors: {} }));
  return dir;
}

describe.runIf(hasNats())('per-host NATS permissions (nats-server authorization)', () => {
  it("host A's forwarder publishes its episode with its nkey seed file, and pull with the puller's password file gets it", async () => {
    // regression for: labtel could not authenticate at all (connectNats took servers only), so a lab server with per-host users refused every forwarder and puller
    const srv = await startAuthNats(['lab-a', 'lab-b']);
    const a = srv.hosts['lab-a']!;
    const dir = episodeDir(50);
    const fwd = new NatsForwarder(dir, { servers: [srv.url], stream: 'LABTEL', subject_prefix: 'labtel', replicas: 1, nkey_seed_file: a.seedFile, inbox_prefix: a.inboxPrefix }, { prefix: 'labtel', host: 'lab-a', episode: 'ep1' });
    try {
      const ok = (await fwd.pass()) && (await fwd.forwardEpisodeFiles());
      expect(fwd.progress.error).toBeNull();
      expect(ok).toBe(true);
    } finally {
      await fwd.close();
    }
    const out = tmpDir('labtel-perm-out-');
    const r = await pull({ servers: [srv.url], stream: 'LABTEL', out, durable: 'puller-1', user: srv.puller.user, password_file: srv.puller.passwordFile, inbox_prefix: srv.puller.inboxPrefix });
    expect(r.rows).toBe(50);
    const rows = readJsonl(path.join(out, 'lab-a', 'ep1', 'telemetry-proc.jsonl'));
    expect(rows.map((x) => x.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(fs.existsSync(path.join(out, 'lab-a', 'ep1', 'summary.json'))).toBe(true);
  });

  it("host A publishing under host B's subjects is refused by the server, and nothing of it is stored", async () => {
    // regression for: any publisher could write rows (and summary.json) under another host's name
    const srv = await startAuthNats(['lab-a', 'lab-b']);
    const a = srv.hosts['lab-a']!;
    const nc = await connectNats({ servers: [srv.url], nkey_seed_file: a.seedFile, inbox_prefix: a.inboxPrefix }, { timeout: 5000 });
    try {
      const js = jetstream(nc, { timeout: 3000 });
      // Its own subject: stored.
      const ack = await js.publish('labtel.lab-a.ep1.host_proc', new TextEncoder().encode(row(0) + '\n'), { msgID: 'lab-a/ep1/host_proc/0-0' });
      expect(ack.seq).toBeGreaterThan(0);
      // Host B's rows and summary: the server says why, naming the subject.
      const foreign = ['labtel.lab-b.ep1.host_proc', 'labtel.lab-b.ep1._summary'];
      expect(foreign.length).toBeGreaterThan(0);
      for (const subject of foreign) {
        const err = await js.publish(subject, new TextEncoder().encode(row(0) + '\n')).then(
          () => null,
          (e: Error) => e,
        );
        expect(err, `publishing to ${subject} as lab-a`).not.toBeNull();
        expect(err!.message).toMatch(/permissions violation for publish/i);
        expect(err!.message).toContain(subject);
      }
      // Nor may it delete the stream (or call any JetStream API but the two a forwarder needs).
      const del = await nc.request('$JS.API.STREAM.DELETE.LABTEL', undefined, { timeout: 3000 }).then(() => null, (e: Error) => e);
      expect(del?.message ?? '').toMatch(/permissions violation/i);
    } finally {
      await nc.drain();
    }
    const stored = await storedMessages(srv.url, srv.admin);
    expect(stored.length).toBe(1);
    expect(stored.map(([s]) => s)).toEqual(['labtel.lab-a.ep1.host_proc']);
  });

  it('a puller publishing a row is refused; its credentials only read', async () => {
    // regression for: a puller's credentials (copied to every analysis machine) could write rows
    const srv = await startAuthNats(['lab-a']);
    const nc = await connectNats({ servers: [srv.url], user: srv.puller.user, password_file: srv.puller.passwordFile, inbox_prefix: srv.puller.inboxPrefix }, { timeout: 5000 });
    try {
      const js = jetstream(nc, { timeout: 3000 });
      const err = await js.publish('labtel.lab-a.ep1.host_proc', new TextEncoder().encode(row(0) + '\n')).then(() => null, (e: Error) => e);
      expect(err).not.toBeNull();
      expect(err!.message).toMatch(/permissions violation for publish to "labtel\.lab-a\.ep1\.host_proc"/i);
    } finally {
      await nc.drain();
    }
    expect(await storedMessages(srv.url, srv.admin)).toEqual([]);
  });

  it('a host without its credentials is refused at connect, with the reason and no secret', async () => {
    // regression for: an unauthenticated client connected and published on an open server
    const srv = await startAuthNats(['lab-a']);
    const err = await connectNats({ servers: [srv.url] }, { timeout: 3000, maxReconnectAttempts: 0 }, {}).then(() => null, (e: Error) => e);
    expect(err).not.toBeNull();
    expect(err!.message).toMatch(/without credentials: .*authorization violation/i);
  });
});
