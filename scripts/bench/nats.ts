// Benchmark (not a test): rows forwarded to NATS JetStream end to end on
// loopback, by the forwarder labtel runs beside an episode, and what it
// costs: rows/s through publish + acknowledgement, and the forwarder's CPU
// per 10k rows/s; then `labtel pull` rows/s back into an episode directory.
//
//   npm run bench:nats        (needs nats-server: Debian's nats-server)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { natsSinkConfig } from '../../src/sinks/nats/config.js';
import { NatsForwarder } from '../../src/sinks/nats/forwarder.js';
import { pull } from '../../src/sinks/nats/pull.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 200_000);
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
  // An episode directory with ROWS proc rows as the proc collector writes them (~330 bytes each).
  const dir = path.join(work, 'ep');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'episode.json'), JSON.stringify({ episode: 'bench', manifest: { collectors: {} } }));
  const row = (i: number) =>
    JSON.stringify({ source: 'host_proc', t_mono_ns: i * 1e6, seq: i, available_in_deployment: true, pid: 4242, starttime: 1000, process_event: null, interval_s: 0.001, state: 'S', processor: 1, cpu_user_jiffies: 100 + i, cpu_sys_jiffies: 50, minflt: 12345, majflt: 0, num_threads: 7, vsize_bytes: 1234567890, rss_bytes: 98765432, shared_bytes: 1234567, text_bytes: 65536 }) + '\n';
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
  console.log(`labtel NATS benchmark — ${os.cpus()[0]?.model}, ${os.availableParallelism()} cores, node ${process.version}, nats-server on loopback`);
  console.log(`forward: ${f.progress.published} rows (${(bytes / 1e6).toFixed(1)} MB) in ${wall.toFixed(2)} s = ${Math.round(rate)} rows/s published and acknowledged`);
  console.log(`forwarder CPU: ${cpuS.toFixed(2)} s = ${((cpuS / f.progress.published) * 1e6).toFixed(1)} µs per row = ${((cpuS / f.progress.published) * 10_000 * 100).toFixed(1)}% of one core per 10k rows/s`);

  const out = path.join(work, 'out');
  const p0 = performance.now();
  const r = await pull({ servers: [`nats://127.0.0.1:${port}`], stream: 'LABTEL', out, durable: 'bench' });
  const pwall = (performance.now() - p0) / 1000;
  console.log(`pull: ${r.rows} rows in ${pwall.toFixed(2)} s = ${Math.round(r.rows / pwall)} rows/s; identical to the source: ${fs.readFileSync(path.join(out, 'bench', 'bench', 'telemetry-proc.jsonl')).equals(fs.readFileSync(path.join(dir, 'telemetry-proc.jsonl')))}`);
} finally {
  server.kill('SIGKILL');
  fs.rmSync(work, { recursive: true, force: true });
}
