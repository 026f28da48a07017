// Benchmark (not a test): rows forwarded to NATS JetStream end to end on
// loopback, in one run: labtel's batched forwarder (several rows per message)
// beside the per-row publishing labtel did before issue 18 (kept below as the
// baseline), then `labtel pull` back into an episode directory. For each:
// rows/s through publish + acknowledgement, this process's CPU per row (and
// per 10k rows/s), and nats-server's own CPU over the same pass.
//
// stdout: the markdown section of BENCHMARKS.md; stderr: progress and JSON.
//
//   npm run bench:nats        (needs nats-server: Debian's nats-server)
//   BENCH_ROWS (200000); BENCH_QUICK=1: 20000 rows
//   BENCH_BATCH_SIZES (e.g. 65536,262144,1000000): batch sizes to try besides the forwarder's own
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { natsSinkConfig } from '../../src/sinks/nats/config.js';
import { connectNats } from '../../src/sinks/nats/connection.js';
import { BATCH_BYTES, NatsForwarder } from '../../src/sinks/nats/forwarder.js';
import { pull } from '../../src/sinks/nats/pull.js';
import { commandLine, fmt, int, intEnv, log, machine, mdTable, printSection, versionOf, type Target } from './section.js';

const ROWS = intEnv('BENCH_ROWS', 200_000, 20_000);
const BASELINE_IN_FLIGHT = 512; // what the per-row forwarder kept in flight
const sizes = [...new Set([BATCH_BYTES, ...(process.env.BENCH_BATCH_SIZES ?? '').split(',').filter(Boolean).map(Number)])];
const mach = machine();
const serverVersion = versionOf('nats-server')?.replace(': ', ' ') ?? null;
if (!serverVersion) throw new Error('bench:nats needs nats-server on PATH (Debian: apt-get install nats-server)');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-bench-nats-'));
const port = await new Promise<number>((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = (s.address() as net.AddressInfo).port;
    s.close(() => resolve(p));
  });
});
const url = `nats://127.0.0.1:${port}`;
const server = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', path.join(work, 'js')], { stdio: 'ignore' });
await sleep(1000);

