// What a test needs from the host, asked in one place. Outside CI a missing
// program (or root, or a network namespace) skips the tests that need it;
// under CI, which installs every program and runs as root (.ci/run), it throws
// instead, naming what is missing: a skipped test there would be a test that
// quietly proved nothing.
import { spawnSync } from 'node:child_process';

/** CI as most runners set it (CI=1, CI=true); CI=0 or CI=false is not CI. */
export const underCi = (): boolean => !!process.env.CI && process.env.CI !== '0' && process.env.CI !== 'false';

/**
 * `ok`, for a skipIf/runIf condition; under CI a false `ok` throws, naming
 * `what` is missing, so the test file fails instead of being skipped.
 */
export function available(ok: boolean, what: string): boolean {
  if (!ok && underCi()) throw new Error(`under CI every test must run, but ${what}: .ci/run must provide it`);
  return ok;
}

const runs = (cmd: string): boolean => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const seen = new Map<string, boolean>();

/** Whether `cmd --version` runs here; under CI its absence throws (see available()). */
export function has(cmd: string): boolean {
  if (!seen.has(cmd)) seen.set(cmd, runs(cmd));
  return available(seen.get(cmd)!, `${cmd} is not installed (\`${cmd} --version\` did not run)`);
}

/** Whether this test runs as root; under CI not being root throws. */
export const isRoot = (): boolean => available(process.getuid?.() === 0, 'the tests do not run as root');
