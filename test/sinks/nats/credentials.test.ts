// NATS credentials: named by path in the manifest (or in the environment),
// read at connect time with checks like ssh's, never inlined, never echoed.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createUser, decode, fromPublic } from '@nats-io/nkeys';
import { afterEach, describe, expect, it } from 'vitest';
import { natsSinkConfig } from '../../../src/sinks/nats/config.js';
import { connectNats } from '../../../src/sinks/nats/connection.js';
import { loadNatsAuth } from '../../../src/sinks/nats/credentials.js';
import { formatIssues } from '../../../src/manifest/format-error.js';
import { clearRegisteredSecrets, scrubSecrets } from '../../../src/util/scrub-secrets.js';
import { hasNats } from '../../helpers/nats.js';
import { secretFile, startNatsWithConfig } from '../../helpers/nats-auth.js';
import { tmpDir } from '../../helpers/tmp.js';

afterEach(() => clearRegisteredSecrets());

const issues = (v: unknown) => {
  const r = natsSinkConfig.safeParse(v, { reportInput: true });
  expect(r.success).toBe(false);
  return formatIssues(r.error!.issues);
};

describe('sinks.nats credential keys (schema)', () => {
  it('refuses a server URL with user:password@, saying to use a credentials file, without echoing the password', () => {
    // regression for: nats://user:pass@host was accepted and then recorded in episode.json, which travels to every puller
    const msg = issues({ servers: ['nats://lab:hunter2-Secret@10.0.0.5:4222'] });
    expect(msg).toContain('servers[0]: expected a NATS server URL without a user or password in it (put them in a credentials file');
    expect(msg).toContain('nats://[redacted]@10.0.0.5:4222');
    expect(msg).not.toContain('hunter2');
    expect(msg).not.toContain('lab:');
  });

  it('refuses an inlined password or token without echoing it', () => {
    // regression for: an unknown key's value was echoed ("unknown key, got ...") and a secret with it
    const msg = issues({ servers: ['nats://h:4222'], token: 'tok-Planted-77', password: 'pw-Planted-77' });
    expect(msg).toMatch(/token: a secret is never written in the manifest .* token_file/);
    expect(msg).toMatch(/password: a secret is never written in the manifest .* password_file/);
    expect(msg).not.toContain('Planted');
  });

  it('refuses two kinds of credential, and a user without a password file', () => {
    expect(issues({ servers: ['nats://h:4222'], credentials: '/a.creds', token_file: '/t' })).toContain('expected one kind of credential, got credentials and token_file');
    expect(issues({ servers: ['nats://h:4222'], user: 'u' })).toContain('password_file: expected user and password_file together');
  });

  it('accepts paths, and keeps them (never contents) in the resolved manifest', () => {
    const r = natsSinkConfig.parse({ servers: ['nats://h:4222'], credentials: '/etc/labtel/lab-a.creds' });
    expect(r.credentials).toBe('/etc/labtel/lab-a.creds');
  });
});

