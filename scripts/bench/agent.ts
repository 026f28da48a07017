// Benchmark (not a test): what the agent itself costs beside a real guest,
// measured from outside its process, side by side in one run:
//   1. the test guest of `labtel demo --vm` (src/lab/vm-guest.ts, TCG) is
//      booted once and let run for the whole script;
//   2. `labtel run` (bin/labtel.js: the bundle, dist/bundle/) records it with proc alone (100 ms,
//      threads), then with each collector added one at a time, up to the six
//      of `labtel demo --vm` (proc 100 ms with threads, perf 200 ms, pcap,
//      netflow 100 ms, qmp and guest_agent 500 ms), each run SIGTERMed after
//      a steady window;
//   3. per run: start-up CPU (exec to the first row on disk of every
//      collector), steady CPU as % of one core (/proc/PID/stat utime+stime
//      over the window; per thread from /proc/PID/task/*/stat, each collector
//      worker named by the agent's "recording on thread" line; perf and
//      tcpdump apart, not counted as the agent), peak RSS (VmHWM), rows/s;
//   4. the targets of issue 19, judged on the six-collector run.
// stdout: the markdown section of BENCHMARKS.md; stderr: progress, JSON.
//
//   npm run bench:agent        (root: network namespace, QEMU, tcpdump, perf)
//
// Environment: BENCH_STEADY_S (default 20; BENCH_QUICK=1: 6), BENCH_SETTLE_S
// (default 10: seconds from every collector's first row to the window), BENCH_LADDER=0
// runs only proc alone and all six; LABTEL_BENCH_ROOT=DIR measures the labtel
// of another checkout (its bin/labtel.js and dist/: its bundle, where it has one), to compare two builds;
// BENCH_NODE_ARGS adds node options to the agent (profiling, not figures).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { buildGuest, startVmGuest, type VmGuest } from '../../src/lab/vm-guest.js';
import { which } from '../../src/util/which.js';
import { addonStale } from './addon-current.js';
import { QUICK, commandLine, fmt, int, intEnv, log, machine, mdTable, median, printSection, type Target } from './section.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(process.env.LABTEL_BENCH_ROOT || path.join(HERE, '..', '..'));
const STEADY_S = intEnv('BENCH_STEADY_S', 20, 6);
const LADDER = process.env.BENCH_LADDER !== '0' && !QUICK;
/** For profiling the agent in this setting (e.g. BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"); not for figures. */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
/**
 * After every collector's first row: let start-up work settle (first perf attach, first QMP answers) and V8 warm
 * up. Measured here (issue 19, A2): with the window 3 s after the first rows its first half took 2.40% of a core
 * and its second 1.53% (other threads 0.66 then 0.19). --trace-gc shows V8's memory reducer collecting each
 * isolate's start-up garbage ("Mark-Compact (reduce)", two each, staggered over the seven isolates 8 to 33 s
 * after exec), and with --no-opt the other threads' CPU after the first 15 s was about 0 (TurboFan compiles the
 * run loops on V8's platform threads as they warm up, at a few calls a second for tens of seconds). That CPU is
 * printed apart, as "settling", and the window in halves: never dropped.
 */
const SETTLE_S = intEnv('BENCH_SETTLE_S', 10, 10);
const SAMPLE_MS = 50;
const TICK = 100; // USER_HZ on Linux x86-64 (utime and stime are in these)

const TARGET_STEADY_PCT = 2;
const TARGET_RSS_MIB = 150;
const TARGET_STARTUP_S = 0.5;

type Name = 'proc' | 'perf' | 'pcap' | 'netflow' | 'qmp' | 'guest_agent';
const ORDER: Name[] = ['proc', 'perf', 'pcap', 'netflow', 'qmp', 'guest_agent'];

