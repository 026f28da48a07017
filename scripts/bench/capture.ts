// Benchmark (not a test): live capture on a test network's tap (a bridge port,
// as a QEMU tap is) at rising packet rates, in one run:
//   - tcpdump alone, `-U -w - > /dev/null` (what capture costs without labtel),
//   - labtel run with pcap + netflow (tcpdump -> labtel -> network.pcap + buckets).
// Per rate: packets sent (60-byte UDP frames from scripts/bench/udp-flood.c in
// the guest's namespace), captured, kernel drops, and the CPU of labtel's
// process (all its threads) and of tcpdump, each as % of one core.
//
//   sudo npm run bench:capture           (root: it makes namespaces and a bridge)
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createGuestNet, type GuestNet } from '../../src/lab/guest-net.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const LABTEL = path.join(ROOT, 'bin', 'labtel.js');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const RATES = (process.env.BENCH_RATES ?? '0,50000,100000,150000,200000,250000,1000000').split(',').map(Number);
const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

if (process.getuid?.() !== 0) throw new Error('bench:capture makes network namespaces: run it as root');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-bench-capture-'));
const flood = path.join(work, 'udp-flood');
execFileSync('cc', ['-O2', '-o', flood, path.join(ROOT, 'scripts', 'bench', 'udp-flood.c')]);

/** utime + stime of a process, all threads, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK;
}

function tcpdumpOn(iface: string): number {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'latin1').split('\0');
      if (/(^|\/)tcpdump$/.test(argv[0]!) && argv[argv.indexOf('-i') + 1] === iface) return Number(d);
    } catch {
      // gone
    }
  }
  throw new Error(`no tcpdump on ${iface}`);
}

async function send(net: GuestNet, rate: number): Promise<{ sent: number; pps: number }> {
  if (rate === 0) {
    await sleep(SECONDS * 1000); // the idle cost
    return { sent: 0, pps: 0 };
  }
  const { stdout } = await net.exec(net.guestNs, [flood, net.peerIp, '9', String(rate), String(SECONDS)], { timeout: (SECONDS + 10) * 1000 });
  return JSON.parse(stdout);
}

interface Step {
  rate: number;
  pps: number;
  sent: number;
  captured: number;
  drops: number;
  labtelCpu: number | null;
  tcpdumpCpu: number;
}

/** Stats line of a tcpdump we started: on SIGUSR1, or its last at exit. */
const statsOf = (text: string) => {
  const m = [...text.matchAll(/(\d+) packets? captured[\s\S]*?(\d+) packets? received by filter[\s\S]*?(\d+) packets? dropped by kernel/g)].at(-1);
  return m ? { captured: Number(m[1]), received: Number(m[2]), drops: Number(m[3]) } : null;
};

