// Review of issue 18 point 6 (secrets stay secret), as an attacker would try
// it: passwords of the shapes people really generate, secrets in the wrong
// key of a manifest, and a peer echoing NATS's CONNECT fields.
import { afterEach, describe, expect, it } from 'vitest';
import { natsSinkConfig } from '../../src/sinks/nats/config.js';
import { connectNats } from '../../src/sinks/nats/connection.js';
import { manifestSchema } from '../../src/manifest/schema.js';
import { formatIssues } from '../../src/manifest/format-error.js';
import { clearRegisteredSecrets, scrubDeep, scrubSecrets } from '../../src/util/scrub-secrets.js';

afterEach(() => clearRegisteredSecrets());

const PLANTED = 'Xq9/Planted+Secret=';

const natsIssues = (v: unknown) => {
  const r = natsSinkConfig.safeParse(v, { reportInput: true });
  return r.success ? null : formatIssues(r.error.issues);
};

describe('a password with / or @ in a server URL', () => {
  it('is refused by the schema, never kept in the resolved manifest (episode.json), and not echoed', () => {
    // regression for: nats://user:Xq9/…@host (a base64 password, as `openssl rand -base64` makes) passed the userinfo check, because the check ended the authority at the first '/': the URL, password and all, went into episode.json and over the stream to every puller
    const urls = [`nats://labtel:${PLANTED}@10.0.0.5:4222`, `labtel:${PLANTED}@10.0.0.5:4222`, `nats://labtel:a@${PLANTED}@10.0.0.5:4222`];
    expect(urls.length).toBeGreaterThan(0);
    for (const url of urls) {
      const msg = natsIssues({ servers: [url] });
      expect(msg, url).not.toBeNull();
      expect(msg!).toContain('servers[0]: expected a NATS server URL without a user or password in it');
      expect(msg!).toContain('[redacted]@10.0.0.5:4222');
      expect(msg!).not.toContain('Planted');
    }
  });

  it('is refused by connectNats (labtel forward --servers) without echoing it', async () => {
    // regression for: the same URL given as --servers reached the NATS client and every message that names the servers
    const err = await connectNats({ servers: [`nats://labtel:${PLANTED}@127.0.0.1:1`] }, { timeout: 500, maxReconnectAttempts: 0 }, {}).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).not.toBeNull();
    expect(err!.message).toMatch(/carries a user or password in its URL; labtel refuses it/);
    expect(err!.message).not.toContain('Planted');
  });

  it('is scrubbed whole from text labtel prints or records (episode.json included)', () => {
    // regression for: the scrubber's userinfo pattern stopped at '/' and at the first '@', leaving "Planted+Secret=@host" (or the part after an '@') in the text
    const texts = [
      `connecting to nats://labtel:${PLANTED}@10.0.0.5:4222 failed`,
      `tls://labtel:p@ss${PLANTED}@nats.lab:4443 refused`,
      JSON.stringify(scrubDeep({ target: { cmdline: `qemu -chardev socket,path=x -object nats://u:${PLANTED}@h:1` } })),
    ];
    expect(texts.length).toBeGreaterThan(0);
    for (const t of texts) {
      const out = scrubSecrets(t);
      expect(out, t).not.toContain('Planted');
      expect(out).not.toContain('ss');
      expect(out).toContain('[redacted]@');
    }
  });
});