function collectorConfigs(vm: VmGuest): Record<Name, object> {
  // As src/demo/vm-episode.ts writes them.
  return {
    proc: { interval_ms: 100, threads: true },
    perf: { interval_ms: 200 },
    pcap: { iface: vm.bridge, interval_ms: 500 },
    netflow: { bucket_ms: 100, guest_ip: vm.guestIp },
    qmp: { socket: vm.qmp, interval_ms: 500 },
    guest_agent: { socket: vm.telemetry, mode: 'connect', interval_ms: 500 },
  };
}

interface ThreadCpu {
  tid: number;
  /** schedstat: CPU time, ns (more precise than stat's 10 ms ticks), and the times it was scheduled in (its wake-ups, about). */
  ns: number;
  slices: number;
}

function statTicks(file: string): number | null {
  try {
    const s = fs.readFileSync(file, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
  } catch {
    return null;
  }
}

function threads(pid: number): ThreadCpu[] {
  const out: ThreadCpu[] = [];
  let tids: string[] = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tids) {
    try {
      const [ns, , slices] = fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').trim().split(' ').map(Number);
      out.push({ tid: Number(t), ns: ns!, slices: slices! });
    } catch {
      // gone
    }
  }
  return out;
}

function vmHwmKiB(pid: number): number | null {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The agent's child processes (perf, tcpdump), by name. */
function children(pid: number): Array<{ pid: number; comm: string; ticks: number }> {
  const out: Array<{ pid: number; comm: string; ticks: number }> = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = s.lastIndexOf(')');
      const f = s.slice(close + 2).split(' ');
      if (Number(f[1]) !== pid) continue;
      out.push({ pid: Number(d), comm: s.slice(s.indexOf('(') + 1, close), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // gone
    }
  }
  return out;
}

function countRows(dir: string): number {
  let n = 0;
  for (const f of fs.readdirSync(dir)) {
    if (!/^telemetry-.*\.jsonl$/.test(f)) continue;
    const data = fs.readFileSync(path.join(dir, f));
    for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) n++;
  }
  return n;
}

const nonEmpty = (file: string): boolean => {
  try {
    return fs.statSync(file).size > 0;
  } catch {
    return false;
  }
};

interface RunFigures {
  collectors: Name[];
  startupCpuS: number;
  startupWallS: number;
  /** Start-up CPU per thread, s (schedstat): main, each collector's worker, the rest. */
  startupByThread: Record<string, number>;
  steadyPct: number;
  /** From every collector's first row to the window's start (SETTLE_S), % of one core: start-up work that outlasts the first rows. */
  settlePct: number;
  /** Per thread over the window, % of one core: main, each collector, the rest of the process. */
  perThread: Record<string, number>;
  /** The window's first and second half, % of one core: the whole agent, and the rest of the process (libuv, V8's platform threads: GC helpers, compilers). */
  halves: { total: [number, number]; other: [number, number] };
  /** Per thread, times scheduled in per second over the window. */
  wakeups: Record<string, number>;
  /** perf, tcpdump: % of one core over the window (not the agent's). */
  childPct: Record<string, number>;
  peakRssMiB: number;
  /** MiB at the window's end: VmRSS, RssAnon, RssFile, RssShmem. */
  rssParts: Record<string, number>;
  rowsPerS: number;
  /** The agent's own self rows over the window (cpu_pct median), as a cross-check. */
  selfPctMedian: number | null;
  exitCode: number | null;
  statuses: Record<string, string>;
}

