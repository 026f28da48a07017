// Benchmark (not a test): rows forwarded to NATS JetStream end to end on
// loopback, by the forwarder labtel runs beside an episode, and what it
// costs: rows/s through publish + acknowledgement, and the forwarder's CPU
// per 10k rows/s; then `labtel pull` rows/s back into an episode directory.
//
// stdout: the markdown section of BENCHMARKS.md; stderr: progress and JSON.
//
//   npm run bench:nats        (needs nats-server: Debian's nats-server)
//   BENCH_ROWS (200000); BENCH_QUICK=1: 20000 rows
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { natsSinkConfig } from '../../src/sinks/nats/config.js';
import { NatsForwarder } from '../../src/sinks/nats/forwarder.js';
import { pull } from '../../src/sinks/nats/pull.js';
import { commandLine, fmt, int, intEnv, log, machine, mdTable, printSection, versionOf } from './section.js';

const ROWS = intEnv('BENCH_ROWS', 200_000, 20_000);
const IN_FLIGHT = 512; // src/sinks/nats/forwarder.ts
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
const server = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', path.join(work, 'js')], { stdio: 'ignore' });
await sleep(1000);
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
    }) + '\n';
  const fd = fs.openSync(path.join(dir, 'telemetry-proc.jsonl'), 'w');
  for (let i = 0; i < ROWS; i += 10_000) fs.writeSync(fd, Array.from({ length: Math.min(10_000, ROWS - i) }, (_, j) => row(i + j)).join(''));
  fs.closeSync(fd);
  const bytes = fs.statSync(path.join(dir, 'telemetry-proc.jsonl')).size;

  const f = new NatsForwarder(dir, natsSinkConfig.parse({ servers: [`nats://127.0.0.1:${port}`], host: 'bench' }), { prefix: 'labtel', host: 'bench', episode: 'bench' });
  await f.connect();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  if (!(await f.pass())) throw new Error(f.progress.error ?? 'forward failed');
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  await f.close();
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const rate = f.progress.published / wall;
  const usPerRow = (cpuS / f.progress.published) * 1e6;
  const coreAt = (rowsPerS: number) => `${fmt((usPerRow * rowsPerS) / 1e4, 2)}%`;
  log(`forward: ${f.progress.published} rows in ${wall.toFixed(2)} s, CPU ${cpuS.toFixed(2)} s`);

  const out = path.join(work, 'out');
  const p0 = performance.now();
  const r = await pull({ servers: [`nats://127.0.0.1:${port}`], stream: 'LABTEL', out, durable: 'bench' });
  const pwall = (performance.now() - p0) / 1000;
  const identical = fs.readFileSync(path.join(out, 'bench', 'bench', 'telemetry-proc.jsonl')).equals(fs.readFileSync(path.join(dir, 'telemetry-proc.jsonl')));
  log(`pull: ${r.rows} rows in ${pwall.toFixed(2)} s; identical ${identical}`);

  printSection(
    {
      title: 'Forwarding to NATS JetStream',
      command: commandLine('bench:nats', ['BENCH_ROWS']),
      machine: mach,
      body: [
        `${int(ROWS)} generated host_proc process rows with every field of their schema (${fmt(bytes / ROWS, 0)} bytes each, ${fmt(bytes / 1e6, 1)} MB) in an episode directory, forwarded by the agent's forwarder (\`NatsForwarder\`, run in this script's process) to ${serverVersion} on loopback (JetStream, file store): each row published with its message id and its acknowledgement awaited, ${IN_FLIGHT} in flight. Then read back with \`pull()\`, what \`labtel pull\` runs (a durable consumer into episode directories). Wall time from \`performance.now()\`; CPU from \`process.cpuUsage()\` of this process over the forward pass (nats-server's own CPU not included).`,
        mdTable(
          ['step', 'rows', 'wall s', 'rows/s', 'CPU'],
          [
            ['forward: read the files, publish, JetStream acknowledges', int(f.progress.published), wall.toFixed(2), `**${int(rate)}**`, `${cpuS.toFixed(2)} s = ${fmt(usPerRow, 1)} µs per row: **${coreAt(10_000)} of one core per 10k rows/s**`],
            ['pull: durable consumer to episode directories', int(r.rows), pwall.toFixed(2), int(r.rows / pwall), `— (the pulled file is ${identical ? 'byte-identical to' : 'DIFFERENT from'} the source)`],
          ],
        ),
        `At that cost per row, forwarding an episode writing 10, 100 and 1,000 rows/s (proc at 1 ms writes 1,000) takes ${coreAt(10)}, ${coreAt(100)} and ${coreAt(1000)} of one core. The forwarder takes each row's source and seq from the writer's fixed prefix instead of parsing the row; each row is one JetStream publish (a request with its own reply subject and a message-id header).`,
      ],
    },
    { bench: 'nats', machine: mach, server: serverVersion, rows: ROWS, bytes, forward: { published: f.progress.published, wall_s: wall, cpu_s: cpuS, us_per_row: usPerRow }, pull: { rows: r.rows, wall_s: pwall, identical } },
  );
} finally {
  server.kill('SIGKILL');
  fs.rmSync(work, { recursive: true, force: true });
}
