// Benchmark (not a test): `labtel verify` on a generated 300,000-row episode
// with every collector (scripts/bench/gen-episode.ts: every field of each row
// schema, which verify judges ok), beside its own start-up (Node alone, and
// labtel verify on the same episode with empty telemetry files) and what
// reading the same bytes costs:
// `cat` of the files, a Node read loop, and a Node loop that JSON.parses every
// line (each a whole process, taking turns, wall and CPU from python3's
// os.wait4 rusage of that child); in-process, verifyEpisode against the scan
// verify had before (frozen in test/verify/legacy-scan-rows.ts), and labtel
// verify on one thread (LABTEL_VERIFY_SPLIT=off: without the worker that scans
// the largest file's tail, src/verify/split-scan.ts). Then the same episode
// with a seq gap in its very last row, which verify must catch, on one thread
// and with the tail scanned by the worker.
// stdout: the markdown section of BENCHMARKS.md; stderr: progress and JSON.
//
//   npm run bench:verify
//   BENCH_VERIFY_ROWS (300000); BENCH_QUICK=1: 30000; BENCH_RUNS (5; quick 3)
//   BENCH_VERIFY_BASELINE=DIR: also time DIR/bin/labtel.js verify, an older
//     labtel built there (e.g. git worktree add DIR da5b2d9 && cd DIR &&
//     ln -s $PWD/node_modules && npx tsc -p tsconfig.build.json)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CATALOG } from '../../src/collectors/catalog.js';
import { SPLIT_MIN_BYTES } from '../../src/verify/split-scan.js';
import { verifyEpisode } from '../../src/verify/verify-episode.js';
import { legacyScanFile } from '../../test/verify/legacy-scan-rows.js';
import { generateEpisode } from './gen-episode.js';
import { commandLine, fmt, int, intEnv, log, machine, mdTable, median, printSection, type Target } from './section.js';
import { measureCommand } from './measure-command.js';

const ROWS = intEnv('BENCH_VERIFY_ROWS', 300_000, 30_000);
const RUNS = intEnv('BENCH_RUNS', 5, 3);
const TARGET_MBS = 200;
const BASELINE = process.env.BENCH_VERIFY_BASELINE || null;
const ROOT = path.resolve(import.meta.dirname, '../..');
const LABTEL = path.join(ROOT, 'bin/labtel.js');

const mach = machine();
const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-bench-verify-')), 'episode');
fs.mkdirSync(dir);
// gen-episode writes about 109 rows per second of episode with every collector.
const probe = generateEpisode(dir, 10);
const perSecond = Object.values(probe).reduce((a, b) => a + b, 0) / 10;
for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f));
const seconds = Math.ceil(ROWS / perSecond);
log(`generating ${seconds} s of episode (about ${int(ROWS)} rows) in ${dir}...`);
const written = generateEpisode(dir, seconds);
const rows = Object.values(written).reduce((a, b) => a + b, 0);
const files = fs.readdirSync(dir).filter((f) => /^telemetry-.*\.jsonl$/.test(f)).map((f) => path.join(dir, f)).sort();
const bytes = files.reduce((k, f) => k + fs.statSync(f).size, 0);
const mb = bytes / 1e6;
log(`${int(rows)} rows, ${fmt(mb, 1)} MB in ${files.length} files`);
// The same episode with its telemetry files empty: `labtel verify` on it is its start-up (Node, the CLI, zod and the row schemas) and nothing to scan.
const emptyDir = path.join(path.dirname(dir), 'empty');
fs.mkdirSync(emptyDir);
for (const f of ['episode.json', 'summary.json']) fs.copyFileSync(path.join(dir, f), path.join(emptyDir, f));
for (const f of files) fs.writeFileSync(path.join(emptyDir, path.basename(f)), '');