async function tcpdumpAlone(net: GuestNet, rate: number): Promise<Step> {
  const t = spawn('sh', ['-c', `exec tcpdump -i ${net.tap} -U -w - -s 262144 --time-stamp-precision nano > /dev/null`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  t.stderr!.on('data', (d) => (err += d));
  while (!err.includes('listening on')) await sleep(10);
  const c0 = cpuSeconds(t.pid!);
  const s = await send(net, rate);
  await sleep(1200); // the kernel ring hands packets over up to 1 s late
  const c1 = cpuSeconds(t.pid!);
  t.kill('SIGTERM');
  await new Promise((resolve) => t.once('exit', resolve));
  const st = statsOf(err)!;
  return { rate, pps: s.pps, sent: s.sent, captured: st.captured, drops: st.drops, labtelCpu: null, tcpdumpCpu: (c1 - c0) / SECONDS };
}

async function labtelSteps(net: GuestNet): Promise<Step[]> {
  const dir = path.join(work, 'ep');
  const manifest = path.join(work, 'm.json');
  fs.writeFileSync(
    manifest,
    JSON.stringify({
      output_dir: dir,
      target: { pid: process.pid },
      collectors: { pcap: { iface: net.tap, interval_ms: 200, snaplen: 262144 }, netflow: { bucket_ms: 100, guest_ip: net.guestIp } },
    }),
  );
  const agent: ChildProcess = spawn(process.execPath, [LABTEL, 'run', manifest, '--quiet'], { stdio: 'inherit' });
  const pcapRows = () => {
    try {
      return fs.readFileSync(path.join(dir, 'telemetry-pcap.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    } catch {
      return [];
    }
  };
  const last = () => pcapRows().filter((r) => !('event' in r) && r.kernel_drops !== null).at(-1);
  while (!last()) await sleep(50);
  const tcpdump = tcpdumpOn(net.tap);
  const steps: Step[] = [];
  for (const rate of RATES) {
    await sleep(1500);
    const before = last();
    const a0 = cpuSeconds(agent.pid!);
    const t0 = cpuSeconds(tcpdump);
    const s = await send(net, rate);
    const a1 = cpuSeconds(agent.pid!);
    const t1 = cpuSeconds(tcpdump);
    await sleep(1500); // delivered and counted in a pcap row
    const after = last();
    steps.push({
      rate,
      pps: s.pps,
      sent: s.sent,
      captured: after.pkts_total - before.pkts_total,
      drops: after.kernel_drops - before.kernel_drops,
      labtelCpu: (a1 - a0) / SECONDS,
      tcpdumpCpu: (t1 - t0) / SECONDS,
    });
    process.stderr.write(`labtel at ${rate} pps: ${JSON.stringify(steps.at(-1))}\n`);
  }
  agent.kill('SIGTERM');
  await new Promise((resolve) => agent.once('exit', resolve));
  const nf = fs.readFileSync(path.join(dir, 'telemetry-netflow.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const bucketed = nf.reduce((n, r) => n + r.pkts_out, 0);
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  console.log(`labtel episode: netflow pkts_out ${bucketed} of ${steps.reduce((n, s) => n + s.captured, 0)} captured; pkts_late ${nf.reduce((n, r) => n + r.pkts_late, 0)}; pcap ${summary.collectors.pcap.status}, netflow ${summary.collectors.netflow.status}`);
  return steps;
}

const pct = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(1)}%`);
function table(title: string, steps: Step[]): void {
  console.log(`\n${title}`);
  console.log('  asked pps   sent pps   captured   kernel drops   labtel CPU   tcpdump CPU   labtel CPU per 100k pps');
  for (const s of steps) {
    const per = s.labtelCpu === null || s.pps === 0 ? '—' : pct((s.labtelCpu / s.pps) * 100_000);
    console.log(
      `  ${String(s.rate).padStart(9)} ${s.pps.toFixed(0).padStart(10)} ${String(s.captured).padStart(10)} ${String(s.drops).padStart(14)} ${pct(s.labtelCpu).padStart(12)} ${pct(s.tcpdumpCpu).padStart(13)} ${per.padStart(25)}`,
    );
  }
}

const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model;
console.log(`labtel capture benchmark — ${cpu}, ${os.availableParallelism()} cores, ${os.type()} ${os.release()}, node ${process.version}`);
console.log(`${SECONDS} s of 60-byte UDP frames per rate, guest namespace -> peer, captured on the guest's bridge port; CPU as % of one core`);
const net = await createGuestNet();
const sink = spawn('ip', ['netns', 'exec', net.peerNs, 'python3', '-c', `import socket,time\ns=socket.socket(2,2)\ns.bind(("${net.peerIp}",9))\ntime.sleep(3600)`], { stdio: 'ignore' });
try {
  const alone: Step[] = [];
  for (const rate of RATES) alone.push(await tcpdumpAlone(net, rate));
  table('tcpdump -U -w - > /dev/null (no labtel)', alone);
  const steps = await labtelSteps(net);
  table('labtel run: pcap (network.pcap kept) + netflow (100 ms buckets)', steps);
  const ok = steps.filter((s) => s.drops === 0 && s.pps > 0);
  const best = ok.sort((a, b) => b.pps - a.pps)[0];
  console.log('');
  if (best) {
    const per = (best.labtelCpu! / best.pps) * 100_000;
    console.log(`${best.pps >= 200_000 ? 'PASS' : 'MISS'}  highest rate with 0 kernel drops >= 200k pps: ${best.pps.toFixed(0)} pps`);
    console.log(`${best.labtelCpu! <= 0.25 ? 'PASS' : 'MISS'}  labtel's CPU at that rate <= 25% of one core: ${pct(best.labtelCpu)} (${pct(per)} per 100k pps; tcpdump ${pct(best.tcpdumpCpu)})`);
  } else console.log('MISS  no rate without kernel drops');
  console.log(JSON.stringify({ bench: 'capture', alone, labtel: steps }));
} finally {
  sink.kill();
  await net.destroy();
  fs.rmSync(work, { recursive: true, force: true });
  spawnSync('true');
}
