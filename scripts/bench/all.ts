// Runs every benchmark, one after the other, and prints BENCHMARKS.md: the
// preamble below, then each script's own markdown section (stdout) as it
// printed it; progress goes to stderr. With --out FILE it writes the file
// instead. A benchmark that cannot run here (not root, no nats-server) gets a
// section that says so, never old figures.
//
//   npm run bench:all -- --out BENCHMARKS.md      (as root, on a quiet machine)
//   npm run bench:all -- --only proc,nats         (some of them)
//   BENCH_QUICK=1 npm run bench:all               (reduced sizes: for developing the scripts)
//
// To add a benchmark (for instance a timing moved out of a test): write
// scripts/bench/NAME.ts printing its section with printSection() from
// section.ts, add "bench:NAME" to package.json and an entry to BENCHES.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { QUICK, log } from './section.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');

interface Bench {
  name: string;
  title: string;
  /** Why it cannot run here, or null. */
  cannot: () => string | null;
}

const onPath = (prog: string) => spawnSync('sh', ['-c', `command -v ${prog}`], { stdio: 'ignore' }).status === 0;

const BENCHES: Bench[] = [
  { name: 'proc', title: 'proc sampling', cannot: () => null },
  { name: 'bucketize', title: 'Offline bucketize', cannot: () => (onPath('python3') ? null : 'python3 (which measures wall time and peak RSS) is not installed') },
  { name: 'capture', title: 'Live capture (root)', cannot: () => (process.getuid?.() !== 0 ? 'not root (it makes network namespaces)' : onPath('tcpdump') ? null : 'tcpdump is not installed') },
  { name: 'nats', title: 'Forwarding to NATS JetStream', cannot: () => (onPath('nats-server') ? null : 'nats-server is not installed') },
  { name: 'agent', title: 'The agent beside a booted guest (all six collectors)', cannot: () => (process.getuid?.() !== 0 ? 'not root (it boots the test guest in a network namespace)' : onPath('qemu-system-x86_64') ? null : 'qemu-system-x86_64 is not installed') },
  { name: 'libvirt', title: 'QMP through libvirt: the cost of a poll', cannot: () => (process.getuid?.() !== 0 ? 'not root (libvirtd runs domains as root here)' : spawnSync('virsh', ['-c', 'qemu:///system', 'version'], { stdio: 'ignore' }).status === 0 ? null : 'no libvirtd answers on qemu:///system (as root: bash scripts/start-libvirtd.sh)') },
  { name: 'verify', title: '`labtel verify` throughput', cannot: () => null },
  { name: 'report', title: '`labtel report` on a one-hour episode', cannot: () => null },
  // Runs anywhere; what needs root (the test networks) or a program that is absent says so in its section.
  { name: 'latency', title: 'Latencies and cadences (moved out of the tests)', cannot: () => null },
  { name: 'fuzz', title: 'Fuzzing rates', cannot: () => (onPath('clang++') && onPath('cmake') ? null : 'clang++ and cmake (which build the libFuzzer targets) are not both installed') },
];

const PREAMBLE = `# Benchmarks

Every figure here is printed by a script in \`scripts/bench/\`, in one run, beside what it is compared with: each section below is the markdown that script printed, pasted unchanged, with the command that ran it and the machine it ran on (the script prints that line too). \`npm run bench:all -- --out BENCHMARKS.md\` reruns them all and rewrites this file. Benchmarks are scripts, never timed tests.
`;

const FROM_TESTS = `## Timings moved out of tests

Tests assert no wall-clock time (issue 15). The figures the tests used to assert as timings are printed by \`npm run bench:latency\`, in the section "Latencies and cadences (moved out of the tests)" above: proc's achieved interval at 100 ms; perf's attach latency and row cadence at 200 ms; QMP's reconnect backoff gaps and the hang-up-to-rejection latency; the qmp and guest loops ending after the abort, and \`labtel run\` from SIGTERM to exit; the time and memory to drop a 200 MiB QMP line and a 64 MiB guest stream; a guest line to its row; and the perf and tcpdump children left after the agent is SIGKILLed. A timing taken out of a test later goes there too (or into a script of its own, registered in \`scripts/bench/all.ts\`).
`;

function argValue(flag: string): string | null {
  const i = process.argv.indexOf(flag);
  return i > 0 ? (process.argv[i + 1] ?? null) : null;
}

async function run(b: Bench): Promise<string> {
  const why = b.cannot();
  if (why) return `## ${b.title}\n\nNot run by \`npm run bench:all\` here: ${why}. Run \`npm run bench:${b.name}\` where it can run.\n`;
  log(`== bench:${b.name}`);
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, `${b.name}.ts`)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  if (code !== 0) return `## ${b.title}\n\nNot measured: \`npm run bench:${b.name}\` exited ${code} in this run (its stderr above says why).\n`;
  return out.endsWith('\n') ? out : `${out}\n`;
}

const only = argValue('--only')?.split(',');
const unknown = only?.filter((n) => !BENCHES.some((b) => b.name === n)) ?? [];
if (unknown.length > 0) throw new Error(`--only: no benchmark named ${unknown.join(', ')} (have: ${BENCHES.map((b) => b.name).join(', ')})`);
const outFile = argValue('--out');
if (outFile && QUICK) throw new Error('--out with BENCH_QUICK=1: quick figures are not for BENCHMARKS.md');

const sections: string[] = [PREAMBLE];
for (const b of BENCHES) if (!only || only.includes(b.name)) sections.push(await run(b));
if (!only) sections.push(FROM_TESTS);
const doc = sections.join('\n');
if (outFile) {
  fs.writeFileSync(outFile, doc);
  log(`wrote ${outFile}`);
} else process.stdout.write(doc);