const READ_LOOP = `const fs=require('fs');const b=Buffer.allocUnsafe(4<<20);let n=0;for(const f of process.argv.slice(1)){const fd=fs.openSync(f,'r');for(let k;(k=fs.readSync(fd,b,0,b.length,null))>0;)n+=k;fs.closeSync(fd)}console.log(n)`;
const PARSE_LOOP = `const fs=require('fs');const b=Buffer.allocUnsafe(4<<20);let rows=0;for(const f of process.argv.slice(1)){const fd=fs.openSync(f,'r');let rest=Buffer.alloc(0);for(let k;(k=fs.readSync(fd,b,0,b.length,null))>0;){const c=rest.length?Buffer.concat([rest,b.subarray(0,k)]):b.subarray(0,k);let s=0;for(let nl=c.indexOf(10);nl>=0;s=nl+1,nl=c.indexOf(10,s)){JSON.parse(c.toString('utf8',s,nl));rows++}rest=Buffer.from(c.subarray(s))}fs.closeSync(fd)}console.log(rows)`;

interface Command {
  name: string;
  argv: string[];
  /** Exit statuses that are not a failure (verify exits 1 on a failed episode). */
  ok: number[];
  walls: number[];
  cpus: number[];
  failed: string | null;
}
const command = (name: string, argv: string[], ok = [0]): Command => ({ name, argv, ok, walls: [], cpus: [], failed: null });
const commands: Command[] = [
  command('Node start-up alone (`node -e 0`)', [process.execPath, '-e', '0']),
  command('`labtel verify` start-up: the same episode with its telemetry files empty (Node, the CLI, zod, the row schemas; no row)', [process.execPath, LABTEL, 'verify', emptyDir], [1]),
  command(`\`cat\` of the ${files.length} files > /dev/null`, ['sh', '-c', 'cat "$@" > /dev/null', 'cat', ...files]),
  command('Node: read the files (4 MiB reads), nothing else', [process.execPath, '-e', READ_LOOP, ...files]),
  command('Node: JSON.parse every line, nothing else', [process.execPath, '-e', PARSE_LOOP, ...files]),
  command('**`labtel verify DIR`**', [process.execPath, LABTEL, 'verify', dir]),
  command('`labtel verify DIR` on one thread (`LABTEL_VERIFY_SPLIT=off`: no worker for the largest file\'s tail)', ['env', 'LABTEL_VERIFY_SPLIT=off', process.execPath, LABTEL, 'verify', dir]),
  ...(BASELINE ? [command(`\`labtel verify DIR\` before (${BASELINE})`, [process.execPath, path.join(BASELINE, 'bin/labtel.js'), 'verify', dir])] : []),
];
const loadBefore = os.loadavg()[0]!;
const largestShare = Math.max(...files.map((f) => fs.statSync(f).size)) / bytes;
// Whether `labtel verify` (the bold row) had its worker, by verify's own test (split-scan.ts) just before each run of it.
const cores = os.availableParallelism();
const splitLoads: number[] = [];
const splitRuns = () => (bytes < SPLIT_MIN_BYTES || cores < 2 ? 0 : splitLoads.filter((l) => l < cores).length);
for (let run = 0; run < RUNS; run++) {
  for (const c of commands) {
    if (c.name.includes('**')) splitLoads.push(os.loadavg()[0]!);
    const { wall, code, cpu, lastError } = measureCommand(c.argv);
    if (!c.ok.includes(code) || !Number.isFinite(wall)) {
      c.failed ??= `exited ${code}: ${lastError}`;
      log(`  ${c.name}: ${c.failed}`);
    }
    c.walls.push(wall);
    c.cpus.push(cpu);
  }
  log(`run ${run + 1}/${RUNS}: ${commands.map((c) => `${c.name.replace(/\W+/g, ' ').trim().slice(0, 24)} ${fmt(c.walls.at(-1)!, 2)} s`).join('; ')}`);
}

// In-process: verifyEpisode (its first call in this process, then again), and the scan verify had before over the same files.
const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e3;
};
const timed = <T>(fn: () => T): { wall: number; cpu: number; value: T } => {
  const c0 = cpuMs();
  const t0 = performance.now();
  const value = fn();
  return { wall: performance.now() - t0, cpu: cpuMs() - c0, value };
};
const inProcess = Array.from({ length: RUNS }, () => timed(() => verifyEpisode(dir)));
const verdict = inProcess[0]!.value;
const legacyScan = () => {
  for (const spec of CATALOG) {
    const file = path.join(dir, `telemetry-${spec.name}.jsonl`);
    if (fs.existsSync(file)) legacyScanFile(file, (r) => r.source === spec.verify.source && spec.verify.rhythm(r));
  }
};
const legacy = Array.from({ length: Math.min(RUNS, 2) }, () => timed(legacyScan));

