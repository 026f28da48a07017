// `labtel verify`'s command line: its commander definition (program.ts
// builds the CLI with it), and the plain form of it read without commander,
// so `labtel verify DIR [--json] [--allow-degraded]` does not load commander
// and the CLI's definitions (main.ts). The plain form: one directory (not
// starting with "-") and each of the two flags at most once, in any order.
// Anything else (--help, --json=x, "--", a second directory, unknown flags)
// returns null and goes through commander, which stays the only judge of
// what is refused and how it is said. On what this accepts the two give the
// same directory and options: test/cli/verify-argv.test.ts.
import type { Command } from 'commander';

export interface VerifyFlags {
  json?: boolean;
  allowDegraded?: boolean;
}

/** The verify command's argument and options, on commander's `program.command('verify')`. */
export function verifyCommandSpec(c: Command): Command {
  return c
    .description('a verdict per collector on an episode directory: ok, degraded or failed, with the reasons')
    .argument('<episode-dir>', 'the episode directory')
    .option('--json', 'machine-readable output (docs/verify.md)')
    .option('--allow-degraded', 'exit 0 when no collector failed, even if some are degraded');
}

const FLAGS: Record<string, keyof VerifyFlags> = { '--json': 'json', '--allow-degraded': 'allowDegraded' };

/** argv after the program (process.argv.slice(2)) in verify's plain form: its directory and options as commander gives them; else null. */
export function plainVerifyArgv(argv: readonly string[]): { dir: string; opts: VerifyFlags } | null {
  if (argv[0] !== 'verify') return null;
  let dir: string | null = null;
  const opts: VerifyFlags = {};
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    const flag = Object.hasOwn(FLAGS, a) ? FLAGS[a]! : undefined;
    if (flag && !opts[flag]) opts[flag] = true;
    else if (!flag && a !== '' && a[0] !== '-' && dir === null) dir = a;
    else return null;
  }
  return dir === null ? null : { dir, opts };
}
