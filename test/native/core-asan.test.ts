import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { has } from '../helpers/programs.js';

const hasCmake = has('cmake');

describe('native core under ASan and UBSan', () => {
  // CI installs cmake; the sanitizers catch what the JS-level tests cannot see.
  it.skipIf(!hasCmake)('builds with cmake-js and passes its own tests (/proc fixtures, captures built in memory), with no sanitizer report', () => {
    const out = execFileSync('npm', ['run', '--silent', 'build:native:asan'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toMatch(/core_tests: 4 fixture cases, \d+ checks, 0 failed/);
    expect(out).toMatch(/pcap_tests: \d+ checks, 0 failed/);
    expect(out).not.toMatch(/ERROR: AddressSanitizer|runtime error:/);
  }, 300_000);
});