// The same episode with a seq gap in its very last row (the proc file's last line, the episode's last sample).
const procFile = path.join(dir, 'telemetry-proc.jsonl');
const lines = fs.readFileSync(procFile, 'utf8').split('\n');
const last = lines.length - 2;
const seq = (JSON.parse(lines[last]!) as { seq: number }).seq;
lines[last] = lines[last]!.replace(`"seq":${seq},`, `"seq":${seq + 1},`);
fs.writeFileSync(procFile, lines.join('\n'));
// As run (the worker when a core is to spare), with the tail left to the worker, and on one thread.
const gaps = ['', 'worker', 'off'].map((mode) => {
  const r = spawnSync(process.execPath, [LABTEL, 'verify', dir], { encoding: 'utf8', env: { ...process.env, LABTEL_VERIFY_SPLIT: mode } });
  const verdictLine = r.stdout.split('\n')[0] ?? '';
  const gapReason = r.stdout.split('\n').find((l) => /host_proc rows are missing/.test(l))?.trim() ?? `(no seq gap reported) ${r.stderr.trim()}`;
  const caught = r.status === 1 && /FAILED/.test(verdictLine) && gapReason.includes(`seq ${seq + 1} where ${seq} was due`);
  log(`gap in the last row (LABTEL_VERIFY_SPLIT=${mode}): exit ${r.status}; ${verdictLine}; ${gapReason}`);
  return { mode, status: r.status, verdictLine, gapReason, caught };
});
const gap = gaps[0]!;
const { verdictLine, gapReason } = gap;
const caught = gaps.every((g) => g.caught);
fs.rmSync(path.dirname(dir), { recursive: true, force: true });

const mbs = (wallS: number) => mb / wallS;
const cli = commands.find((c) => c.name.includes('**'))!;
const cliWall = median(cli.walls);
const startup = commands[1]!;
const parseLoop = commands.find((c) => c.name.includes('JSON.parse'))!;
const nodeAlone = commands[0]!;
const firstIn = inProcess[0]!;
const tableRows = commands.map((c) => {
  const w = median(c.walls);
  const reads = c !== nodeAlone && c !== startup; // those two read no telemetry
  return [c.name, `${fmt(w, 3)} s (${fmt(Math.min(...c.walls), 3)}–${fmt(Math.max(...c.walls), 3)})`, `${fmt(median(c.cpus), 3)} s`, reads ? `${fmt(mbs(w), 0)} MB/s` : '—', c.failed ?? ''];
});
tableRows.push(
  ['`verifyEpisode` in this process, its first call', `${fmt(firstIn.wall / 1e3, 3)} s`, `${fmt(firstIn.cpu / 1e3, 3)} s`, `${fmt(mbs(firstIn.wall / 1e3), 0)} MB/s`, ''],
  [`\`verifyEpisode\` in this process, median of ${inProcess.length}`, `${fmt(median(inProcess.map((r) => r.wall)) / 1e3, 3)} s`, `${fmt(median(inProcess.map((r) => r.cpu)) / 1e3, 3)} s`, `${fmt(mbs(median(inProcess.map((r) => r.wall)) / 1e3), 0)} MB/s`, ''],
  [
    `the scan verify had before (\`legacyScanFile\`, zod's safeParse per row) over the same files in this process, median of ${legacy.length}`,
    `${fmt(median(legacy.map((r) => r.wall)) / 1e3, 3)} s`,
    `${fmt(median(legacy.map((r) => r.cpu)) / 1e3, 3)} s`,
    `${fmt(mbs(median(legacy.map((r) => r.wall)) / 1e3), 0)} MB/s`,
    '',
  ],
);