describe('a secret in the wrong key of a manifest', () => {
  const base = { output_dir: 'ep1', duration_s: 2, target: { pid: 1234 }, collectors: { proc: { interval_ms: 100 } } };
  const manifestIssues = (v: unknown) => {
    const r = manifestSchema.safeParse(v, { reportInput: true });
    expect(r.success).toBe(false);
    return formatIssues(r.error!.issues);
  };

  it('is named, never echoed: unknown keys of any secret shape, nested deep, and a wrongly typed credential key', () => {
    // regression for: `sinks.nats.auth`, `pw`, `pwd` and `jwt` (unknown keys) and a secret nested in an unknown object ({"extra":{"a":{"pw":…}}}) were echoed in the error ("unknown key, got \"…\""), as was a password put where password_file's path goes
    const nats = (extra: object) => ({ ...base, sinks: { nats: { servers: ['nats://h:4222'], ...extra } } });
    const cases: Array<[object, string]> = [
      [nats({ auth: PLANTED }), 'sinks.nats.auth: unknown key, got [redacted]'],
      [nats({ pw: PLANTED }), 'sinks.nats.pw: unknown key, got [redacted]'],
      [nats({ pwd: PLANTED }), 'sinks.nats.pwd: unknown key, got [redacted]'],
      [nats({ jwt: PLANTED }), 'sinks.nats.jwt: unknown key, got [redacted]'],
      [nats({ extra: { a: { pw: PLANTED, n: 3 } } }), 'sinks.nats.extra: unknown key, got {"a":{"pw":"[redacted]","n":3}}'],
      [{ ...base, extra: [{ auth: { token: PLANTED } }] }, 'extra: unknown key, got [{"auth":"[redacted]"}]'],
      [nats({ user: 'labtel', password_file: 424242 }), 'sinks.nats.password_file: expected the path of a password file, got [redacted]'],
      [nats({ token_file: { token: PLANTED } }), 'sinks.nats.token_file: expected the path of a token file, got [redacted]'],
    ];
    expect(cases.length).toBeGreaterThan(0);
    for (const [m, line] of cases) {
      const msg = manifestIssues(m);
      expect(msg, JSON.stringify(m)).toContain(line);
      expect(msg).not.toContain('Planted');
      expect(msg).not.toContain('424242');
    }
  });

  it('still echoes what is no secret, so a person can fix it', () => {
    expect(manifestIssues({ ...base, extra: { a: 1 } })).toContain('extra: unknown key, got {"a":1}');
  });
});

describe('a peer that echoes what the client sent', () => {
  it("NATS CONNECT's pass and auth_token fields are scrubbed even where no secret was registered (a collector worker)", () => {
    // regression for: `"pass":"…"` (NATS's CONNECT field) matched no pattern, and a quoted value with a space was cut at the space ("auth_token":"[redacted] rest")
    const out = scrubSecrets(`-ERR 'bad CONNECT {"verbose":false,"user":"labtel","pass":"${PLANTED}","auth_token":"two Planted words"}'`);
    expect(out).not.toContain('Planted');
    expect(out).toContain('"user":"labtel"');
    expect(out).toContain('"pass":"[redacted]"');
  });
});

describe('the scrubber on text a hostile peer shapes', () => {
  // A collector's message can quote what a peer sent (perf's stderr, a guest's or QEMU's text), and scrubbing
  // runs before the message is cut: each pattern must cost about one pass over the text, whatever its shape.
  const hostile: Array<[string, string]> = [
    ['a run of dashes (the PEM pattern)', '-'.repeat(1 << 20)],
    ['authorization and spaces (the header pattern)', 'authorization' + ' '.repeat(1 << 20)],
    ['a.a.a… (the URL scheme)', 'a.'.repeat(1 << 19)],
    ['a://a://… (the URL userinfo)', 'a://'.repeat(1 << 18)],
  ];
  expect(hostile.length).toBeGreaterThan(0);
  for (const [what, text] of hostile)
    it(`scrubs 1 MiB of ${what} and keeps it (no backtracking from every position: this took hours)`, () => {
      // regression for: `-{3,}\s*BEGIN`, `authorization\s*["']?\s*[:=]` and `\b[a-z][a-z0-9+.-]*://` backtracked over the rest of the text from every position (40,000 dashes took 3.6 s, a MiB would have stopped the collector's thread for about an hour)
      expect(scrubSecrets(text)).toBe(text);
    });

  it('a planted secret in a long message is still scrubbed before it is cut', async () => {
    // regression for: guarding the cost by cutting first could leave part of a secret that straddles the cut
    const { ErrorBudget, MAX_MESSAGE_CHARS } = await import('../../src/agent/error-budget.js');
    const sent: string[] = [];
    const b = new ErrorBudget((m) => sent.push(m));
    b.report(`${'x'.repeat(MAX_MESSAGE_CHARS - 20)} nats://u:${PLANTED}@h:4222 ${'-'.repeat(1 << 20)}`);
    expect(sent).toHaveLength(1);
    expect(sent[0]!).not.toContain('Planted');
    expect(sent[0]!.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
  });
});
