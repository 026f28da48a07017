// Under CI a test that needs a missing program must fail, naming it, instead
// of being skipped: a skipped test proved nothing, and CI installs them all.
import { afterEach, describe, expect, it } from 'vitest';
import { available, has, underCi } from './programs.js';

const saved = process.env.CI;
afterEach(() => {
  if (saved === undefined) delete process.env.CI;
  else process.env.CI = saved;
});

describe('what a test needs from the host', () => {
  // Regression for: has() answered false under CI too, so describe.skipIf(!has('tshark')) skipped in silence.
  it('under CI, a missing program throws and names it', () => {
    process.env.CI = '1';
    expect(() => has('labtel-no-such-program')).toThrow(
      'under CI every test must run, but labtel-no-such-program is not installed (`labtel-no-such-program --version` did not run): .ci/run must provide it',
    );
  });

  it('outside CI, a missing program is false: the test skips', () => {
    delete process.env.CI;
    expect(has('labtel-no-such-program')).toBe(false);
    process.env.CI = 'false';
    expect(underCi()).toBe(false);
    expect(has('labtel-no-such-program')).toBe(false);
  });

  it('a program that runs is true, under CI or not', () => {
    process.env.CI = '1';
    expect(has('node')).toBe(true);
    delete process.env.CI;
    expect(has('node')).toBe(true);
  });

  it('any other requirement: false throws under CI with what is missing, true passes', () => {
    process.env.CI = 'true';
    expect(() => available(false, 'network namespaces cannot be made here')).toThrow(/^under CI every test must run, but network namespaces cannot be made here: /);
    expect(available(true, 'unused')).toBe(true);
  });
});
