// `labtel bucketize` turns plain flags into options without loading zod (its
// start-up): what that fast path accepts must be exactly what the netflow
// schema makes of the same flags, and everything else must be left to the
// schema (null), so its messages stay the only ones.
// regression for: a fast path that drifts from the schema (other defaults,
// a value the schema refuses taken as valid, an IPv4 form zod rejects).
import { describe, expect, it } from 'vitest';
import { bucketizeOptions, type BucketizeFlags } from '../../src/cli/commands/bucketize-options.js';
import { plainBucketizeOptions } from '../../src/cli/commands/bucketize-plain-flags.js';

const base: BucketizeFlags = { guestIp: [], guestMac: [], bridgeIp: [], fill: true };

/** The schema's verdict: its options, or the message it refuses with. */
function schema(f: BucketizeFlags): unknown {
  try {
    return bucketizeOptions(f);
  } catch (err) {
    return { refused: (err as Error).message };
  }
}

const numbers = ['0', '1', '7', '0100', '100', '600000', '600001', '999999999', '1000000000', '1000000001', '9007199254740991', '9007199254740992', '12345678901', '-1', '1.5', '1e3', ' 5', '5 ', '', '0x10', 'ten'];
const ipv4s = ['10.200.0.10', '0.0.0.0', '255.255.255.255', '256.1.1.1', '01.2.3.4', '1.2.3.04', '1.2.3', '1.2.3.4.5', ' 1.2.3.4', '1.2.3.4 ', '::1', 'fe80::1%eth0', '::ffff:10.0.0.1', '2001:db8::1', 'a.b.c.d', ''];
const macs = ['52:54:00:12:34:56', 'FE:54:00:AB:CD:EF', '52-54-00-12-34-56', '52:54:00:12:34', '52:54:00:12:34:5g', ''];
const origins = ['0', '-1', '1700000000000000000', '9223372036854775807', '92233720368547758070', '1.5', 'now', ''];

const cases: Array<[string, BucketizeFlags]> = [
  ['no flags', base],
  ...numbers.flatMap((n): Array<[string, BucketizeFlags]> => [
    [`--bucket-ms ${n}`, { ...base, bucketMs: n }],
    [`--lateness-ms ${n}`, { ...base, latenessMs: n }],
    [`--max-empty-buckets ${n}`, { ...base, maxEmptyBuckets: n }],
  ]),
  ...ipv4s.flatMap((ip): Array<[string, BucketizeFlags]> => [
    [`--guest-ip ${ip}`, { ...base, guestIp: [ip] }],
    [`--guest-ip 10.0.0.1 --guest-ip ${ip}`, { ...base, guestIp: ['10.0.0.1', ip] }],
    [`--bridge-ip ${ip}`, { ...base, bridgeIp: [ip] }],
  ]),
  ['--bridge-ip twice', { ...base, bridgeIp: ['10.0.0.1', '10.0.0.2'] }],
  ...macs.map((m): [string, BucketizeFlags] => [`--guest-mac ${m}`, { ...base, guestMac: [m] }]),
  ['--guest-mac twice', { ...base, guestMac: ['52:54:00:12:34:56', '52:54:00:12:34:57'] }],
  ...origins.map((o): [string, BucketizeFlags] => [`--origin-wall-ns ${o}`, { ...base, originWallNs: o }]),
  ['--no-fill --skip-bad', { ...base, fill: false, skipBad: true }],
  ['everything', { ...base, bucketMs: '250', latenessMs: '1000', maxEmptyBuckets: '10', guestIp: ['10.200.0.10', '10.200.0.11'], guestMac: ['52:54:00:12:34:56'], bridgeIp: ['10.200.0.1'], originWallNs: '1700000000000000000', fill: false, skipBad: true }],
];

describe('plainBucketizeOptions (bucketize without zod)', () => {
  it('gives the schema\'s options whenever it gives any, and leaves every refusal to the schema', () => {
    expect(cases.length).toBeGreaterThan(100);
    let accepted = 0;
    for (const [what, f] of cases) {
      const plain = plainBucketizeOptions(f);
      const full = schema(f);
      if (plain === null) continue;
      accepted++;
      expect(plain, what).toStrictEqual(full);
    }
    // The fast path must cover the common forms, or start-up gains nothing.
    expect(accepted).toBeGreaterThan(40);
  });

  it('takes the plain forms a benchmark and a user write', () => {
    const f = { ...base, bucketMs: '100', guestIp: ['10.200.0.10'] };
    expect(plainBucketizeOptions(f)).toStrictEqual(bucketizeOptions(f));
    expect(plainBucketizeOptions(base)).toStrictEqual(bucketizeOptions(base));
  });

  it('leaves --episode to the schema (it reads episode.json)', () => {
    expect(plainBucketizeOptions({ ...base, episode: '/nonexistent' })).toBeNull();
  });

  it('leaves every value the schema refuses to the schema', () => {
    const refused = cases.filter(([, f]) => {
      const full = schema(f);
      return typeof full === 'object' && full !== null && 'refused' in full;
    });
    expect(refused.length).toBeGreaterThan(20);
    for (const [what, f] of refused) expect(plainBucketizeOptions(f), what).toBeNull();
  });
});
