// `labtel bucketize`'s command line: its commander definition (program.ts
// builds the CLI with it), and the plain form of it read without commander,
// so `labtel bucketize FILE -o OUT --bucket-ms N --guest-ip IP` does not load
// commander and the CLI's definitions (~15 ms of its start-up). The plain
// form: one or more capture paths and the flags below, each as `--flag VALUE`
// (VALUE not starting with "-", except `-o -`), a single-valued flag at most
// once. Anything else (--help, --flag=VALUE, --episode, --out-dir, -j, "--",
// unknown flags) returns null and goes through commander, which stays the
// only judge of what is refused and how it is said. On what this accepts
// the two give the same captures and flags: test/cli/bucketize-argv.test.ts.
import type { Command } from 'commander';
import type { BucketizeFlags } from './bucketize-options.js';

const collect = (v: string, acc: string[]) => [...acc, v];

/** The bucketize command's arguments and options, on commander's `program.command('bucketize')`. */
export function bucketizeCommandSpec(c: Command): Command {
  return c
    .description('netflow rows from stored pcap/pcapng captures')
    .argument('[captures...]', 'capture files (default with --episode: its network.pcap)')
    .option('-o, --output <file>', 'output JSONL file, - for stdout (one capture; default -)')
    .option('--out-dir <dir>', 'one <name>.netflow.jsonl per capture, captures spread over worker threads')
    .option('--bucket-ms <ms>', 'bucket width (default 100; with --episode, the episode\'s)')
    .option('--lateness-ms <ms>', 'how long past its end a bucket stays open for late packets (default 0; with --episode, the episode\'s)')
    .option('--max-empty-buckets <n>', 'empty buckets between packets written as zero rows, at most, in a row (default 3600; with --episode, the episode\'s); a longer gap is counted in the next row\'s empty_buckets_skipped')
    .option('--guest-ip <ip>', "the guest's address (repeatable; IPv4 or IPv6)", collect, [])
    .option('--guest-mac <mac>', "the guest's MAC address (repeatable)", collect, [])
    .option('--bridge-ip <ip>', 'the host side of the guest\'s bridge: packets from it are in, to it out', collect, [])
    .option('--episode <dir>', "put rows on that episode's clock (its episode.json); a live capture's episode is replayed as its netflow collector saw it")
    .option('--origin-wall-ns <ns>', 'wall-clock ns since the epoch that is t_mono_ns 0 (default: the first packet)')
    .option('--no-fill', 'do not write zero rows for empty buckets between packets')
    .option('--skip-bad', 'skip bad records (counted) instead of stopping at the first')
    .option('--force', 'overwrite existing output files')
    .option('-j, --jobs <n>', 'worker threads with --out-dir (default: one per core)');
}

type Single = 'output' | 'bucketMs' | 'latenessMs' | 'maxEmptyBuckets' | 'originWallNs';
const SINGLE: Record<string, Single> = {
  '-o': 'output',
  '--output': 'output',
  '--bucket-ms': 'bucketMs',
  '--lateness-ms': 'latenessMs',
  '--max-empty-buckets': 'maxEmptyBuckets',
  '--origin-wall-ns': 'originWallNs',
};
const LIST: Record<string, 'guestIp' | 'guestMac' | 'bridgeIp'> = { '--guest-ip': 'guestIp', '--guest-mac': 'guestMac', '--bridge-ip': 'bridgeIp' };

/** argv after the program (process.argv.slice(2)) in bucketize's plain form: its captures and flags as commander gives them; else null. */
export function plainBucketizeArgv(argv: readonly string[]): { captures: string[]; flags: BucketizeFlags } | null {
  if (argv[0] !== 'bucketize') return null;
  const captures: string[] = [];
  const flags: BucketizeFlags = { guestIp: [], guestMac: [], bridgeIp: [], fill: true };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '' || a[0] !== '-') {
      captures.push(a);
      continue;
    }
    const single = Object.hasOwn(SINGLE, a) ? SINGLE[a] : undefined;
    const list = Object.hasOwn(LIST, a) ? LIST[a] : undefined;
    if (single || list) {
      const v = argv[++i];
      if (v === undefined || (v[0] === '-' && !(v === '-' && single === 'output'))) return null;
      if (list) flags[list] = [...flags[list], v];
      else if (flags[single!] !== undefined) return null;
      else flags[single!] = v;
    } else if (a === '--no-fill' && flags.fill) flags.fill = false;
    else if (a === '--skip-bad' && !flags.skipBad) flags.skipBad = true;
    else if (a === '--force' && !flags.force) flags.force = true;
    else return null;
  }
  return captures.length ? { captures, flags } : null;
}
