import { createUser } from '@nats-io/nkeys';
import { afterEach, describe, expect, it } from 'vitest';
import { clearRegisteredSecrets, REDACTED, registerSecret, scrubDeep, scrubSecrets } from '../../src/util/scrub-secrets.js';

afterEach(() => clearRegisteredSecrets());

const seed = new TextDecoder().decode(createUser().getSeed());
// A NATS user JWT's shape (header {"typ":"JWT","alg":"ed25519-nkey"}, base64url).
const jwt = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiJBQkNERUZHIiwibmFtZSI6ImxhYi1hIn0.c2lnbmF0dXJlLWJ5dGVz';

describe('scrubSecrets', () => {
  // regression for: a credential quoted in an error message (a URL with userinfo, a header, a key) reaching stderr, summary.json or a row
  const cases: Array<[string, string, string]> = [
    ['bearer token', 'GET /x failed: Bearer abcDEF123456.xyz rejected', 'abcDEF123456.xyz'],
    ['Authorization header', 'request had Authorization: Basic dXNlcjpodW50ZXIy\nnext line', 'dXNlcjpodW50ZXIy'],
    ['userinfo in a URL', 'connecting to nats://lab:hunter2secret@10.0.0.5:4222 failed', 'hunter2secret'],
    ['a token as userinfo', 'tls://s3cr3tT0ken@nats.lab:4443', 's3cr3tT0ken'],
    ['password= pair', 'dsn host=db password=Tr0ub4dor&3 user=x', 'Tr0ub4dor'],
    ['token: pair', 'config {"token":"abc123token456"}', 'abc123token456'],
    ['JSON password', '{"user":"a","password":"pa55word!"}', 'pa55word!'],
    ['nkey seed', `seed file said ${seed} there`, seed],
    ['JWT', `jwt ${jwt} expired`, jwt],
    ['PEM private key', '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\nafter', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC'],
    ['PEM cut short', 'oops -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAtruncated', 'MIIEpAIBAAKCAQEAtruncated'],
    [
      '.creds blocks',
      `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`,
      seed,
    ],
  ];
  expect(cases.length).toBeGreaterThan(0);
  for (const [what, text, secret] of cases)
    it(`removes a ${what}`, () => {
      const out = scrubSecrets(text);
      expect(out).not.toContain(secret);
      expect(out).toContain(REDACTED);
    });

  it('keeps what is not a secret: paths of credential files, public nkeys, ordinary messages', () => {
    // regression for: over-scrubbing that hides the file a person must fix
    const pub = createUser().getPublicKey();
    const text = `sinks.nats.token_file: /etc/labtel/token: mode 0644 lets group or others access it; user ${pub}; nats://10.0.0.5:4222 refused`;
    expect(scrubSecrets(text)).toBe(text);
  });

  it('removes a registered value wherever it appears, also URL- and JSON-escaped', () => {
    // regression for: a loaded token or password echoed by a server or a library in a shape no pattern knows
    registerSecret('plain-Secret/42"x');
    const out = scrubSecrets(`a plain-Secret/42"x b ${encodeURIComponent('plain-Secret/42"x')} c ${JSON.stringify('plain-Secret/42"x')}`);
    expect(out).not.toContain('plain-Secret');
    expect(out).not.toContain(encodeURIComponent('plain-Secret/42"x'));
  });

  it('scrubs every string of an object, keeping its shape and other values', () => {
    const v = scrubDeep({ a: ['nats://u:hunter2pw@h:4222', 5, null, true], b: { c: `Bearer ${jwt}` } });
    expect(JSON.stringify(v)).not.toContain('hunter2pw');
    expect(JSON.stringify(v)).not.toContain(jwt);
    expect(v.a.slice(1)).toEqual([5, null, true]);
    expect(v.a[0]).toBe(`nats://${REDACTED}@h:4222`);
  });
});
