// Review of issue 18 point 5: `labtel pull` and `labtel forward` accept
// --credentials, --nkey-seed-file, --token-file, --user/--password-file and
// --inbox-prefix (src/cli/main.ts); they must reach connectNats. Real
// nats-server with per-user permissions (helpers/nats-auth.ts).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NatsForwarder } from '../../src/sinks/nats/forwarder.js';
import { forwardCommand, pullCommand } from '../../src/cli/commands/nats.js';
import { hasNats } from '../helpers/nats.js';
import { startAuthNats } from '../helpers/nats-auth.js';
import { tmpDir } from '../helpers/tmp.js';

const row = (seq: number) => JSON.stringify({ source: 'host_proc', t_mono_ns: 1000 * (seq + 1), seq, pid: 42, cpu_user_s: seq });

describe.runIf(hasNats())('credential flags of labtel pull and forward', () => {
  it("labtel pull --user --password-file --inbox-prefix authenticates as the puller and pulls the host's rows", async () => {
    // regression for: main.ts declared the credential flags but commands/nats.ts dropped them, so `labtel pull --user puller --password-file f` connected without credentials (refused by a lab server; on an open one the flags were silently ignored)
    const srv = await startAuthNats(['lab-a']);
    const a = srv.hosts['lab-a']!;
    const dir = tmpDir('labtel-flags-ep-');
    fs.writeFileSync(path.join(dir, 'telemetry-proc.jsonl'), Array.from({ length: 5 }, (_, i) => row(i) + '\n').join(''));
    fs.writeFileSync(path.join(dir, 'episode.json'), JSON.stringify({ episode: 'ep1' }));
    fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify({ episode: 'ep1', collectors: {} }));
    const fwd = new NatsForwarder(dir, { servers: [srv.url], stream: 'LABTEL', subject_prefix: 'labtel', replicas: 1, nkey_seed_file: a.seedFile, inbox_prefix: a.inboxPrefix }, { prefix: 'labtel', host: 'lab-a', episode: 'ep1' });
    try {
      expect((await fwd.pass()) && (await fwd.forwardEpisodeFiles())).toBe(true);
    } finally {
      await fwd.close();
    }
    const out = tmpDir('labtel-flags-out-');
    const flags = { servers: [srv.url], out, durable: 'p1', user: srv.puller.user, passwordFile: srv.puller.passwordFile, inboxPrefix: srv.puller.inboxPrefix };
    expect(await pullCommand(flags as Parameters<typeof pullCommand>[0])).toBe(0);
    expect(fs.readFileSync(path.join(out, 'lab-a', 'ep1', 'telemetry-proc.jsonl'), 'utf8').split('\n').filter(Boolean)).toHaveLength(5);
  });

  it('labtel forward --nkey-seed-file --inbox-prefix publishes an episode whose manifest names no credential', async () => {
    // regression for: the same flags of labtel forward were dropped: a backfill of an episode recorded without sinks.nats credentials could not authenticate
    const srv = await startAuthNats(['lab-a']);
    const a = srv.hosts['lab-a']!;
    const dir = tmpDir('labtel-flags-ep-');
    fs.writeFileSync(path.join(dir, 'telemetry-proc.jsonl'), row(0) + '\n');
    fs.writeFileSync(path.join(dir, 'episode.json'), JSON.stringify({ episode: 'ep1' }));
    fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify({ episode: 'ep1', collectors: {} }));
    const flags = { servers: [srv.url], host: 'lab-a', nkeySeedFile: a.seedFile, inboxPrefix: a.inboxPrefix };
    expect(await forwardCommand(dir, flags as Parameters<typeof forwardCommand>[1])).toBe(0);
  });
});
