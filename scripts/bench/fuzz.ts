// Benchmark (not a test): how many inputs per second each fuzz target runs,
// each for the same fixed time from its seeds alone (a fresh scratch corpus),
// through scripts/fuzz.sh as `npm run fuzz:<target>` runs it. fuzz_pcap (the
// capture reader and decoder fed directly) is printed beside
// fuzz_pcap_pipeline (reader, decoder and bucketizer: the harness fuzz_pcap
// was until issue 17, plus a run through run_pipeline's threads), so the two
// rates come from one run on one machine.
// stdout: the markdown section of BENCHMARKS.md; stderr: progress and JSON.
//
//   npm run bench:fuzz          BENCH_FUZZ_SECONDS (20 each; BENCH_QUICK=1: 3)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandLine, int, intEnv, log, machine, mdTable, printSection, type Target, versionOf } from './section.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SECONDS = intEnv('BENCH_FUZZ_SECONDS', 20, 3);
if (SECONDS === 0) throw new Error('BENCH_FUZZ_SECONDS: expected a positive number of seconds, got 0');

interface Fuzzer {
  target: string;
  kind: 'libFuzzer' | 'fast-check';
  what: string;
}

const FUZZERS: Fuzzer[] = [
  { target: 'pcap', kind: 'libFuzzer', what: 'fuzz_pcap: capture reader + packet decoder, fed directly (whole and in 1-64 byte chunks, skip_bad off and on)' },
  { target: 'pcap_pipeline', kind: 'libFuzzer', what: "fuzz_pcap_pipeline: reader + decoder + bucketizer (the pcap harness before issue 17), then once more through run_pipeline's threads" },
  { target: 'proc', kind: 'libFuzzer', what: 'fuzz_proc: the /proc stat, statm, status and io parsers' },
  { target: 'qmp', kind: 'fast-check', what: "qmpLinesProperty: QEMU's QMP lines through the qmp collector's line handling" },
  { target: 'guest', kind: 'fast-check', what: "guestLinesProperty: the guest's lines through the guest channel's line handling" },
];

interface Run {
  code: number | null;
  out: string;
}

function fuzzSh(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(ROOT, 'scripts', 'fuzz.sh'), args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out }));
  });
}

interface Result {
  target: string;
  inputs: number | null;
  seconds: number | null;
  rate: number | null;
  peakRssMb: number | null;
  /** Why there is no rate, or null. */
  why: string | null;
}

const lastLines = (s: string, n = 3): string => s.trimEnd().split('\n').slice(-n).join(' / ');

async function measure(f: Fuzzer): Promise<Result> {
  const corpus = fs.mkdtempSync(path.join(os.tmpdir(), `labtel-bench-fuzz-${f.target}-`));
  try {
    log(`== fuzz ${f.target} for ${SECONDS} s`);
    const r = await fuzzSh([f.target, String(SECONDS)], { LABTEL_FUZZ_CORPUS: corpus });
    const m = new RegExp(`^fuzz: ${f.target} ran (\\d+) inputs in ([\\d.]+) s`, 'm').exec(r.out);
    const rss = /^stat::peak_rss_mb:\s*(\d+)$/m.exec(r.out);
    if (r.code !== 0 || !m) return { target: f.target, inputs: null, seconds: null, rate: null, peakRssMb: null, why: `scripts/fuzz.sh ${f.target} exited ${r.code}: ${lastLines(r.out)}` };
    const inputs = Number(m[1]);
    const seconds = Number(m[2]);
    return { target: f.target, inputs, seconds, rate: inputs / seconds, peakRssMb: rss ? Number(rss[1]) : null, why: null };
  } finally {
    fs.rmSync(corpus, { recursive: true, force: true });
  }
}

const m0 = machine();
const build = await fuzzSh(['build']);
if (build.code !== 0) throw new Error(`scripts/fuzz.sh build exited ${build.code}:\n${build.out}`);
const buildLine = /^fuzz: libFuzzer targets built in .*$/m.exec(build.out)?.[0] ?? 'fuzz: (no build line)';
const results: Result[] = [];
for (const f of FUZZERS) results.push(await measure(f));

const byTarget = new Map(results.map((r) => [r.target, r]));
const pcap = byTarget.get('pcap')!;
const pipeline = byTarget.get('pcap_pipeline')!;
const rows = FUZZERS.map((f) => {
  const r = byTarget.get(f.target)!;
  return [
    `\`scripts/fuzz.sh ${f.target}\``,
    f.kind,
    f.what,
    r.inputs === null ? '—' : int(r.inputs),
    r.rate === null ? `not measured: ${r.why}` : int(r.rate),
    r.peakRssMb === null ? '—' : String(r.peakRssMb),
  ];
});
const ratio = pcap.rate !== null && pipeline.rate !== null ? pcap.rate / pipeline.rate : null;
const targets: Target[] = [
  {
    what: 'fuzz_pcap runs thousands of inputs per second (at least 1,000/s)',
    pass: pcap.rate === null ? null : pcap.rate >= 1000,
    value: pcap.rate === null ? `not measured: ${pcap.why}` : `${int(pcap.rate)}/s`,
  },
  {
    what: 'fuzz_pcap runs at least 5x the inputs per second of the whole-pipeline harness',
    pass: ratio === null ? null : ratio >= 5,
    value: ratio === null ? 'not measured: a rate is missing (see the table)' : `${ratio.toFixed(1)}x (${int(pcap.rate!)}/s against ${int(pipeline.rate!)}/s)`,
  },
];

printSection(
  {
    title: 'Fuzzing rates',
    command: commandLine('bench:fuzz', ['BENCH_FUZZ_SECONDS']),
    machine: m0,
    body: [
      `Each target runs ${SECONDS} s from its seeds alone (a fresh scratch corpus; the libFuzzer targets also get the real captures of test/fixtures/pcap, inputs of at most 4096 bytes), through \`scripts/fuzz.sh\` as the npm scripts run it: the inputs are what libFuzzer or fast-check executed, the seconds are the fuzzer's wall time (for libFuzzer: start, seed runs and fuzzing). The libFuzzer targets are built with ${versionOf('clang++')?.replace(/\s*\(.*$/, '') ?? 'clang'} with ASan, UBSan and libFuzzer's comparison tracing (${buildLine.replace(/^fuzz: /, '')}). Rates fall as a corpus grows towards larger inputs, so a longer run gives a lower average.`,
      mdTable(['target', 'engine', 'what an input goes through', 'inputs', 'inputs/s', 'peak RSS (MB, libFuzzer)'], rows),
      "fuzz_pcap_pipeline costs per input, not per byte: each input builds five bucketizers (a 65,537-entry port list each, without lateness), may materialize up to 5000 zero rows per timestamp gap, and starts run_pipeline's parse thread; the reader and decoder alone cost what the bytes need. Both harnesses check the same reader and decoder invariants; the pipeline one adds the bucketizer's (rows, zero-row runs, the flow table and distinct sets at their bounds) and that the threaded pipeline gives the same rows. The pcap harness as it was before issue 17 (without the threaded run, inputs up to 65,536 bytes) ran about 390 inputs/s on this machine when it was quiet (native/fuzz/corpus-README.md).",
    ],
    targets,
  },
  { seconds: SECONDS, results, build: buildLine },
);
