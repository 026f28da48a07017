// The labtel command line.
import { Command, InvalidArgumentError } from 'commander';
import { VERSION } from '../version.js';
import { demoCommand } from './commands/demo.js';
import { doctorCommand } from './commands/doctor.js';
import { runCommand } from './commands/run.js';

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got ${JSON.stringify(v)}`);
  return n;
}

const program = new Command()
  .name('labtel')
  .description('Host-side telemetry agent for QEMU labs')
  .version(VERSION)
  .showHelpAfterError();

let exitCode = 0;

program
  .command('run')
  .description('run one episode from a manifest')
  .argument('<manifest>', 'manifest JSON file')
  .option('--force', "reuse a non-empty episode directory (removes only labtel's own files)")
  .option('-q, --quiet', 'no progress lines on stderr')
  .action(async (file: string, opts: { force?: boolean; quiet?: boolean }) => {
    exitCode = await runCommand(file, opts);
  });

program
  .command('doctor')
  .description('what this host and build can collect, and whether the native addon is in use')
  .option('--json', 'machine-readable output')
  .action(async (opts: { json?: boolean }) => {
    exitCode = await doctorCommand(opts);
  });

program
  .command('demo')
  .description('a short episode against a workload labtel starts, with every collector this host supports')
  .option('-d, --duration <seconds>', 'episode length', positiveNumber, 5)
  .option('-o, --output-dir <dir>', 'episode directory (default: labtel-demo-<time> here)')
  .action(async (opts: { duration: number; outputDir?: string }) => {
    exitCode = await demoCommand(opts);
  });

try {
  await program.parseAsync();
  process.exitCode = exitCode;
} catch (err) {
  console.error(`labtel: ${(err as Error).message}`);
  process.exitCode = 2;
}
