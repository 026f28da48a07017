// `labtel verify DIR` in its plain form runs without commander
// (src/cli/main.ts): what plainVerifyArgv accepts must give exactly the
// directory and options commander gives for the same argv with the command's
// own definition, and everything else must be left to commander (null), so
// its parsing and messages stay the only ones.
// regression for: a commander-free fast path that reads an argv differently
// (a repeated flag, a directory named like a flag or a number, two
// directories) or swallows what commander would refuse or treat otherwise
// (--help, --json=x, unknown flags, "--").
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { plainVerifyArgv, verifyCommandSpec } from '../../src/cli/commands/verify-argv.js';

/** Commander's reading of argv (after the program name): directory and options, or the error it stops with. */
function commander(argv: string[]): unknown {
  let got: unknown = null;
  const program = new Command().exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  verifyCommandSpec(program.command('verify').exitOverride()).action((dir: string, opts: object) => {
    got = { dir, opts: { ...opts } };
  });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    return { refused: (err as Error).message };
  }
  return got;
}

const words = ['ep', 'episodes/syn-flood-01', '/tmp/a b', '100', '-', '', '--json', '--allow-degraded', '--help', '-h', '--', '--json=1', '--allow-degraded=true', '--nope', '-j', '--JSON', 'verify', '--version', '-V', 'é'];

function argvs(): string[][] {
  const out: string[][] = [[], ['verify'], ['run', 'm.json'], ['bucketize', 'ep'], ['report', 'ep']];
  for (const a of words) {
    out.push(['verify', a]);
    for (const b of words) {
      out.push(['verify', a, b]);
      for (const c of words) out.push(['verify', a, b, c]);
    }
  }
  return out;
}

describe('labtel verify read without commander', () => {
  it('gives what commander gives for every argv it takes, and leaves the rest to commander', () => {
    const all = argvs();
    expect(all.length).toBeGreaterThan(8000);
    let taken = 0;
    const wrong: string[] = [];
    for (const argv of all) {
      const plain = plainVerifyArgv(argv);
      if (plain === null) continue;
      taken++;
      const c = commander(argv);
      if (JSON.stringify(c) !== JSON.stringify(plain)) wrong.push(`${JSON.stringify(argv)}: plain ${JSON.stringify(plain)}, commander ${JSON.stringify(c)}`);
    }
    expect(taken).toBeGreaterThan(50);
    expect(wrong).toEqual([]);
  });

  it('takes the forms labtel verify is run with', () => {
    expect(plainVerifyArgv(['verify', 'ep'])).toEqual({ dir: 'ep', opts: {} });
    expect(plainVerifyArgv(['verify', '--json', 'ep', '--allow-degraded'])).toEqual({ dir: 'ep', opts: { json: true, allowDegraded: true } });
    expect(plainVerifyArgv(['verify', 'ep', '--help'])).toBeNull();
    expect(plainVerifyArgv(['verify', '--', 'ep'])).toBeNull();
  });
});
