// The labtel command line through commander (main.ts runs the plain form of
// `labtel bucketize` without it). Each command's module is loaded only when
// that command runs, so `labtel bucketize` does not pay for the agent's imports.
import { Command, InvalidArgumentError } from 'commander';
import { VERSION } from '../version.js';
import { scrubbedMessage } from '../util/scrub-secrets.js';
import { bucketizeCommandSpec } from './commands/bucketize-argv.js';

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got ${JSON.stringify(v)}`);
  return n;
}

const collect = (v: string, acc: string[]) => [...acc, v];

/** NATS credential flags of forward and pull: paths only (a secret on a command line is visible to every local user in /proc). */
function credentialFlags(c: Command): Command {
  return c
    .option('--credentials <file>', 'a NATS .creds file (user JWT + nkey seed); default: the manifest\'s sinks.nats.credentials, or LABTEL_NATS_CREDS')
    .option('--nkey-seed-file <file>', 'a file holding an nkey user seed')
    .option('--token-file <file>', "a file holding the server's token")
    .option('--user <name>', 'a NATS user name, with --password-file')
    .option('--password-file <file>', "a file holding the user's password")
    .option('--inbox-prefix <prefix>', 'reply subjects prefix (default _INBOX), for servers that give each client its own');
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
    exitCode = await (await import('./commands/run.js')).runCommand(file, opts);
  });

bucketizeCommandSpec(program.command('bucketize')).action(async (captures: string[], opts) => {
  exitCode = await (await import('./commands/bucketize.js')).bucketizeCommand(captures, opts);
});

program
  .command('check')
  .description('what labtel run would decide for a manifest on this host: the target and each collector\'s preflight')
  .argument('<manifest>', 'manifest JSON file')
  .option('--json', 'machine-readable output')
  .action(async (file: string, opts: { json?: boolean }) => {
    exitCode = await (await import('./commands/check.js')).checkCommand(file, opts);
  });

program
  .command('verify')
  .description('a verdict per collector on an episode directory: ok, degraded or failed, with the reasons')
  .argument('<episode-dir>', 'the episode directory')
  .option('--json', 'machine-readable output (docs/verify.md)')
  .option('--allow-degraded', 'exit 0 when no collector failed, even if some are degraded')
  .action(async (dir: string, opts: { json?: boolean; allowDegraded?: boolean }) => {
    exitCode = await (await import('./commands/verify.js')).verifyCommand(dir, opts);
  });

program
  .command('forward')
  .description('publish a finished episode to NATS JetStream (idempotent: each row is stored once)')
  .argument('<episode-dir>', 'the episode directory')
  .option('--servers <url>', 'a NATS server (repeatable; default: the episode manifest\'s sinks.nats.servers)', collect, [])
  .option('--stream <name>', 'JetStream stream (default LABTEL)')
  .option('--subject-prefix <prefix>', 'subject prefix (default labtel)')
  .option('--host <name>', 'this host\'s name in subjects (default: the host name)')
  .action(async (dir: string, opts) => {
    exitCode = await (await import('./commands/nats.js')).forwardCommand(dir, opts);
  });

program
  .command('pull')
  .description("materialize the stream's episodes as episode directories (<out>/<host>/<episode>/)")
  .requiredOption('--out <dir>', 'where to write them')
  .option('--servers <url>', 'a NATS server (repeatable)', collect, [])
  .option('--stream <name>', 'JetStream stream (default LABTEL)')
  .option('--subject-prefix <prefix>', "the forwarders' subject prefix (default labtel): only subjects under it are pulled")
  .option('--durable <name>', 'the durable consumer\'s name (one per puller)', 'labtel-pull')
  .option('--follow', 'keep pulling after catching up, until SIGINT/SIGTERM')
  .action(async (opts) => {
    exitCode = await (await import('./commands/nats.js')).pullCommand(opts);
  });

// After their own options, so --help lists these last.
for (const name of ['forward', 'pull']) credentialFlags(program.commands.find((c) => c.name() === name)!);

program
  .command('report')
  .description('one self-contained HTML file: time-aligned panels of what was measured (gaps and markers where a series breaks), QMP events as markers, the verify verdict')
  .argument('<episode-dir>', 'the episode directory')
  .option('-o, --output <file>', 'where to write it (default: <episode-dir>/report.html)')
  .action(async (dir: string, opts: { output?: string }) => {
    exitCode = await (await import('./commands/report.js')).reportCommand(dir, opts);
  });

program
  .command('doctor')
  .description('what this host and build can collect, and whether the native addon is in use')
  .option('--json', 'machine-readable output')
  .action(async (opts: { json?: boolean }) => {
    exitCode = await (await import('./commands/doctor.js')).doctorCommand(opts);
  });

program
  .command('demo')
  .description('a short episode against a workload labtel starts, with every collector this host supports')
  .option('-d, --duration <seconds>', 'episode length', positiveNumber, 5)
  .option('-o, --output-dir <dir>', 'episode directory (default: labtel-demo-<time> here)')
  .option('--vm', 'boot a tiny real guest (built from Debian packages) and record it with all six collectors (root, QEMU)')
  .action(async (opts: { duration: number; outputDir?: string; vm?: boolean }) => {
    exitCode = opts.vm
      ? await (await import('./commands/demo-vm.js')).demoVmCommand(opts)
      : await (await import('./commands/demo.js')).demoCommand(opts);
  });

export async function runProgram(): Promise<void> {
  try {
    await program.parseAsync();
    process.exitCode = exitCode;
  } catch (err) {
    // Scrubbed: a NATS or fs error may quote a URL with userinfo, a token or a credentials file's contents.
    console.error(`labtel: ${scrubbedMessage(err)}`);
    process.exitCode = 2;
  }
}