describe('reading a credentials file (as ssh reads a private key)', () => {
  it('refuses a file group or others may read, naming the key, the path and the mode', () => {
    // regression for: a token file left world-readable was used without a word
    const f = secretFile(tmpDir(), 'token', 'tok-abcdef\n', 0o644);
    expect(() => loadNatsAuth({ token_file: f }, {})).toThrow(`sinks.nats.token_file: ${f}: mode 0644 lets group or others access it; refusing it, as ssh refuses such a private key (chmod 600 ${f})`);
  });

  it('names a missing file, a directory, an empty file and a bad seed', () => {
    const d = tmpDir();
    expect(() => loadNatsAuth({ nkey_seed_file: path.join(d, 'nope') }, {})).toThrow(`sinks.nats.nkey_seed_file: ${path.join(d, 'nope')}: no such file (ENOENT)`);
    fs.chmodSync(d, 0o700);
    expect(() => loadNatsAuth({ token_file: d }, {})).toThrow(`sinks.nats.token_file: ${d}: not a regular file`);
    const empty = secretFile(d, 'empty', '');
    expect(() => loadNatsAuth({ token_file: empty }, {})).toThrow(`sinks.nats.token_file: ${empty}: the file is empty`);
    const bad = secretFile(d, 'bad.nk', 'SUNOTASEED\n');
    const err = (() => {
      try {
        loadNatsAuth({ nkey_seed_file: bad }, {});
      } catch (e) {
        return e as Error;
      }
      return null;
    })();
    expect(err?.message).toContain(`sinks.nats.nkey_seed_file: ${bad}: not an nkey seed`);
    expect(err?.message).not.toContain('SUNOTASEED');
  });

  it('refuses a fifo without waiting on it, and a file over 64 KiB without reading it', () => {
    // Claims of readSecretFile that no test held: O_NONBLOCK so a fifo planted at the path does not stop the agent
    // in open(), and a bound on what is read as a secret.
    const d = tmpDir();
    fs.chmodSync(d, 0o700);
    const fifo = path.join(d, 'fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    expect(() => loadNatsAuth({ token_file: fifo }, {})).toThrow(`sinks.nats.token_file: ${fifo}: not a regular file`);
    const big = secretFile(d, 'big', 'x'.repeat((64 << 10) + 1));
    expect(() => loadNatsAuth({ token_file: big }, {})).toThrow(`sinks.nats.token_file: ${big}: ${(64 << 10) + 1} bytes, more than the ${64 << 10} a credentials file may have`);
  });

  it('follows a symlink (as ssh does) and checks the file it names', () => {
    const d = tmpDir();
    const real = secretFile(d, 'real', 'tok-abcdef\n', 0o640);
    fs.symlinkSync(real, path.join(d, 'link'));
    expect(() => loadNatsAuth({ token_file: path.join(d, 'link') }, {})).toThrow(/mode 0640 lets group or others access it/);
    fs.chmodSync(real, 0o600);
    expect(loadNatsAuth({ token_file: path.join(d, 'link') }, {})?.what).toBe(`token file ${path.join(d, 'link')}`);
  });

  it('reads a .creds file: the JWT and a signature from its seed, both scrubbed from then on', () => {
    // regression for: a .creds file could not be used (no credential support), and its seed could reach a message
    const kp = createUser();
    const seed = new TextDecoder().decode(kp.getSeed());
    const jwt = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVQUJDIiwibmF0cyI6eyJ0eXBlIjoidXNlciJ9fQ.c2ln';
    const f = secretFile(tmpDir(), 'lab-a.creds', `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n************************* IMPORTANT *************************\nNKEY Seed printed below can be used to sign and prove identity.\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n\n*************************************************************\n`);
    const auth = loadNatsAuth({ credentials: f }, {})!;
    expect(auth.what).toBe(`credentials file ${f}`);
    const a = auth.authenticator('nonce-123') as { jwt: string; nkey: string; sig: string };
    expect(a.jwt).toBe(jwt);
    expect(a.nkey).toBe(kp.getPublicKey());
    const sig = decode(a.sig);
    expect(fromPublic(kp.getPublicKey()).verify(new TextEncoder().encode('nonce-123'), sig)).toBe(true);
    expect(scrubSecrets(`x ${seed} ${jwt} y`)).toBe('x [redacted] [redacted] y');
  });

  it('takes the environment when the manifest names no credential, and refuses two kinds there', () => {
    expect(loadNatsAuth({}, { LABTEL_NATS_TOKEN: 'tok-env-123' })?.what).toBe('LABTEL_NATS_TOKEN');
    expect(loadNatsAuth({}, { LABTEL_NATS_USER: 'u', LABTEL_NATS_PASSWORD: 'pw-env-123' })?.what).toBe('LABTEL_NATS_USER=u with LABTEL_NATS_PASSWORD');
    expect(() => loadNatsAuth({}, { LABTEL_NATS_TOKEN: 't1234', LABTEL_NATS_PASSWORD: 'p1234', LABTEL_NATS_USER: 'u' })).toThrow('set one kind of NATS credential');
    expect(() => loadNatsAuth({}, { LABTEL_NATS_PASSWORD: 'p1234' })).toThrow('LABTEL_NATS_USER and LABTEL_NATS_PASSWORD go together');
    expect(scrubSecrets('p1234')).toBe('[redacted]');
    expect(loadNatsAuth({}, {})).toBeNull();
  });
});

describe.runIf(hasNats())('connecting with a token (real nats-server with authorization { token })', () => {
  it('connects with the token file or LABTEL_NATS_TOKEN; a wrong token is refused with a message naming the file, not the token', async () => {
    // regression for: no way to give labtel the server's token but inline in the URL (nats://TOKEN@host), which episode.json then carried
    const token = 'tok-Right-4f9c2a';
    const srv = await startNatsWithConfig(`authorization { token: ${JSON.stringify(token)} }\n`);
    const d = tmpDir();
    const good = secretFile(d, 'token', `${token}\n`);
    const nc = await connectNats({ servers: [srv.url], token_file: good }, { timeout: 3000 }, {});
    await nc.flush();
    await nc.close();
    const nc2 = await connectNats({ servers: [srv.url] }, { timeout: 3000 }, { LABTEL_NATS_TOKEN: token });
    await nc2.close();

    const wrong = 'tok-Wrong-93e1bd';
    const badFile = secretFile(d, 'wrong', `${wrong}\n`);
    const err = await connectNats({ servers: [srv.url], token_file: badFile }, { timeout: 3000, maxReconnectAttempts: 0 }, {}).then(() => null, (e: Error) => e);
    expect(err).not.toBeNull();
    expect(err!.message).toMatch(new RegExp(`with token file ${badFile}: .*authorization violation`, 'i'));
    expect(err!.message).not.toContain(wrong);
  });

  it('refuses a server URL with the token as userinfo before connecting, without echoing it', async () => {
    const srv = await startNatsWithConfig(`authorization { token: "tok-Url-123456" }\n`);
    const err = await connectNats({ servers: [srv.url.replace('nats://', 'nats://tok-Url-123456@')] }, { timeout: 3000 }, {}).then(() => null, (e: Error) => e);
    expect(err?.message).toContain('NATS server 1 carries a user or password in its URL; labtel refuses it');
    expect(err?.message).not.toContain('tok-Url');
  });
});