/** nats-server's CPU seconds so far (utime + stime of /proc/<pid>/stat, in clock ticks of 1/100 s). */
function serverCpuS(): number {
  const stat = fs.readFileSync(`/proc/${server.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

interface Run {
  what: string;
  rows: number;
  wall: number;
  cpuS: number;
  serverS: number;
}

/** Wall time, this process's CPU and nats-server's over `f`, which returns the rows it moved. */
async function measure(what: string, f: () => Promise<number>): Promise<Run> {
  const s0 = serverCpuS();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const rows = await f();
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const run = { what, rows, wall, cpuS: (cpu.user + cpu.system) / 1e6, serverS: serverCpuS() - s0 };
  log(`${what}: ${rows} rows in ${wall.toFixed(2)} s, CPU ${run.cpuS.toFixed(2)} s, nats-server CPU ${run.serverS.toFixed(2)} s`);
  return run;
}

/**
 * The baseline: labtel's forwarder before issue 18, one JetStream publish per
 * row (message id <host>/<episode>/<source>/<seq>), 512 in flight, each
 * row's source and seq from the writer's prefix, each row copied out of the
 * read buffer, acknowledgements awaited in order. To its own stream, so the
 * pull below reads only the batched forwarder's messages.
 */
async function perRowBaseline(file: string): Promise<number> {
  const nc = await connectNats({ servers: [url] }, { timeout: 2000 });
  try {
    await (await jetstreamManager(nc)).streams.add({ name: 'BASELINE', subjects: ['baseline.>'], duplicate_window: nanos(30 * 60_000) });
    const js = jetstream(nc, { timeout: 5000 });
    const HEAD = /^\{"source":"([a-z_]+)","t_mono_ns":-?\d+,"seq":(\d+)/;
    const READ_BYTES = 4 << 20;
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.allocUnsafe(READ_BYTES);
    let offset = 0;
    let published = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, READ_BYTES, offset);
      const end = buf.lastIndexOf(10, n - 1);
      if (n === 0 || end < 0) break;
      const pending: Promise<unknown>[] = [];
      const inFlight: Promise<unknown>[] = [];
      let start = 0;
      for (let nl = buf.indexOf(10, 0); nl >= 0 && nl <= end; nl = buf.indexOf(10, start)) {
        const line = buf.subarray(start, nl);
        start = nl + 1;
        const m = HEAD.exec(line.toString('latin1', 0, Math.min(line.length, 96)))!;
        const p = js.publish(`baseline.bench.bench.${m[1]}`, Buffer.from(line), { msgID: `bench/bench/${m[1]}/${m[2]}` });
        p.catch(() => {});
        pending.push(p);
        inFlight.push(p);
        if (inFlight.length >= BASELINE_IN_FLIGHT) await Promise.allSettled(inFlight.splice(0));
      }
      for (const p of pending) await p;
      published += pending.length;
      offset += start;
    }
    fs.closeSync(fd);
    return published;
  } finally {
    await nc.drain();
  }
}

try {
  // An episode directory with ROWS host_proc process rows with every field, as the proc collector writes them.
  const dir = path.join(work, 'ep');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'episode.json'), JSON.stringify({ episode: 'bench', manifest: { collectors: {} } }));
  const row = (i: number) =>
    JSON.stringify({
      source: 'host_proc', t_mono_ns: i * 1e6, seq: i, available_in_deployment: true, pid: 4242, starttime: 1000, process_event: i === 0 ? 'started' : null, interval_s: i === 0 ? null : 0.001,
      state: 'S', processor: 1, cpu_user_jiffies: 100 + (i >> 4), cpu_sys_jiffies: 50 + (i >> 6), minflt: 12345 + i, majflt: 0, num_threads: 7, vsize_bytes: 1234567890, rss_bytes: 98765432,
      shared_bytes: 1234567, text_bytes: 65536, data_bytes: 45678912, rss_peak_bytes: 99876543, swap_bytes: 0, voluntary_ctxt_switches: 1000 + i, nonvoluntary_ctxt_switches: 10 + (i >> 3),
      io_rchar: 4096 * i, io_wchar: 8192 * i, io_read_bytes: 0, io_write_bytes: 4096 * (i >> 2),
      cpu_time_ns: 1_500_000_000 + 700_000 * i, run_delay_ns: 20_000_000 + 9_000 * i, run_periods: 5000 + 3 * i,
    }) + '\n';
  const rowsFile = path.join(dir, 'telemetry-proc.jsonl');
  const fd = fs.openSync(rowsFile, 'w');
  for (let i = 0; i < ROWS; i += 10_000) fs.writeSync(fd, Array.from({ length: Math.min(10_000, ROWS - i) }, (_, j) => row(i + j)).join(''));
  fs.closeSync(fd);
  const bytes = fs.statSync(rowsFile).size;

  // The per-row baseline first, then the batched forwarder at its own batch size (its messages are what pull reads),
  // then any other sizes asked for, each as another episode of another host on the same stream.
  const baseline = await measure('per-row publishing (before issue 18)', () => perRowBaseline(rowsFile));
  const batched: Array<Run & { batchBytes: number; messages: number }> = [];
  for (const [i, size] of sizes.entries()) {
    const host = i === 0 ? 'bench' : `bench-${size}`;
    const epDir = i === 0 ? dir : path.join(work, `ep-${size}`);
    if (i > 0) {
      fs.mkdirSync(epDir);
      fs.copyFileSync(rowsFile, path.join(epDir, 'telemetry-proc.jsonl'));
    }
    const f = new NatsForwarder(epDir, natsSinkConfig.parse({ servers: [url], host }), { prefix: 'labtel', host, episode: 'bench' }, { batchBytes: size });
    await f.connect();
    const limit = f.messageLimit();
    const run = await measure(`batched forwarder, batches up to ${Math.min(size, limit)} bytes`, async () => {
      if (!(await f.pass())) throw new Error(f.progress.error ?? 'forward failed');
      return f.progress.published;
    });
    if (i === 0 && !(await f.forwardEpisodeFiles())) throw new Error(f.progress.error ?? 'episode files not forwarded');
    const messages = Math.ceil(bytes / Math.min(size, limit));
    await f.close();
    batched.push({ ...run, batchBytes: Math.min(size, limit), messages });
  }

  const out = path.join(work, 'out');
  let identical = false;
  let pullError: string | null = null;
  const pulled = await measure('pull', async () => {
    try {
      return (await pull({ servers: [url], stream: 'LABTEL', out, durable: 'bench' })).rows;
    } catch (err) {
      pullError = (err as Error).message;
      return 0;
    }
  });
  const pulledFile = path.join(out, 'bench', 'bench', 'telemetry-proc.jsonl');
  identical = fs.existsSync(pulledFile) && fs.readFileSync(pulledFile).equals(fs.readFileSync(rowsFile));
  log(`pull: identical ${identical}${pullError ? `; failed: ${pullError}` : ''}`);

  const usPerRow = (r: Run) => (r.cpuS / r.rows) * 1e6;
  const corePer10k = (r: Run) => (usPerRow(r) * 10_000) / 1e4; // % of one core at 10k rows/s
  const line = (r: Run, how: string) => [
    how,
    int(r.rows),
    r.wall.toFixed(2),
    `**${int(r.rows / r.wall)}**`,
    `${r.cpuS.toFixed(2)} s = ${fmt(usPerRow(r), 2)} µs/row = **${fmt(corePer10k(r), 2)}% of one core per 10k rows/s**`,
    `${r.serverS.toFixed(2)} s = ${fmt((r.serverS / r.rows) * 1e6, 2)} µs/row`,
  ];
  const main = batched[0]!;
  const targets: Target[] = [
    { what: 'batched forwarder: at least 100,000 rows/s forwarded and acknowledged', pass: main.rows / main.wall >= 100_000, value: `${int(main.rows / main.wall)} rows/s` },
    { what: 'batched forwarder: at most 5% of one core per 10k rows/s (5 µs of this process\'s CPU per row)', pass: usPerRow(main) <= 5, value: `${fmt(usPerRow(main), 2)} µs/row` },
    { what: 'pull at least as fast as the forwarder', pass: identical && pulled.rows > 0 && pulled.rows / pulled.wall >= main.rows / main.wall, value: pulled.rows > 0 ? `${int(pulled.rows / pulled.wall)} rows/s against ${int(main.rows / main.wall)}${identical ? '' : '; the pulled file DIFFERS from the source'}` : `pull wrote no rows: ${pullError ?? 'it read no batch as rows'}` },
  ];
  printSection(
    {
      title: 'Forwarding to NATS JetStream',
      command: commandLine('bench:nats', ['BENCH_ROWS', 'BENCH_BATCH_SIZES']),
      machine: mach,
      body: [
        `${int(ROWS)} generated host_proc process rows with every field of their schema (${fmt(bytes / ROWS, 0)} bytes each, ${fmt(bytes / 1e6, 1)} MB) in an episode directory, forwarded to ${serverVersion} on loopback (JetStream, file store), in this script's process, in one run: first as labtel did before issue 18 (one JetStream publish per row with its own message id, ${BASELINE_IN_FLIGHT} in flight), then by the agent's forwarder (\`NatsForwarder\`: each message a batch of consecutive rows, the file's bytes, with the message id \`<host>/<episode>/<source>/<first>-<last>/<run_id>\`; one 4 MiB read window, its batches published one after another, each once the one before is acknowledged). Then read back with \`pull()\`, what \`labtel pull\` runs. Wall time from \`performance.now()\`; CPU of this whole process from \`process.cpuUsage()\` over each pass; nats-server's CPU from its /proc/<pid>/stat over the same pass (it is not in the per-10k figure).`,
        mdTable(
          ['step', 'rows', 'wall s', 'rows/s', 'this process\'s CPU', 'nats-server CPU'],
          [
            line(baseline, 'per-row publishing (before issue 18)'),
            ...batched.map((r) => line(r, `batched forwarder, batches up to ${int(r.batchBytes)} bytes (~${int(r.messages)} messages)`)),
            [...line(pulled, 'pull: durable consumer to episode directories').slice(0, 5), `${line(pulled, '')[5]} (the pulled file is ${identical ? 'byte-identical to' : 'DIFFERENT from'} the source)`],
          ],
        ),
        `Batched, forwarding an episode writing 1,000 rows/s (proc at 1 ms) takes ${fmt(usPerRow(main) / 10, 3)}% of one core (per row before: ${fmt(usPerRow(baseline) / 10, 3)}%).`,
      ],
      targets,
    },
    {
      bench: 'nats', machine: mach, server: serverVersion, rows: ROWS, bytes,
      baseline: { rows: baseline.rows, wall_s: baseline.wall, cpu_s: baseline.cpuS, server_cpu_s: baseline.serverS },
      batched: batched.map((r) => ({ batch_bytes: r.batchBytes, rows: r.rows, wall_s: r.wall, cpu_s: r.cpuS, server_cpu_s: r.serverS, us_per_row: usPerRow(r) })),
      pull: { rows: pulled.rows, wall_s: pulled.wall, cpu_s: pulled.cpuS, server_cpu_s: pulled.serverS, identical, error: pullError },
    },
  );
} finally {
  server.kill('SIGKILL');
  fs.rmSync(work, { recursive: true, force: true });
}
