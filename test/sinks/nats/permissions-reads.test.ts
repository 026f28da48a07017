// Who may read and manage what, under the documented authorization config
// (helpers/nats-auth.ts, docs/nats.md): a lab host reads nothing but its own
// replies and calls no JetStream API that reads, deletes or purges; a puller
// reads through its consumer but cannot delete or purge. Real nats-server.
import fs from 'node:fs';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import { connectNats } from '../../../src/sinks/nats/connection.js';
import { hasNats } from '../../helpers/nats.js';
import { authorizationConfig, startAuthNats, storedMessages } from '../../helpers/nats-auth.js';

const row = JSON.stringify({ source: 'host_proc', t_mono_ns: 1000, seq: 0 }) + '\n';

/** The server's answer to a JetStream API request: null when it was answered, the error when it was refused. */
const refusal = (nc: NatsConnection, subject: string) =>
  nc.request(subject, new TextEncoder().encode('{}'), { timeout: 3000 }).then(
    () => null,
    (e: Error) => e.message,
  );

/** The error the server gives a subscription to `subject` (the subscription closes with it). */
async function subscribeRefusal(nc: NatsConnection, subject: string): Promise<string> {
  const sub = nc.subscribe(subject);
  const r = await sub.closed;
  return r instanceof Error ? r.message : String(r);
}

describe.runIf(hasNats())('per-host NATS permissions: reading and managing the stream', () => {
  it("a lab host cannot read other hosts' rows, the puller's replies, or call an API that reads, deletes or purges", async () => {
    // guards against: host A reading host B's rows (a subscription, another inbox, STREAM.MSG.GET, DIRECT.GET, a consumer of its own or fetching from the puller's durable) or deleting/purging the stream; each is refused by the server and the stream keeps its message
    const srv = await startAuthNats(['lab-a', 'lab-b']);
    const b = srv.hosts['lab-b']!;
    const nb = await connectNats({ servers: [srv.url], nkey_seed_file: b.seedFile, inbox_prefix: b.inboxPrefix }, { timeout: 5000 });
    try {
      await jetstream(nb, { timeout: 3000 }).publish('labtel.lab-b.ep1.host_proc', new TextEncoder().encode(row), { msgID: 'b-0' });
    } finally {
      await nb.drain();
    }
    const a = srv.hosts['lab-a']!;
    const na = await connectNats({ servers: [srv.url], nkey_seed_file: a.seedFile, inbox_prefix: a.inboxPrefix }, { timeout: 5000 });
    try {
      const subs = ['labtel.>', 'labtel.lab-b.>', '_INBOX_puller.>', '_INBOX.>', '$JS.ACK.LABTEL.>'];
      expect(subs.length).toBeGreaterThan(0);
      for (const s of subs) expect(await subscribeRefusal(na, s), s).toMatch(/permissions violation for subscription/i);
      const apis = [
        '$JS.API.STREAM.DELETE.LABTEL',
        '$JS.API.STREAM.PURGE.LABTEL',
        '$JS.API.STREAM.MSG.DELETE.LABTEL',
        '$JS.API.STREAM.MSG.GET.LABTEL',
        '$JS.API.STREAM.UPDATE.LABTEL',
        '$JS.API.CONSUMER.CREATE.LABTEL',
        '$JS.API.CONSUMER.DURABLE.CREATE.LABTEL.labtel-pull',
        '$JS.API.CONSUMER.MSG.NEXT.LABTEL.labtel-pull',
        '$JS.API.DIRECT.GET.LABTEL',
      ];
      expect(apis.length).toBeGreaterThan(0);
      for (const s of apis) expect(await refusal(na, s), s).toMatch(/permissions violation for publish/i);
    } finally {
      await na.close();
    }
    expect((await storedMessages(srv.url, srv.admin)).map(([s]) => s)).toEqual(['labtel.lab-b.ep1.host_proc']);
  });

  it('a puller cannot delete or purge the stream, delete a message or a consumer', async () => {
    // guards against: a puller's credentials (on every analysis machine) emptying the stream
    const srv = await startAuthNats(['lab-a']);
    const np = await connectNats({ servers: [srv.url], user: srv.puller.user, password_file: srv.puller.passwordFile, inbox_prefix: srv.puller.inboxPrefix }, { timeout: 5000 });
    try {
      const apis = ['$JS.API.STREAM.DELETE.LABTEL', '$JS.API.STREAM.PURGE.LABTEL', '$JS.API.STREAM.MSG.DELETE.LABTEL', '$JS.API.STREAM.UPDATE.LABTEL', '$JS.API.CONSUMER.DELETE.LABTEL.labtel-pull'];
      expect(apis.length).toBeGreaterThan(0);
      for (const s of apis) expect(await refusal(np, s), s).toMatch(/permissions violation for publish/i);
    } finally {
      await np.close();
    }
  });

  it("docs/nats.md shows the allow lists the tests run, in the tests' order", () => {
    // guards against: a documented config drifting from the one tested (a lab admin copies the docs)
    const doc = fs.readFileSync(path.join(import.meta.dirname, '../../../docs/nats.md'), 'utf8');
    const block = /```\n(authorization \{[\s\S]*?)```/.exec(doc)?.[1];
    expect(block).toBeDefined();
    const lists = (text: string) => [...text.replace(/\n\s*/g, ' ').matchAll(/allow: (\[[^\]]*\])/g)].map((m) => JSON.parse(m[1]!) as string[]);
    const tested = authorizationConfig({
      prefix: 'labtel',
      stream: 'LABTEL',
      hosts: [{ name: 'lab-a', publicKey: 'UA', seedFile: '', inboxPrefix: '_INBOX_lab-a' }],
      puller: { user: 'puller', password: 'x', passwordFile: '', inboxPrefix: '_INBOX_puller' },
      admin: { user: 'admin', password: 'x' },
    });
    expect(lists(tested).length).toBe(4);
    expect(lists(block!)).toEqual(lists(tested));
  });
});
