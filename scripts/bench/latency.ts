// Benchmark (not a test): the latencies and cadences the tests used to assert
// as wall-clock thresholds (issue 15: no test asserts elapsed time). Each is
// measured several times in one run and printed as median and max, beside
// what it is compared with (the design value, or the same measure in a
// simpler setting):
//   1. `labtel run` with every collector this host can run (proc at 100 ms,
//      perf at 200 ms on a light workload this script starts; pcap, netflow,
//      qmp and guest_agent on the peers `labtel demo` starts: a test network
//      with traffic, a paused QEMU, qemu-ga), then with proc alone:
//      proc's achieved interval, perf's attach latency and row cadence, and
//      SIGTERM to exit;
//   2. the agent SIGKILLed: time until no perf and no tcpdump child is left,
//      with traffic on the captured link and on an idle one;
//   3. guest_agent: a line sent by the guest (this script, as the guest end
//      of the channel) to its row, stamped and on disk;
//   4. QMP (src APIs in this process, against a fake QMP server written
//      here): the reconnect backoff against a peer that hangs up and one that
//      never greets; a hang-up before the greeting to connect()'s rejection;
//      qmpLoop and guestLoop ending after the abort, in several states;
//   5. hostile streams, each in a fresh process: a QMP peer sending a 200 MiB
//      line, a guest sending 64 MiB with no newline: time and peak RSS.
// stdout: the markdown section of BENCHMARKS.md; stderr: progress and JSON.
//
//   sudo npm run bench:latency        (root: the test networks; perf, tcpdump,
//                                      qemu-system-x86_64, qemu-ga where present)
//
// Environment: BENCH_RUNS (3), BENCH_EPISODE_S (5), BENCH_LINES (40),
// BENCH_STOP_RUNS (5), BENCH_HANGUP_RUNS (10), BENCH_IDLE_CAP_S (6),
// BENCH_BACKOFF_ATTEMPTS (7); BENCH_QUICK=1 makes them 2, 2, 10, 3, 5, 3, 4.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { EpisodeClock } from '../../src/clock/origin.js';
import { guestAgentConfig } from '../../src/collectors/guest_agent/config.js';
import { guestLoop } from '../../src/collectors/guest_agent/run-loop.js';
import { QmpClient } from '../../src/qmp/client.js';
import { qmpLoop } from '../../src/collectors/qmp/run-loop.js';
import { startLabPeers, type LabPeers } from '../../src/demo/lab-peers.js';
import { canMakeNetns, createGuestNet, type GuestNet } from '../../src/lab/guest-net.js';
import { JsonlWriter } from '../../src/rows/jsonl-writer.js';
import { commandLine, fmt, intEnv, log, machine, mdTable, median, printSection, versionOf } from './section.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const LABTEL = path.join(ROOT, 'bin', 'labtel.js');
const SELF = fileURLToPath(import.meta.url);

const RUNS = intEnv('BENCH_RUNS', 3, 2);
const EPISODE_S = intEnv('BENCH_EPISODE_S', 5, 2);
const LINES = intEnv('BENCH_LINES', 40, 10);
const STOP_RUNS = intEnv('BENCH_STOP_RUNS', 5, 3);
const HANGUP_RUNS = intEnv('BENCH_HANGUP_RUNS', 10, 5);
const IDLE_CAP_S = intEnv('BENCH_IDLE_CAP_S', 6, 3);
const BACKOFF_ATTEMPTS = intEnv('BENCH_BACKOFF_ATTEMPTS', 7, 4);
const ENV_NAMES = ['BENCH_RUNS', 'BENCH_EPISODE_S', 'BENCH_LINES', 'BENCH_STOP_RUNS', 'BENCH_HANGUP_RUNS', 'BENCH_IDLE_CAP_S', 'BENCH_BACKOFF_ATTEMPTS'];

/** What labtel's code says, compared against below (src/collectors/qmp/run-loop.ts, src/rows/jsonl-writer.ts). */
const DESIGN = { qmpFirstDelayMs: 500, qmpMaxDelayMs: 8000, testGreetingMs: 300, writerFlushMs: 200, qmpMaxLine: 10 << 20, guestMaxLine: 1 << 20, childGoneBoundMs: 2000 };
const MiB = 1 << 20;

// ---------------------------------------------------------------- small tools

const monoMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const r1 = (x: number): number => Math.round(x * 10) / 10;
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
interface Agg {
  n: number;
  median: number | null;
  max: number | null;
}
const agg = (xs: number[]): Agg => (xs.length === 0 ? { n: 0, median: null, max: null } : { n: xs.length, median: r1(median(xs)), max: r1(Math.max(...xs)) });
/** "median / max ms (n)" or why there is no figure. */
const mm = (a: Agg, why = 'not measured in this run'): string => (a.n === 0 ? why : `${fmt(a.median, 1)} / ${fmt(a.max, 1)} ms (${a.n})`);

type Row = Record<string, unknown>;
function rowsOf(file: string): Row[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const end = text.lastIndexOf('\n');
  return end < 0 ? [] : text.slice(0, end).split('\n').map((l) => JSON.parse(l) as Row);
}