async function runAgent(vm: VmGuest, names: Name[]): Promise<RunFigures> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-bench-agent-'));
  const out = path.join(work, 'episode');
  const manifest = path.join(work, 'manifest.json');
  const all = collectorConfigs(vm);
  fs.writeFileSync(
    manifest,
    JSON.stringify({
      episode: 'bench-agent',
      output_dir: out,
      duration_s: STEADY_S + 120, // a backstop: SIGTERM ends it
      target: { qmp_socket: vm.qmp },
      collectors: Object.fromEntries(names.map((n) => [n, all[n]])),
    }),
  );
  const setpriv = which('setpriv');
  if (!setpriv) throw new Error('setpriv is not installed (Debian: util-linux)');
  // ip netns exec and node exec in place: the child's pid is the agent's.
  const t0 = performance.now();
  const a: ChildProcess = spawn(setpriv, ['--pdeathsig', 'KILL', '--', 'ip', 'netns', 'exec', vm.ns, process.execPath, ...NODE_ARGS, path.join(ROOT, 'bin', 'labtel.js'), 'run', manifest], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = a.pid!;
  const tidOf: Record<number, string> = { [pid]: 'main' };
  let stderr = '';
  a.stderr!.on('data', (d: Buffer) => {
    stderr += d;
    for (const m of d.toString().matchAll(/labtel: (\w+): recording on thread (\d+)/g)) tidOf[Number(m[2])] = m[1]!;
  });
  a.stdout!.resume();
  const exit = new Promise<number | null>((resolve) => a.once('exit', (code) => resolve(code)));
  try {
    const files = names.map((n) => path.join(out, `telemetry-${n}.jsonl`));
    // Start-up: exec to the first row on disk of every collector.
    let startupTicks = 0;
    const startupByThread: Record<string, number> = {};
    for (;;) {
      const t = statTicks(`/proc/${pid}/stat`);
      if (a.exitCode !== null || t === null) throw new Error(`the agent exited during start-up: ${stderr}`);
      if (files.every(nonEmpty)) {
        startupTicks = t;
        for (const th of threads(pid)) {
          const who = tidOf[th.tid] ?? 'other threads (libuv, V8)';
          startupByThread[who] = (startupByThread[who] ?? 0) + th.ns / 1e9;
        }
        break;
      }
      if (performance.now() - t0 > 60_000) throw new Error(`no first row from every collector within 60 s: ${stderr}`);
      await sleep(SAMPLE_MS);
    }
    const startupWallS = (performance.now() - t0) / 1000;
    const s0 = performance.now();
    await sleep(SETTLE_S * 1000);
    // The steady window.
    const th0 = threads(pid);
    const ch0 = children(pid);
    const rows0 = countRows(out);
    const cpu0 = statTicks(`/proc/${pid}/stat`)!;
    const w0 = performance.now();
    const settlePct = ((cpu0 - startupTicks) / TICK / ((w0 - s0) / 1000)) * 100;
    // Halfway, a snapshot: whether the window still holds start-up work (V8 collecting start-up garbage, compiling) shows as a first half above the second.
    await sleep((STEADY_S * 1000) / 2);
    const cpuMid = statTicks(`/proc/${pid}/stat`)!;
    const thMid = threads(pid);
    const wMid = performance.now();
    await sleep((STEADY_S * 1000) / 2);
    const cpu1 = statTicks(`/proc/${pid}/stat`)!;
    const th1 = threads(pid);
    const ch1 = children(pid);
    const rows1 = countRows(out);
    const wS = (performance.now() - w0) / 1000;
    const pct = (ticks: number) => (ticks / TICK / wS) * 100;
    const before = new Map(th0.map((t) => [t.tid, t]));
    const perThread: Record<string, number> = {};
    const wakeups: Record<string, number> = {};
    for (const t of th1) {
      const b = before.get(t.tid);
      const who = tidOf[t.tid] ?? 'other threads (libuv, V8)';
      perThread[who] = (perThread[who] ?? 0) + ((t.ns - (b?.ns ?? 0)) / 1e9 / wS) * 100;
      wakeups[who] = (wakeups[who] ?? 0) + (t.slices - (b?.slices ?? 0)) / wS;
    }
    const total = cpu1 - cpu0;
    const named = new Set(Object.keys(tidOf).map(Number));
    const otherNs = (ts: ThreadCpu[]) => ts.filter((t) => !named.has(t.tid)).reduce((a, t) => a + t.ns, 0);
    const h1S = (wMid - w0) / 1000;
    const h2S = wS - h1S;
    const halves: RunFigures['halves'] = {
      total: [((cpuMid - cpu0) / TICK / h1S) * 100, ((cpu1 - cpuMid) / TICK / h2S) * 100],
      other: [((otherNs(thMid) - otherNs(th0)) / 1e9 / h1S) * 100, ((otherNs(th1) - otherNs(thMid)) / 1e9 / h2S) * 100],
    };
    const chBefore = new Map(ch0.map((c) => [c.pid, c.ticks]));
    const childPct: Record<string, number> = {};
    for (const c of ch1) childPct[c.comm] = (childPct[c.comm] ?? 0) + pct(c.ticks - (chBefore.get(c.pid) ?? 0));
    let hwm = vmHwmKiB(pid) ?? 0;
    // What the resident memory is at the window's end (JSON on stderr): anonymous (heaps) and file-backed (node, the addon, libs).
    let rssParts: Record<string, number> = {};
    try {
      const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      rssParts = Object.fromEntries([...st.matchAll(/^(VmRSS|RssAnon|RssFile|RssShmem):\s+(\d+) kB/gm)].map((m) => [m[1]!, Math.round(Number(m[2]) / 1024)]));
    } catch {
      // gone
    }
    a.kill('SIGTERM');
    // The stop's peak too (flushes, summary): VmHWM until the process is gone.
    for (let h = vmHwmKiB(pid); h !== null && a.exitCode === null; h = vmHwmKiB(pid)) {
      hwm = Math.max(hwm, h);
      await sleep(10);
    }
    const exitCode = await exit;
    // The agent's own self rows (one a second) over the window, as a cross-check of the outside view: the last
    // STEADY_S - 1 before the one its stop wrote.
    let selfPcts: number[] = [];
    try {
      const rows = fs.readFileSync(path.join(out, 'telemetry-agent.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { cpu_pct?: number });
      selfPcts = rows.flatMap((r) => (typeof r.cpu_pct === 'number' ? [r.cpu_pct] : [])).slice(0, -1).slice(-(STEADY_S - 1));
    } catch {
      // the outside view stands alone
    }
    let statuses: Record<string, string> = {};
    try {
      const s = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as { collectors: Record<string, { status: string; reason: string | null }> };
      statuses = Object.fromEntries(Object.entries(s.collectors).map(([k, v]) => [k, v.status === 'ok' ? 'ok' : `${v.status}: ${v.reason}`]));
    } catch (err) {
      statuses = { summary: `unreadable: ${(err as Error).message}` };
    }
    return {
      collectors: names,
      startupCpuS: startupTicks / TICK,
      startupWallS,
      startupByThread,
      steadyPct: pct(total),
      settlePct,
      perThread,
      halves,
      wakeups,
      childPct,
      peakRssMiB: hwm / 1024,
      rssParts,
      rowsPerS: (rows1 - rows0) / wS,
      selfPctMedian: selfPcts.length ? median(selfPcts) : null,
      exitCode,
      statuses,
    };
  } finally {
    if (a.exitCode === null && a.signalCode === null) {
      a.kill('SIGKILL');
      await exit;
    }
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Waits until the guest has booted and sends to its peer (br0 receives packets). */
async function guestUp(vm: VmGuest): Promise<void> {
  const rx = () => {
    try {
      return Number(execFileSync('ip', ['netns', 'exec', vm.ns, 'cat', '/sys/class/net/br0/statistics/rx_packets'], { encoding: 'utf8' }).trim());
    } catch {
      return 0;
    }
  };
  for (let i = 0; rx() < 5; i++) {
    if (i > 600) throw new Error('the guest did not boot within 60 s (no packets on br0)');
    await sleep(100);
  }
}

// ---------------------------------------------------------------- main
if (process.getuid?.() !== 0) throw new Error('bench:agent needs root (network namespace, QEMU on a tap device, tcpdump)');
for (const p of ['qemu-system-x86_64', 'tcpdump', 'perf', 'ip', 'setpriv']) if (!which(p)) throw new Error(`bench:agent needs ${p}, which is not installed`);
// proc's sampling loop, pcap's and netflow's hot paths run in the addon: one older than native/ would be timed under labtel's name.
const ADDON = path.join(ROOT, 'build', 'Release', 'labtel.node');
if (!fs.existsSync(ADDON)) throw new Error(`bench:agent: ${ADDON} is missing, so the agent would run its pure-TS paths: build it (npm run build:native) first`);
const staleAddon = addonStale(ROOT, ADDON);
if (staleAddon) throw new Error(`bench:agent: ${staleAddon}`);
if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error(`${ROOT}/dist is missing: npm run build`);

const m = machine();
const ladder: Name[][] = LADDER ? ORDER.map((_, i) => ORDER.slice(0, i + 1)) : [['proc'], ORDER];
log(`booting the test guest (TCG); ${ladder.length} agent runs of ${STEADY_S} s steady each, labtel from ${ROOT}`);
const { kernel, initrd } = buildGuest(path.resolve(HERE, '..', '..'));
// Runs for the whole script (the guest powers itself off after `seconds`; destroy() kills it before).
const vm = await startVmGuest({ kernel, initrd, seconds: ladder.length * (STEADY_S + 40) + 60 });
const results: RunFigures[] = [];
try {
  await vm.cont();
  await guestUp(vm);
  for (const names of ladder) {
    log(`run: ${names.join(' + ')}`);
    const r = await runAgent(vm, names);
    log(JSON.stringify(r));
    results.push(r);
  }
} finally {
  await vm.destroy();
}

/** What ROOT's bin/labtel.js runs, by its rule: the bundle where it is built and not older than tsc's dist/, else dist/. */
function ranBuild(): string {
  const mtime = (rel: string) => {
    try {
      return fs.statSync(path.join(ROOT, rel)).mtimeMs;
    } catch {
      return -1;
    }
  };
  const bundle = mtime('dist/bundle/cli.js');
  return bundle >= 0 && bundle >= mtime('dist/cli/main.js') ? 'bin/labtel.js: the bundle, dist/bundle/' : 'bin/labtel.js: dist/';
}
/** Start-up CPU and the settling CPU after it, s: start-up work that only moved past the first rows leaves the start-up figure for this one. */
const throughSettling = (r: RunFigures) => r.startupCpuS + (r.settlePct / 100) * SETTLE_S;
const label = (r: RunFigures) => (r.collectors.length === 1 ? `${r.collectors[0]} alone` : r.collectors.length === ORDER.length ? 'all six' : `+ ${r.collectors.at(-1)}`);
const rowsTable = mdTable(
  ['collectors', 'start-up CPU, s', 'start-up wall, s', `settling (${SETTLE_S} s after the first rows), % of a core`, `start-up + settling CPU, s`, 'steady CPU, % of a core', 'self rows cpu_pct (median)', 'peak RSS (VmHWM), MiB', 'rows/s', 'perf / tcpdump, % of a core (not the agent)', 'exit, statuses'],
  results.map((r) => [
    label(r),
    fmt(r.startupCpuS),
    fmt(r.startupWallS),
    fmt(r.settlePct),
    fmt(throughSettling(r)),
    fmt(r.steadyPct),
    fmt(r.selfPctMedian),
    fmt(r.peakRssMiB, 1),
    int(r.rowsPerS),
    Object.entries(r.childPct).map(([k, v]) => `${k} ${fmt(v)}`).join(', ') || '—',
    `${r.exitCode}; ${Object.values(r.statuses).every((s) => s === 'ok') ? 'all ok' : Object.entries(r.statuses).map(([k, v]) => `${k} ${v}`).join('; ')}`,
  ]),
);
const six = results.at(-1)!;
const threadNames = ['main', ...ORDER, 'other threads (libuv, V8)'];
const threadTable = mdTable(
  ['collectors', ...threadNames],
  results.map((r) => [label(r), ...threadNames.map((n) => (r.perThread[n] === undefined ? '—' : `${fmt(r.perThread[n])} (${int(r.wakeups[n]!)}/s)`))]),
);
const startupTable = mdTable(
  ['collectors', ...threadNames],
  results.map((r) => [label(r), ...threadNames.map((n) => (r.startupByThread[n] === undefined ? '—' : fmt(r.startupByThread[n])))]),
);
const targets: Target[] = [
  { what: `steady CPU with all six collectors at most ${TARGET_STEADY_PCT}% of one core`, pass: six.steadyPct <= TARGET_STEADY_PCT, value: `${fmt(six.steadyPct)}%; proc alone ${fmt(results[0]!.steadyPct)}%` },
  { what: `peak RSS with all six at most ${TARGET_RSS_MIB} MiB`, pass: six.peakRssMiB <= TARGET_RSS_MIB, value: `${fmt(six.peakRssMiB, 1)} MiB; proc alone ${fmt(results[0]!.peakRssMiB, 1)} MiB` },
  { what: `start-up with all six at most ${TARGET_STARTUP_S} s of CPU (exec to every collector's first row)`, pass: six.startupCpuS <= TARGET_STARTUP_S, value: `${fmt(six.startupCpuS)} s; proc alone ${fmt(results[0]!.startupCpuS)} s; then ${fmt((six.settlePct / 100) * SETTLE_S)} s of CPU (${fmt(six.settlePct)}% of a core) over the next ${SETTLE_S} s of settling, which neither this line nor the steady one judges: start-up + settling ${fmt(throughSettling(six))} s (proc alone ${fmt(throughSettling(results[0]!))} s), the figure to compare between builds, as start-up work that moves past the first rows leaves this one without being saved` },
  { what: 'every collector ok in every run', pass: results.every((r) => Object.values(r.statuses).every((s) => s === 'ok')), value: results.every((r) => r.exitCode === 0) ? 'every labtel run exited 0' : 'see the table' },
];
printSection(
  {
    title: 'The agent beside a booted guest (all six collectors)',
    command: commandLine('bench:agent', ['BENCH_STEADY_S', 'BENCH_SETTLE_S', 'BENCH_LADDER', 'BENCH_NODE_ARGS', 'LABTEL_BENCH_ROOT']),
    machine: m,
    body: [
      `\`labtel run\` (${ranBuild()}, as \`labtel demo --vm\` runs it) recording the test guest (TCG, ${vm.accel}, busy: CPU loop, disk and network traffic), measured from outside the agent's process: start-up CPU is utime+stime from exec to the first row on disk of every collector (rows reach the disk within 200 ms); settling is utime+stime over the next ${SETTLE_S} s, as % of one core (start-up work that outlasts the first rows: V8's memory reducer collects each isolate's start-up garbage about 8 s after it starts), and start-up + settling their sum (start-up work that a build only moves past the first rows shows there, not as a saving); steady CPU is utime+stime over the ${STEADY_S} s after that, as % of one core; peak RSS is VmHWM. perf and tcpdump are the agent's children, listed apart and not counted as the agent. Each row adds one collector to the one above (the last is \`labtel demo --vm\`'s six), so the difference between two rows is what that collector adds.`,
      rowsTable,
      'Steady CPU per thread, % of one core from /proc/PID/task/TID/schedstat, with how often it was scheduled in per second (collector workers named by their "recording on thread" line; the rest of the process — libuv\'s pool, V8\'s platform threads — together):',
      threadTable,
      `The steady window in halves (${fmt(STEADY_S / 2, 1)} s each), % of one core, whole agent and other threads: ${results.map((r) => `${label(r)} ${fmt(r.halves.total[0])} then ${fmt(r.halves.total[1])} (other threads ${fmt(r.halves.other[0])} then ${fmt(r.halves.other[1])})`).join('; ')}. A first half well above the second would mean start-up work (V8 collecting start-up garbage, compiling) still inside the window; BENCH_SETTLE_S starts the window later.`,
      'Start-up CPU per thread, s (schedstat, at the first row of every collector; the main thread\'s includes loading the CLI, probing every collector and the host inventory):',
      startupTable,
    ],
    targets,
  },
  { machine: m, steady_s: STEADY_S, root: ROOT, results },
);