const targets: Target[] = [
  { what: `\`labtel verify\` reads at least ${TARGET_MBS} MB/s of telemetry (whole process, median wall, every check it makes)`, pass: cli.failed === null && mbs(cliWall) >= TARGET_MBS, value: `${fmt(mbs(cliWall), 0)} MB/s: ${fmt(mb, 1)} MB in ${fmt(cliWall, 3)} s, CPU ${fmt(median(cli.cpus), 3)} s; the worker in ${splitRuns()} of ${RUNS} runs` },
  { what: 'and still catches a seq gap in the very last row (as run, with the tail scanned by the worker, and on one thread)', pass: caught, value: gaps.map((g) => `${g.mode || 'as run'}: exit ${g.status}, ${g.gapReason}`).join('; ') },
];
printSection(
  {
    title: '`labtel verify` throughput',
    command: commandLine('bench:verify', ['BENCH_VERIFY_ROWS', 'BENCH_RUNS', 'BENCH_VERIFY_BASELINE']),
    machine: mach,
    body: [
      `A generated episode of ${int(seconds)} s (\`scripts/bench/gen-episode.ts\`, every collector, every field of each row schema): ` +
        Object.entries(written).map(([src, n]) => `${src} ${int(n)} rows`).join(', ') +
        ` (**${int(rows)} rows, ${fmt(mb, 1)} MB** of telemetry in ${files.length} files). \`labtel verify\` on it: ${verdict.verdict} (` +
        Object.entries(verdict.collectors).map(([c, v]) => `${c} ${v.verdict}`).join(', ') +
        `). Each command runs ${RUNS} times as a whole process, the commands taking turns (wall and CPU time, user + system, from python3's \`os.wait4\` rusage of that child), stdout to /dev/null; MB/s is the telemetry's bytes over the median wall time. The files are in the page cache (just written).`,
      mdTable(['what', 'wall, median (min–max)', 'CPU, median', 'MB/s', 'note'], tableRows),
      `Of \`labtel verify\`'s ${fmt(median(cli.cpus), 3)} s of CPU, ${fmt(median(startup.cpus), 3)} s is its start-up before the first row (the row above with empty files; Node alone is ${fmt(median(nodeAlone.cpus), 3)} s), so the scan of the ${fmt(mb, 1)} MB is about ${fmt(median(cli.cpus) - median(startup.cpus), 3)} s; ` +
        `merely JSON.parsing every line takes ${fmt(median(parseLoop.cpus) - median(nodeAlone.cpus), 3)} s of CPU beyond Node's start-up. ` +
        `Node runs V8's optimizing compiler and the garbage collector on threads of their own, so a whole process's CPU can exceed its wall time.`,
      `\`labtel verify\` scans the tail of the largest file (here ${fmt(largestShare * 100, 0)}% of the bytes are telemetry-proc.jsonl) on a worker thread, started before verify loads its modules, from ${fmt(SPLIT_MIN_BYTES / 2 ** 20, 0)} MiB of telemetry (here ${fmt(bytes / 2 ** 20, 1)} MiB) when the machine has a core to spare (the last minute's load average below the ${cores} cores; it was ${fmt(loadBefore, 2)} before the runs and ${fmt(os.loadavg()[0]!, 2)} after). ` +
        `By that test just before each run of the row in bold, **it had the worker in ${splitRuns()} of its ${RUNS} runs** (load ${splitLoads.map((l) => fmt(l, 2)).join(', ')}): ` +
        (splitRuns() === RUNS ? 'the row on one thread shows what that second core brings, and costs in CPU.' : splitRuns() === 0 ? 'both rows time verify on one thread.' : 'the rest timed it on one thread, as the row below it does.'),
      `Then the same episode with a seq gap in its very last row (the last line of telemetry-proc.jsonl, seq ${seq} written as ${seq + 1}): \`labtel verify\` exits ${gap.status}: \`${verdictLine}\`, \`${gapReason}\`; the same with the tail left to the worker (\`LABTEL_VERIFY_SPLIT=worker\`) and on one thread.`,
    ],
    targets,
  },
  { rows, bytes, seconds, runs: RUNS, commands: commands.map((c) => ({ name: c.name, walls: c.walls, cpus: c.cpus, failed: c.failed })), inProcess, legacy, gaps, loadBefore, splitLoads, splitRuns: splitRuns() },
);
