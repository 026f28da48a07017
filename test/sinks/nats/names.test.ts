import { describe, expect, it } from 'vitest';
import { manifestSchema } from '../../../src/manifest/schema.js';
import { formatIssues } from '../../../src/manifest/format-error.js';
import { isNameToken, nameToken } from '../../../src/sinks/nats/names.js';

describe('host and episode names on the wire', () => {
  it('maps names to tokens one to one (regression: "syn.flood" and "syn flood" were one directory)', () => {
    const names = ['syn.flood', 'syn flood', 'syn_flood', 'syn%2Eflood', '.', '..', 'é', 'x'.repeat(300), 'x'.repeat(299) + 'y', 'lab1.example.org'];
    const tokens = names.map(nameToken);
    expect(tokens.length).toBeGreaterThan(0);
    expect(new Set(tokens).size).toBe(names.length);
    for (const t of tokens) {
      expect(t).toMatch(/^[A-Za-z0-9_%~-]{1,200}$/);
      expect(isNameToken(t)).toBe(true);
    }
    expect(nameToken('syn_flood')).toBe('syn_flood');
    expect(nameToken('syn.flood')).toBe('syn%2Eflood');
  });

  it('accepts only the token a name is written as', () => {
    for (const t of ['', '.', '..', 'a/b', 'a.b', '%41', '%c3%a9', '%C3', 'a~1', 'a b']) expect(isNameToken(t), t).toBe(false);
    // Regression for: any "~" token passed, so a publisher could make directories no name maps to (lab~0123456789abcdef).
    const long = nameToken('x'.repeat(300));
    expect(long).toMatch(/~[0-9a-f]{16}$/);
    for (const t of ['lab~0123456789abcdef', `${long.slice(0, 150)}${long.slice(-17)}`, `%41${long.slice(3)}`]) expect(isNameToken(t), t).toBe(false);
  });

  it('the manifest refuses an episode or host name outside the safe set, naming it', () => {
    const base = { output_dir: '/tmp/x', target: { pid: 1 }, collectors: {} };
    const bad = manifestSchema.safeParse({ ...base, episode: 'syn flood' });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]!.message).toBe('expected an episode name of 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit');
    // Regression for: the message said `got "<name>"` and formatIssue said it again, the whole name each time
    // (a 300-character host was printed twice in full), as `labtel run` loads a manifest (reportInput).
    const shown = manifestSchema.safeParse({ ...base, episode: 'syn flood', sinks: { nats: { servers: ['nats://127.0.0.1:4222'], host: 'x'.repeat(300) } } }, { reportInput: true });
    expect(shown.success).toBe(false);
    expect(formatIssues(shown.error!.issues)).toBe(
      [
        'episode: expected an episode name of 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit, got "syn flood"',
        `sinks.nats.host: expected a host name of 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit, got "${'x'.repeat(76)}...`,
      ].join('\n'),
    );
    expect(manifestSchema.safeParse({ ...base, episode: 'syn.flood-2_b' }).success).toBe(true);
    const host = manifestSchema.safeParse({ ...base, sinks: { nats: { servers: ['nats://127.0.0.1:4222'], host: '../etc' } } });
    expect(host.success).toBe(false);
  });
});