/** Polls `get` every `everyMs` until it gives a value; a benchmark keeps a deadline (it is not a test), and says what it waited for. */
async function until<T>(get: () => T | undefined | false | null, what: string, capMs = 30_000, everyMs = 5): Promise<T> {
  const end = monoMs() + capMs;
  for (;;) {
    const v = get();
    if (v !== undefined && v !== false && v !== null) return v;
    if (monoMs() > end) throw new Error(`gave up after ${capMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Temp dirs made by this process (episodes, sockets), removed when it ends. */
const made: string[] = [];
const tmp = (name: string) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `labtel-bench-latency-${name}-`));
  made.push(d);
  return d;
};
const removeTmp = () => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
};
const onPath = (prog: string) => spawnSync('sh', ['-c', `command -v ${prog}`], { stdio: 'ignore' }).status === 0;

/** pid, ppid, starttime and state of every process, from /proc/PID/stat. */
function processTable(): Map<number, { ppid: number; starttime: string; state: string }> {
  const t = new Map<number, { ppid: number; starttime: string; state: string }>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = fs.readFileSync(`/proc/${d}/stat`, 'latin1');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      t.set(Number(d), { ppid: Number(f[1]), starttime: f[19]!, state: f[0]! });
    } catch {
      // gone
    }
  }
  return t;
}

interface Proc {
  pid: number;
  starttime: string;
  argv: string[];
}
/** Every descendant of `root`, with its argv. */
function descendants(root: number): Proc[] {
  const t = processTable();
  const out: Proc[] = [];
  const todo = [root];
  while (todo.length) {
    const p = todo.pop()!;
    for (const [pid, x] of t) {
      if (x.ppid !== p) continue;
      todo.push(pid);
      let argv: string[] = [];
      try {
        argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean);
      } catch {
        // gone
      }
      out.push({ pid, starttime: x.starttime, argv });
    }
  }
  return out;
}
/** The same process is still there (a zombie is gone: it runs nothing). */
function lives(p: Proc): boolean {
  try {
    const s = fs.readFileSync(`/proc/${p.pid}/stat`, 'latin1');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return f[19] === p.starttime && f[0] !== 'Z';
  } catch {
    return false;
  }
}
function kill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** A light target for proc and perf (5 ms of CPU every 50 ms); it ends when this script does. */
function startTarget(): ChildProcess {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const src = 'const p = process.ppid; setInterval(() => { if (process.ppid !== p) process.exit(0); const e = Date.now() + 5; let x = 0; while (Date.now() < e) x += Math.sqrt(x + 1); }, 50);';
  return spawn(process.execPath, ['-e', src], { stdio: 'ignore', env });
}

// ---------------------------------------------------------------- labtel run

interface Agent {
  child: ChildProcess;
  dir: string;
  spawnedMono: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; atMono: number }>;
  stderr: () => string;
  file(name: string): string;
  /** CLOCK_MONOTONIC of the episode origin, ms (once episode.json is written). */
  originMono(): number;
}

function labtelRun(collectors: Record<string, object>, target: object): Agent {
  const root = tmp('run');
  const dir = path.join(root, 'ep');
  const m = path.join(root, 'm.json');
  fs.writeFileSync(m, JSON.stringify({ episode: 'bench-latency', output_dir: dir, duration_s: 3600, target, collectors }));
  const spawnedMono = monoMs();
  const child = spawn(process.execPath, [LABTEL, 'run', m, '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; atMono: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, atMono: monoMs() })),
  );
  return {
    child,
    dir,
    spawnedMono,
    exited,
    stderr: () => err.trim(),
    file: (name) => path.join(dir, name),
    originMono: () => Number(BigInt(JSON.parse(fs.readFileSync(path.join(dir, 'episode.json'), 'utf8')).clock.t_mono_origin_ns)) / 1e6,
  };
}

/** Waits for `get` on a running agent; if the agent exits first, says so with its stderr. */
async function whileRunning<T>(a: Agent, get: () => T | undefined | false | null, what: string, capMs = 30_000, everyMs = 5): Promise<T> {
  return until(() => {
    if (a.child.exitCode !== null || a.child.signalCode !== null) throw new Error(`labtel run exited (${a.child.exitCode ?? a.child.signalCode}) before ${what}: ${a.stderr()}`);
    return get();
  }, what, capMs, everyMs);
}

const intervalsMs = (rows: Row[]): number[] => rows.slice(1).map((r, i) => ((r.t_mono_ns as number) - (rows[i]!.t_mono_ns as number)) / 1e6);

interface EpisodeRun {
  collectors: Record<string, string>;
  procIntervals: number[];
  perfIntervals: number[];
  /** spawn of `labtel run` to the first host_perf row's stamp (end of perf's first interval), ms */
  perfFirstRowFromRun: number | null;
  /** perf's collector_started agent row to that stamp, ms */
  perfFirstRowFromCollector: number | null;
  /** spawn to the first host_perf row on disk, as this script saw it (polled every 5 ms), ms */
  perfOnDiskFromRun: number | null;
  stopMs: number;
  /** Packets per second on the captured tap, from the pcap interval rows (null: no pcap). */
  pcapPps: number | null;
  /** Per collector: its collector_ended agent row after the episode_stopping one, ms. */
  endedAfterStop: Record<string, number>;
  exit: string;
}

async function episode(collectors: Record<string, object>, targetPid: number, waitFor: 'perf' | 'proc'): Promise<EpisodeRun> {
  const a = labtelRun(collectors, { pid: targetPid });
  const first = waitFor === 'perf' ? 'telemetry-perf.jsonl' : 'telemetry-proc.jsonl';
  let seenMono: number | null = null;
  try {
    await whileRunning(a, () => rowsOf(a.file(first)).length > 0, `the first row of ${first}`);
    seenMono = monoMs();
    await sleep(EPISODE_S * 1000);
  } finally {
    a.child.kill('SIGTERM');
  }
  const termMono = monoMs();
  const ex = await a.exited;
  const origin = a.originMono();
  const proc = rowsOf(a.file('telemetry-proc.jsonl')).filter((r) => r.source === 'host_proc' && (r.tid === undefined || r.tid === null));
  const perf = rowsOf(a.file('telemetry-perf.jsonl')).filter((r) => r.source === 'host_perf');
  const agentRows = rowsOf(a.file('telemetry-agent.jsonl'));
  const perfStarted = agentRows.find((r) => r.event === 'collector_started' && r.collector === 'perf');
  const summary = JSON.parse(fs.readFileSync(a.file('summary.json'), 'utf8')) as { collectors: Record<string, { status: string; reason?: string }> };
  const firstPerf = perf[0]?.t_mono_ns as number | undefined;
  const pcapRows = rowsOf(a.file('telemetry-pcap.jsonl')).filter((r) => !('event' in r) && typeof r.pkts === 'number');
  const pcapS = pcapRows.reduce((n, r) => n + (r.interval_s as number), 0);
  const pcapPps = pcapS > 0 ? pcapRows.reduce((n, r) => n + (r.pkts as number), 0) / pcapS : null;
  const stopping = agentRows.find((r) => r.event === 'episode_stopping')?.t_mono_ns as number | undefined;
  const endedAfterStop: Record<string, number> = {};
  if (stopping !== undefined) for (const r of agentRows) if (r.event === 'collector_ended') endedAfterStop[r.collector as string] = ((r.t_mono_ns as number) - stopping) / 1e6;
  return {
    collectors: Object.fromEntries(Object.entries(summary.collectors).map(([k, v]) => [k, v.status])),
    procIntervals: intervalsMs(proc),
    perfIntervals: intervalsMs(perf),
    perfFirstRowFromRun: firstPerf === undefined ? null : origin + firstPerf / 1e6 - a.spawnedMono,
    perfFirstRowFromCollector: firstPerf === undefined || !perfStarted ? null : (firstPerf - (perfStarted.t_mono_ns as number)) / 1e6,
    perfOnDiskFromRun: waitFor === 'perf' && seenMono !== null ? seenMono - a.spawnedMono : null,
    stopMs: ex.atMono - termMono,
    pcapPps,
    endedAfterStop,
    exit: ex.signal ?? String(ex.code),
  };
}

// ---------------------------------------------------------------- agent SIGKILLed

interface KillRun {
  perfGoneMs: number | null;
  tcpdumpGoneMs: number | null;
  /** Children still there at the cap (then killed by this script). */
  left: string[];
}

async function killRun(iface: string, targetPid: number, capMs: number): Promise<KillRun> {
  const a = labtelRun({ perf: { interval_ms: 200 }, pcap: { iface, interval_ms: 200 } }, { pid: targetPid });
  let kids: Proc[] = [];
  try {
    await whileRunning(a, () => rowsOf(a.file('telemetry-perf.jsonl')).length > 0, 'the first perf row');
    await whileRunning(a, () => rowsOf(a.file('telemetry-pcap.jsonl')).some((r) => r.event === 'capture_started'), 'capture_started');
    kids = await whileRunning(a, () => {
      const d = descendants(a.child.pid!);
      const perf = d.filter((p) => p.argv.some((x) => /(^|\/)perf$/.test(x)) && p.argv.includes('stat'));
      const td = d.filter((p) => /(^|\/)tcpdump$/.test(p.argv[0] ?? ''));
      return perf.length === 1 && td.length === 1 ? [...perf, ...td] : null;
    }, 'one perf and one tcpdump child of the agent');
  } catch (err) {
    a.child.kill('SIGKILL');
    throw err;
  }
  a.child.kill('SIGKILL');
  const t0 = monoMs();
  await a.exited;
  const gone = new Map<number, number>();
  const end = t0 + capMs;
  while (gone.size < kids.length && monoMs() < end) {
    for (const k of kids) if (!gone.has(k.pid) && !lives(k)) gone.set(k.pid, monoMs() - t0);
    await sleep(5);
  }
  const left = kids.filter((k) => !gone.has(k.pid));
  for (const k of left) kill(k.pid, 'SIGKILL'); // children of the agent this script started
  const perf = kids.find((k) => !/tcpdump$/.test(k.argv[0] ?? ''))!;
  const td = kids.find((k) => /tcpdump$/.test(k.argv[0] ?? ''))!;
  return { perfGoneMs: gone.get(perf.pid) ?? null, tcpdumpGoneMs: gone.get(td.pid) ?? null, left: left.map((k) => path.basename(k.argv[0] ?? '?')) };
}

// ---------------------------------------------------------------- guest line latency

async function guestLineLatency(): Promise<{ stamped: number[]; onDisk: number[]; sent: number }> {
  const dir = tmp('guest');
  const sock = path.join(dir, 'guest.sock');
  const conns: net.Socket[] = [];
  const server = net.createServer((s) => {
    s.on('error', () => {});
    conns.push(s);
  });
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  const a = labtelRun({ guest_agent: { socket: sock, mode: 'connect', protocol: 'jsonl', interval_ms: 1000 } }, { pid: process.pid });
  const stamped: number[] = [];
  const onDisk: number[] = [];
  try {
    const g = await whileRunning(a, () => conns[0], "labtel's connection to the guest channel");
    const file = a.file('telemetry-guest_agent.jsonl');
    const origin = await whileRunning(a, () => (fs.existsSync(a.file('episode.json')) ? a.originMono() : null), 'episode.json');
    let offset = 0;
    let carry = '';
    /** Rows appended since the last call. */
    const fresh = (): Row[] => {
      let fd: number;
      try {
        fd = fs.openSync(file, 'r');
      } catch {
        return [];
      }
      try {
        const size = fs.fstatSync(fd).size;
        if (size <= offset) return [];
        const b = Buffer.alloc(size - offset);
        fs.readSync(fd, b, 0, b.length, offset);
        offset = size;
        const text = carry + b.toString('utf8');
        const end = text.lastIndexOf('\n');
        carry = text.slice(end + 1);
        return end < 0 ? [] : text.slice(0, end).split('\n').map((l) => JSON.parse(l) as Row);
      } finally {
        fs.closeSync(fd);
      }
    };
    for (let i = 0; i < LINES; i++) {
      await sleep(Math.random() * 250); // lines land at every phase of the writer's 200 ms flush
      const sentMono = monoMs();
      g.write(`{"i":${i},"load":0.5}\n`);
      const row = await whileRunning(
        a,
        () => fresh().find((r) => r.kind === 'line' && (r.guest as { i?: number } | null)?.i === i),
        `the row of guest line ${i}`,
        10_000,
        1,
      );
      onDisk.push(monoMs() - sentMono);
      stamped.push(origin + (row.t_mono_ns as number) / 1e6 - sentMono);
    }
  } finally {
    a.child.kill('SIGTERM');
    await a.exited;
    for (const c of conns) c.destroy();
    server.close();
  }
  return { stamped, onDisk, sent: LINES };
}

// ---------------------------------------------------------------- a fake QMP server

type QmpMode = 'qemu' | 'silent' | 'hangup' | 'mute';
interface FakeQmp {
  path: string;
  /** CLOCK_MONOTONIC ms of each accepted connection. */
  accepts: number[];
  /** CLOCK_MONOTONIC ms just before each hang-up (mode hangup). */
  hangups: number[];
  conns: net.Socket[];
  close(): Promise<void>;
}
const GREETING = '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}\r\n';

/**
 * qemu: greets and answers like QEMU 7.2 (status, an empty block list);
 * silent: accepts and never greets; hangup: accepts and hangs up at once;
 * mute: greets, negotiates, then answers nothing.
 */
async function fakeQmp(mode: QmpMode): Promise<FakeQmp> {
  const p = path.join(tmp('qmp'), 'qmp.sock');
  const f: FakeQmp = { path: p, accepts: [], hangups: [], conns: [], close: async () => {} };
  const server = net.createServer((s) => {
    f.accepts.push(monoMs());
    f.conns.push(s);
    s.on('error', () => {});
    if (mode === 'hangup') {
      f.hangups.push(monoMs());
      s.destroy();
      return;
    }
    if (mode === 'silent') return;
    s.write(GREETING);
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let req: { execute?: string; id?: unknown } = {};
        try {
          req = JSON.parse(line);
        } catch {
          continue;
        }
        const id = JSON.stringify(req.id);
        if (req.execute === 'qmp_capabilities') s.write(`{"return": {}, "id": ${id}}\r\n`);
        else if (mode === 'mute') continue;
        else if (req.execute === 'query-status') s.write(`{"return": {"status": "running", "singlestep": false, "running": true}, "id": ${id}}\r\n`);
        else if (req.execute === 'query-blockstats' || req.execute === 'query-cpus-fast' || req.execute === 'query-stats') s.write(`{"return": [], "id": ${id}}\r\n`);
        else s.write(`{"id": ${id}, "error": {"class": "CommandNotFound", "desc": "The command ${req.execute} has not been found"}}\r\n`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(p, resolve));
  f.close = async () => {
    for (const c of f.conns) c.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return f;
}

const newClock = () => new EpisodeClock(process.hrtime.bigint(), BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint());
const writerIn = (name: string) => new JsonlWriter(path.join(tmp(name), `telemetry-${name}.jsonl`), { availableInDeployment: false });

/** Gaps between qmpLoop's connection attempts against a peer that hangs up or never greets, runs side by side. */
async function qmpBackoff(mode: 'hangup' | 'silent'): Promise<number[][]> {
  const runs = await Promise.all(
    Array.from({ length: RUNS }, async () => {
      const fake = await fakeQmp(mode);
      const writer = writerIn('qmp');
      const ac = new AbortController();
      const loop = qmpLoop({ socket: fake.path, intervalMs: 1000, pid: null, writer, clock: newClock(), signal: ac.signal, greetingTimeoutMs: mode === 'silent' ? DESIGN.testGreetingMs : undefined });
      try {
        await until(() => fake.accepts.length >= BACKOFF_ATTEMPTS, `${BACKOFF_ATTEMPTS} connection attempts`, 120_000, 20);
      } finally {
        ac.abort();
        await loop;
        writer.close();
        await fake.close();
      }
      return fake.accepts.slice(1, BACKOFF_ATTEMPTS).map((t, i) => t - fake.accepts[i]!);
    }),
  );
  return runs;
}

/** connect() against a peer that hangs up before its greeting: from the hang-up to the rejection (the greeting timeout is an hour). */
async function hangupToRejection(): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < HANGUP_RUNS; i++) {
    const fake = await fakeQmp('hangup');
    let rejectedAt = 0;
    await QmpClient.connect({ path: fake.path, greetingTimeoutMs: 3_600_000 }).then(
      (c) => {
        c.close();
        throw new Error('connect() succeeded against a peer that hung up');
      },
      () => (rejectedAt = monoMs()),
    );
    out.push(rejectedAt - fake.hangups[0]!);
    await fake.close();
  }
  return out;
}

/** qmpLoop: from the abort to the loop resolved, in `state`. */
async function qmpStop(state: 'polling' | 'mute' | 'silent' | 'backoff'): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < STOP_RUNS; i++) {
    const fake = await fakeQmp(state === 'polling' ? 'qemu' : state === 'backoff' ? 'hangup' : state);
    const writer = writerIn('qmp');
    const ac = new AbortController();
    const loop = qmpLoop({ socket: fake.path, intervalMs: 1000, pid: null, writer, clock: newClock(), signal: ac.signal });
    // In that state (a poll answered; a command sent and unanswered; connected, no greeting; sleeping out a backoff), then a moment more.
    if (state === 'polling') await until(() => (writer.flush(), writer.rows > 0), 'a qmp row');
    else await until(() => fake.accepts.length >= 1, 'the connection');
    await sleep(50 + Math.random() * 200);
    const t0 = monoMs();
    ac.abort();
    await loop;
    out.push(monoMs() - t0);
    writer.close();
    await fake.close();
  }
  return out;
}

/** guestLoop (connect mode, production defaults): from the abort to the loop resolved, in `state`. */
async function guestStop(state: 'idle' | 'stalled' | 'gone'): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < STOP_RUNS; i++) {
    const sock = path.join(tmp('guest-stop'), 'guest.sock');
    const conns: net.Socket[] = [];
    const server = net.createServer((s) => {
      s.on('error', () => {});
      conns.push(s);
    });
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    const writer = writerIn('guest_agent');
    const ac = new AbortController();
    const loop = guestLoop({ config: guestAgentConfig.parse({ socket: sock }), writer, clock: newClock(), signal: ac.signal, pid: null });
    const g = await until(() => conns[0], "labtel's connection");
    if (state === 'stalled') g.write('{"half": "a line that does not end');
    if (state === 'gone') {
      g.destroy();
      server.close();
      fs.rmSync(sock, { force: true });
    }
    await sleep(50 + Math.random() * 200);
    const t0 = monoMs();
    ac.abort();
    await loop;
    out.push(monoMs() - t0);
    writer.close();
    for (const c of conns) c.destroy();
    if (server.listening) server.close();
  }
  return out;
}

// ---------------------------------------------------------------- hostile streams (each in its own process)

interface Hostile {
  /** From the first byte sent to the disconnect (qmp), or to the next good line's row on disk (guest), ms. */
  ms: number;
  /** guest: from the first byte sent to the last write taken by the socket, ms. */
  takenMs?: number;
  accepted: number;
  rss0: number;
  peakRss: number;
}

/** Sends `total` bytes of `fill` with no newline, 1 MiB at a time, until done or the peer hangs up. */
async function pump(s: net.Socket, total: number, fill: number): Promise<number> {
  const chunk = Buffer.alloc(MiB, fill);
  const gone = new Promise<false>((resolve) => s.once('close', () => resolve(false)));
  let accepted = 0;
  while (accepted < total) {
    if (s.destroyed || !s.writable) break;
    const ok = await Promise.race([new Promise<boolean>((resolve) => s.write(chunk, (e) => resolve(!e))), gone]);
    if (!ok) break;
    accepted += MiB;
  }
  return accepted;
}

function rssSampler(): { stop(): { rss0: number; peak: number } } {
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  return {
    stop() {
      clearInterval(t);
      return { rss0, peak: Math.max(peak, process.memoryUsage().rss) };
    },
  };
}

async function hostileQmp(): Promise<Hostile> {
  const fake = await fakeQmp('qemu');
  const c = await QmpClient.connect({ path: fake.path, onProblem: () => {} });
  const m = rssSampler();
  const t0 = monoMs();
  let closedAt = 0;
  const closed = c.closed.then(() => (closedAt = monoMs()));
  const accepted = await pump(fake.conns[0]!, 200 * MiB, 0x61);
  await closed;
  const { rss0, peak } = m.stop();
  await fake.close();
  if (accepted >= 200 * MiB) throw new Error('the QMP client took all 200 MiB without hanging up');
  return { ms: closedAt - t0, accepted, rss0, peakRss: peak };
}

async function hostileGuest(): Promise<Hostile> {
  const sock = path.join(tmp('guest-hostile'), 'guest.sock');
  const conns: net.Socket[] = [];
  const server = net.createServer((s) => {
    s.on('error', () => {});
    conns.push(s);
  });
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  const writer = writerIn('guest_agent');
  const ac = new AbortController();
  const loop = guestLoop({ config: guestAgentConfig.parse({ socket: sock, interval_ms: 1000 }), writer, clock: newClock(), signal: ac.signal, pid: null });
  const g = await until(() => conns[0], "labtel's connection");
  const lines = () => rowsOf(writer.path).filter((r) => r.kind === 'line').length;
  g.write('{"i":0}\n');
  await until(() => lines() === 1, 'the first line');
  const m = rssSampler();
  const t0 = monoMs();
  const accepted = await pump(g, 64 * MiB, 0x7b);
  const takenMs = monoMs() - t0;
  g.write('"}\n{"i":1}\n');
  await until(() => lines() === 2, 'the line after the 64 MiB one', 120_000, 1);
  const ms = monoMs() - t0;
  const { rss0, peak } = m.stop();
  ac.abort();
  await loop;
  writer.close();
  g.destroy();
  server.close();
  if (accepted < 64 * MiB) throw new Error(`the guest channel hung up after ${accepted} bytes`);
  return { ms, takenMs, accepted, rss0, peakRss: peak };
}

function inChild(which: 'qmp' | 'guest'): Hostile {
  const r = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--hostile', which], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  if (r.status !== 0) throw new Error(`hostile ${which} run exited ${r.status ?? r.signal}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as Hostile;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const began = monoMs();
  /** Progress on stderr, with the seconds since the start (what each stage costs, for keeping the whole under 3 minutes). */
  const step = (what: string) => log(`[${((monoMs() - began) / 1000).toFixed(1)} s] ${what}`);
  const mach = machine();
  const root = process.getuid?.() === 0;
  const have = { perf: onPath('perf'), tcpdump: onPath('tcpdump'), netns: canMakeNetns() };
  log(`bench:latency: ${RUNS} runs, episodes of ${EPISODE_S} s, ${LINES} guest lines; perf ${have.perf}, tcpdump ${have.tcpdump}, netns ${have.netns}`);
  const target = startTarget();
  let peers: LabPeers | null = null;
  let idleNet: GuestNet | null = null;
  const body: string[] = [];
  const json: Record<string, unknown> = { bench: 'latency', machine: mach };
  try {
    // 1. labtel run: everything available, then proc alone
    peers = await startLabPeers();
    const all: Record<string, object> = { proc: { interval_ms: 100 }, ...(have.perf ? { perf: { interval_ms: 200 } } : {}), ...peers.collectors };
    const eps: EpisodeRun[] = [];
    for (let i = 0; i < RUNS; i++) {
      step(`1. labtel run, every available collector, run ${i + 1}/${RUNS}`);
      eps.push(await episode(all, target.pid!, have.perf ? 'perf' : 'proc'));
    }
    const procOnly: EpisodeRun[] = [];
    for (let i = 0; i < RUNS; i++) {
      step(`1. labtel run, proc alone, run ${i + 1}/${RUNS}`);
      procOnly.push(await episode({ proc: { interval_ms: 100 } }, target.pid!, 'proc'));
    }
    json.episodes = { all: eps, proc_only: procOnly, not_run: peers.notRun };

    // 2. the agent SIGKILLed
    const kills: { traffic: KillRun[]; idle: KillRun[] } = { traffic: [], idle: [] };
    let killWhy: string | null = null;
    if (!root || !have.netns) killWhy = 'not root (it captures on a test network in namespaces)';
    else if (!have.perf || !have.tcpdump) killWhy = `${!have.perf ? 'perf' : 'tcpdump'} is not installed`;
    else if (!peers.collectors.pcap) killWhy = `the test network with traffic could not be made: ${peers.notRun.pcap}`;
    else {
      idleNet = await createGuestNet();
      const trafficIface = (peers.collectors.pcap as { iface: string }).iface;
      for (let i = 0; i < RUNS; i++) {
        step(`2. agent SIGKILLed, traffic, run ${i + 1}/${RUNS}`);
        kills.traffic.push(await killRun(trafficIface, target.pid!, 30_000));
        step(`2. agent SIGKILLed, idle link, run ${i + 1}/${RUNS} (up to ${IDLE_CAP_S} s)`);
        kills.idle.push(await killRun(idleNet.tap, target.pid!, IDLE_CAP_S * 1000));
      }
    }
    json.sigkill = killWhy ? { skipped: killWhy } : kills;

    // 3. guest line to row
    step(`3. guest_agent: ${LINES} lines`);
    const gl = await guestLineLatency();
    json.guest_line = gl;

    // 4. QMP and the loops' stop
    step(`4. QMP backoff: ${RUNS} runs of ${BACKOFF_ATTEMPTS} attempts side by side, hang-up and silent peers`);
    const [backHang, backSilent] = await Promise.all([qmpBackoff('hangup'), qmpBackoff('silent')]);
    step(`4. hang-up to rejection, ${HANGUP_RUNS} runs`);
    const hang = await hangupToRejection();
    const qmpStops: Record<string, number[]> = {};
    for (const s of ['polling', 'mute', 'silent', 'backoff'] as const) {
      step(`4. qmpLoop stop, ${s}`);
      qmpStops[s] = await qmpStop(s);
    }
    const guestStops: Record<string, number[]> = {};
    for (const s of ['idle', 'stalled', 'gone'] as const) {
      step(`4. guestLoop stop, ${s}`);
      guestStops[s] = await guestStop(s);
    }
    json.qmp = { backoff_hangup: backHang, backoff_silent: backSilent, hangup_to_rejection: hang, qmp_loop_stop: qmpStops, guest_loop_stop: guestStops };

    // 5. hostile streams
    const hq: Hostile[] = [];
    const hg: Hostile[] = [];
    for (let i = 0; i < RUNS; i++) {
      step(`5. hostile streams, run ${i + 1}/${RUNS}`);
      hq.push(inChild('qmp'));
      hg.push(inChild('guest'));
    }
    json.hostile = { qmp_200mib: hq, guest_64mib: hg };

    // ---------------------------------------------------------------- the section
    const ran = eps[0] ? Object.entries(eps[0].collectors).map(([k, v]) => `${k} ${v}`).join(', ') : 'none';
    /** Each collector's config as run, without paths and names that change from run to run. */
    const configs = Object.entries(all)
      .map(([k, c]) => `${k} {${Object.entries(c).filter(([f]) => !['iface', 'socket', 'guest_ip', 'optional'].includes(f)).map(([f, v]) => `${f}: ${JSON.stringify(v)}`).join(', ')}}`)
      .join(', ');
    const pps = agg(eps.map((e) => e.pcapPps).filter((x): x is number => x !== null));
    const notRun = Object.entries(peers.notRun).map(([k, v]) => `${k}: ${v}`);
    const perRun = (xs: EpisodeRun[], f: (e: EpisodeRun) => number | null) => agg(xs.map(f).filter((x): x is number => x !== null));
    const cad = (xs: EpisodeRun[], pick: (e: EpisodeRun) => number[], q: number) => perRun(xs, (e) => (pick(e).length ? quantile(pick(e), q) : null));
    const rowsIn = (xs: EpisodeRun[], pick: (e: EpisodeRun) => number[]) => xs.map((e) => pick(e).length + (pick(e).length ? 1 : 0)).join(', ');
    body.push(
      `Each figure is measured several times in this run and shown as **median / max (number of measurements)**; CLOCK_MONOTONIC throughout (\`process.hrtime\` here, the rows' \`t_mono_ns\` plus the episode origin from episode.json). The target of proc and perf is a node process this script starts (5 ms of CPU every 50 ms).`,
      `### \`labtel run\`: cadence, perf attach, stop`,
      `${RUNS} episodes with every collector this host could run, each ${EPISODE_S} s past perf's first row on disk, then SIGTERM; then ${RUNS} episodes of proc alone (${EPISODE_S} s past its first row). pcap, netflow, qmp and guest_agent observe the peers \`labtel demo\` starts (src/demo/lab-peers.ts): a test network with UDP traffic in namespaces (${pps.n ? `${fmt(pps.median, 0)} packets/s on the captured tap, median over the episodes, from the pcap rows` : 'no pcap rows'}), a paused QEMU, a qemu-ga on the host. Configs: ${configs}. Collectors in the first episode: ${ran}.` +
        (notRun.length ? ` Not run on this host: ${notRun.join('; ')}.` : ''),
      mdTable(
        ['measure', 'every available collector', 'proc alone', 'compared with'],
        [
          [`proc: interval between process rows, p50 (median / max over runs; with fewer than 100 intervals in a run, its p99 is its max)`, mm(cad(eps, (e) => e.procIntervals, 0.5)), mm(cad(procOnly, (e) => e.procIntervals, 0.5)), 'interval_ms 100'],
          [`proc: interval, p99`, mm(cad(eps, (e) => e.procIntervals, 0.99)), mm(cad(procOnly, (e) => e.procIntervals, 0.99)), 'interval_ms 100'],
          [`proc: interval, max`, mm(cad(eps, (e) => e.procIntervals, 1)), mm(cad(procOnly, (e) => e.procIntervals, 1)), 'interval_ms 100'],
          ['proc rows per run', rowsIn(eps, (e) => e.procIntervals), rowsIn(procOnly, (e) => e.procIntervals), ''],
          [`perf: interval between rows, p50`, mm(cad(eps, (e) => e.perfIntervals, 0.5), 'perf did not run'), '—', 'interval_ms 200'],
          [`perf: interval, p99`, mm(cad(eps, (e) => e.perfIntervals, 0.99), 'perf did not run'), '—', 'interval_ms 200'],
          [`perf: interval, max`, mm(cad(eps, (e) => e.perfIntervals, 1), 'perf did not run'), '—', 'interval_ms 200'],
          ['perf rows per run', rowsIn(eps, (e) => e.perfIntervals), '—', ''],
          ['perf: `labtel run` spawned to the first host_perf row (its stamp: the end of perf\'s first interval)', mm(perRun(eps, (e) => e.perfFirstRowFromRun), 'perf did not run'), '—', 'one interval: 200 ms'],
          ["perf: the collector's start (its `collector_started` agent row) to that first row", mm(perRun(eps, (e) => e.perfFirstRowFromCollector), 'perf did not run'), '—', 'one interval: 200 ms'],
          ['perf: `labtel run` spawned to the first host_perf row on disk (seen by polling every 5 ms)', mm(perRun(eps, (e) => e.perfOnDiskFromRun), 'perf did not run'), '—', `+ up to one writer flush (${DESIGN.writerFlushMs} ms)`],
          ['SIGTERM to `labtel run` exited', mm(agg(eps.map((e) => e.stopMs))), mm(agg(procOnly.map((e) => e.stopMs))), 'proc alone'],
          ...[...new Set(eps.flatMap((e) => Object.keys(e.endedAfterStop)))].map((c) => [
            `… ${c}: its \`collector_ended\` agent row after \`episode_stopping\``,
            mm(agg(eps.map((e) => e.endedAfterStop[c]).filter((x): x is number => x !== undefined))),
            c === 'proc' ? mm(agg(procOnly.map((e) => e.endedAfterStop[c]).filter((x): x is number => x !== undefined))) : '—',
            '',
          ]),
          ['exit status', eps.map((e) => e.exit).join(', '), procOnly.map((e) => e.exit).join(', '), '0: every collector ok'],
        ],
      ),
    );

    body.push(`### Children left after the agent is SIGKILLed`);
    if (killWhy) body.push(`Not measured in this run: ${killWhy}.`);
    else {
      /** Per run: "gone after X ms", or still running at the cap (then killed by this script). */
      const runs = (ks: KillRun[], f: (k: KillRun) => number | null) => ks.map((k) => (f(k) === null ? `still running at the cap` : `${fmt(f(k), 0)} ms`)).join(', ');
      const cell = (ks: KillRun[], f: (k: KillRun) => number | null) => {
        const a = agg(ks.map(f).filter((x): x is number => x !== null));
        const left = ks.filter((k) => f(k) === null).length;
        return `${runs(ks, f)} (${a.n ? `median ${fmt(a.median, 0)}, max ${fmt(a.max, 0)} ms` : 'never gone'}${left ? `; still running in ${left} of ${ks.length} runs, then killed by the script` : ''})`;
      };
      const met = (ks: KillRun[], f: (k: KillRun) => number | null) => (ks.length > 0 && ks.every((k) => f(k) !== null && f(k)! <= DESIGN.childGoneBoundMs) ? 'met' : 'NOT met');
      body.push(
        `${RUNS} runs each: \`labtel run\` with perf (200 ms) on the target and pcap on a test network's tap, SIGKILLed once perf wrote a row and tcpdump started; then the time until each of its children (found by parent pid before the kill) is gone (no such process, or a zombie), polled every 5 ms. With traffic: the captured link is the one above, with the demo's UDP traffic; idle: a second test network that carries nothing (tcpdump never writes, so its closed pipe cannot end it), watched for ${IDLE_CAP_S} s. Both run under setpriv's parent-death signal: perf as labtel's user, tcpdump as its capture user from its exec on with CAP_NET_RAW alone (src/collectors/pcap/README.md); the bound is issue 17's, ${DESIGN.childGoneBoundMs} ms.`,
        mdTable(
          ['child', 'gone after, per run: with traffic', 'idle link', `bound (${DESIGN.childGoneBoundMs} ms)`],
          [
            ['perf', cell(kills.traffic, (k) => k.perfGoneMs), cell(kills.idle, (k) => k.perfGoneMs), `${met(kills.traffic, (k) => k.perfGoneMs)} with traffic, ${met(kills.idle, (k) => k.perfGoneMs)} idle`],
            ['tcpdump', cell(kills.traffic, (k) => k.tcpdumpGoneMs), cell(kills.idle, (k) => k.tcpdumpGoneMs), `${met(kills.traffic, (k) => k.tcpdumpGoneMs)} with traffic, ${met(kills.idle, (k) => k.tcpdumpGoneMs)} idle`],
          ],
        ),
      );
    }

    body.push(
      `### guest_agent: a guest line to its row`,
      `\`labtel run\` with guest_agent alone (connect mode, jsonl) on a unix socket this script serves as the guest end of the channel. ${LINES} lines, one at a time, each 0-250 ms after the previous one's row was on disk (so they land at every phase of the writer's ${DESIGN.writerFlushMs} ms flush); per line, from just before the write to the row's stamp (\`t_mono_ns\`: when labtel took the line) and to the row on disk (polled every 1 ms).`,
      mdTable(
        ['measure', 'median / max (lines)', 'p99', 'compared with'],
        [
          ['line written to its row stamped', mm(agg(gl.stamped)), gl.stamped.length ? `${fmt(quantile(gl.stamped, 0.99), 1)} ms` : '—', '—'],
          ['line written to its row on disk', mm(agg(gl.onDisk)), gl.onDisk.length ? `${fmt(quantile(gl.onDisk, 0.99), 1)} ms` : '—', `the writer flushes every ${DESIGN.writerFlushMs} ms`],
        ],
      ),
    );

    const gapRows: string[][] = [];
    for (let k = 0; k < BACKOFF_ATTEMPTS - 1; k++) {
      const design = Math.min(DESIGN.qmpFirstDelayMs * 2 ** k, DESIGN.qmpMaxDelayMs);
      gapRows.push([
        `${k + 1} to ${k + 2}`,
        `${design} ms`,
        mm(agg(backHang.map((r) => r[k]).filter((x): x is number => x !== undefined))),
        `${design + DESIGN.testGreetingMs} ms`,
        mm(agg(backSilent.map((r) => r[k]).filter((x): x is number => x !== undefined))),
      ]);
    }
    body.push(
      `### QMP: reconnect backoff, hang-ups, and the loops' stop`,
      `In this script's process, against a fake QMP server written in it (a peer that greets and answers as QEMU 7.2, or hangs up at once, never greets, or stops answering). Backoff: \`qmpLoop\` with the production delays (${DESIGN.qmpFirstDelayMs} ms doubling to ${DESIGN.qmpMaxDelayMs} ms) until ${BACKOFF_ATTEMPTS} connection attempts, ${RUNS} loops per peer side by side; the gap is between the server's accepts. Against the silent peer the greeting timeout is the tests' ${DESIGN.testGreetingMs} ms, so the design gap is that plus the delay.`,
      mdTable(['attempts', 'design: peer hangs up', 'measured', 'design: peer never greets', 'measured'], gapRows),
      mdTable(
        ['measure', 'median / max (runs)', 'compared with'],
        [
          ['`QmpClient.connect`: the peer hangs up before its greeting, to the rejection', mm(agg(hang)), 'the greeting timeout it must not wait for (set to 1 h here; 5 s by default)'],
          ['`qmpLoop` ended after the abort: polling a QEMU that answers (interval 1 s)', mm(agg(qmpStops.polling!)), '—'],
          ['… a QEMU that stopped answering mid-poll (command timeout 5 s)', mm(agg(qmpStops.mute!)), 'the command timeout, 5 s'],
          ['… connected, no greeting yet (greeting timeout 5 s)', mm(agg(qmpStops.silent!)), 'the greeting timeout, 5 s'],
          ['… sleeping out the reconnect backoff', mm(agg(qmpStops.backoff!)), `the first delay, ${DESIGN.qmpFirstDelayMs} ms`],
          ['`guestLoop` ended after the abort: connected, idle', mm(agg(guestStops.idle!)), '—'],
          ['… mid-line (a line that does not end)', mm(agg(guestStops.stalled!)), '—'],
          ['… the channel gone, waiting to reconnect', mm(agg(guestStops.gone!)), '—'],
        ],
      ),
    );

    const mb = (x: number) => `${(x / MiB).toFixed(1)} MiB`;
    const hrow = (label: string, hs: Hostile[], bound: string, ms: (h: Hostile) => number = (h) => h.ms) => [
      label,
      mm(agg(hs.map(ms))),
      `${mb(median(hs.map((h) => h.accepted)))} / ${mb(Math.max(...hs.map((h) => h.accepted)))}`,
      `${mb(median(hs.map((h) => h.peakRss - h.rss0)))} / ${mb(Math.max(...hs.map((h) => h.peakRss - h.rss0)))} (peak ${mb(Math.max(...hs.map((h) => h.peakRss)))})`,
      bound,
    ];
    body.push(
      `### Hostile streams: time to drop them, and memory`,
      `${RUNS} runs each, every run in a fresh process (\`node --import tsx\`) holding both ends: the peer sends 1 MiB writes of one byte, waiting for each to be taken. QMP: a connected \`QmpClient\` is sent up to 200 MiB with no line end; the time runs from the first write to the client's \`closed\`. Guest: \`guestLoop\` (connect mode, defaults) is sent 64 MiB of \`{\` with no newline, then \`"}\\n{"i":1}\\n\`; labtel does not hang up on a guest, it drops the line and resynchronizes, so the time runs from the first write to the last one taken, and to the row of the good line after it on disk. RSS of that process, sampled every 5 ms, above its value at the start.`,
      mdTable(
        ['stream', 'time, median / max (runs)', 'bytes taken, median / max', 'RSS growth, median / max', 'bound'],
        [
          hrow('QMP: a 200 MiB line, to the disconnect', hq, `${mb(DESIGN.qmpMaxLine)} per QMP message`),
          hrow('guest: 64 MiB without a newline, to its last byte taken', hg, `max_line_bytes (default ${mb(DESIGN.guestMaxLine)})`, (h) => h.takenMs ?? NaN),
          hrow('… to the row of the next line on disk', hg, `+ up to one writer flush (${DESIGN.writerFlushMs} ms)`),
        ],
      ),
    );
  } finally {
    target.kill('SIGKILL');
    await peers?.stop();
    await idleNet?.destroy();
    removeTmp();
  }

  step('done');
  printSection(
    {
      title: 'Latencies and cadences (moved out of the tests)',
      command: commandLine('bench:latency', ENV_NAMES),
      machine: mach,
      body: [
        `Versions: ${['perf', 'tcpdump', 'qemu-system-x86_64'].map((p) => `${versionOf(p) ?? `${p}: not installed`}`).join('; ')}.`,
        ...body,
      ],
    },
    json,
  );
}

if (process.argv[2] === '--hostile') {
  const r = process.argv[3] === 'qmp' ? await hostileQmp() : await hostileGuest();
  removeTmp();
  process.stdout.write(JSON.stringify(r));
  process.exit(0);
} else {
  await main();
  process.exit(0);
}
