// Benchmark (not a test): live capture on a test network's tap (a bridge port,
// as a QEMU tap is) at rising packet rates, in one run:
//   - tcpdump alone, `-U -w - > /dev/null` (what capture costs without labtel),
//   - labtel run with pcap + netflow (tcpdump -> labtel -> network.pcap + buckets).
// Per rate: packets sent (60-byte UDP frames from scripts/bench/udp-flood.c in
// the guest's namespace), captured, kernel drops, and the CPU of labtel's
// process (all its threads) and of tcpdump: CPU-seconds from the start of
// sending until TAIL_MS after it ended (the kernel ring hands packets over up
// to 1 s late), divided by the seconds of sending, as % of one core.
// stdout: the markdown section of BENCHMARKS.md; stderr: progress and JSON.
//
//   sudo npm run bench:capture           (root: it makes namespaces and a bridge)
//   BENCH_SECONDS (3), BENCH_RATES (0,50000,...,1000000); BENCH_QUICK=1: 1 s at 0,50000,200000
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createGuestNet, type GuestNet } from '../../src/lab/guest-net.js';
import { commandLine, int, intEnv, log, machine, mdTable, printSection, type Target, versionOf } from './section.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const LABTEL = path.join(ROOT, 'bin', 'labtel.js');
const SECONDS = intEnv('BENCH_SECONDS', 3, 1);
const RATES = (process.env.BENCH_RATES ?? (process.env.BENCH_QUICK === '1' ? '0,50000,200000' : '0,50000,100000,150000,200000,250000,1000000')).split(',').map(Number);
const TAIL_MS = 1500;
const SETTLE_MS = 1500;
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

async function send(net: GuestNet, rate: number): Promise<{ sent: number; pps: number; seconds: number }> {
  if (rate === 0) {
    await sleep(SECONDS * 1000); // the idle cost
    return { sent: 0, pps: 0, seconds: SECONDS };
  }
  const { stdout } = await net.exec(net.guestNs, [flood, net.peerIp, '9', String(rate), String(SECONDS)], { timeout: (SECONDS + 10) * 1000 });
  return JSON.parse(stdout);
}

interface Step {
  rate: number;
  pps: number;
  sent: number;
  /** Seconds of sending (udp-flood's own clock; SECONDS when idle). */
  seconds: number;
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
  await sleep(TAIL_MS); // the kernel ring hands packets over up to 1 s late
  const c1 = cpuSeconds(t.pid!);
  t.kill('SIGTERM');
  await new Promise((resolve) => t.once('exit', resolve));
  const st = statsOf(err)!;
  return { rate, pps: s.pps, sent: s.sent, seconds: s.seconds, captured: st.captured, drops: st.drops, labtelCpu: null, tcpdumpCpu: (c1 - c0) / s.seconds };
}

interface NetflowCheck {
  pkts_out: number;
  captured: number;
  pkts_late: number;
  pcap: string;
  netflow: string;
}

async function labtelSteps(net: GuestNet): Promise<{ steps: Step[]; check: NetflowCheck }> {
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
  // Its summary goes to our stderr: stdout is the markdown section.
  const agent: ChildProcess = spawn(process.execPath, [LABTEL, 'run', manifest, '--quiet'], { stdio: ['ignore', 2, 'inherit'] });
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
    await sleep(SETTLE_MS);
    const before = last();
    const a0 = cpuSeconds(agent.pid!);
    const t0 = cpuSeconds(tcpdump);
    const s = await send(net, rate);
    await sleep(TAIL_MS); // delivered, and counted in a pcap row (interval 200 ms)
    const a1 = cpuSeconds(agent.pid!);
    const t1 = cpuSeconds(tcpdump);
    const after = last();
    steps.push({
      rate,
      pps: s.pps,
      sent: s.sent,
      seconds: s.seconds,
      captured: after.pkts_total - before.pkts_total,
      drops: after.kernel_drops - before.kernel_drops,
      labtelCpu: (a1 - a0) / s.seconds,
      tcpdumpCpu: (t1 - t0) / s.seconds,
    });
    log(`labtel at ${rate} pps: ${JSON.stringify(steps.at(-1))}`);
  }
  agent.kill('SIGTERM');
  await new Promise((resolve) => agent.once('exit', resolve));
  const nf = fs.readFileSync(path.join(dir, 'telemetry-netflow.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const bucketed = nf.reduce((n, r) => n + r.pkts_out, 0);
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  const check: NetflowCheck = {
    pkts_out: bucketed,
    captured: steps.reduce((n, s) => n + s.captured, 0),
    pkts_late: nf.reduce((n, r) => n + (r.pkts_late ?? 0), 0),
    pcap: summary.collectors.pcap.status,
    netflow: summary.collectors.netflow.status,
  };
  log(`labtel episode: ${JSON.stringify(check)}`);
  return { steps, check };
}

const pct = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(1)}%`);
/** The sender could not reach the asked rate (5% short or more): the step measures its ceiling, not labtel's. */
const ceiling = (s: Step) => s.rate > 0 && s.pps < 0.95 * s.rate;

const mach = machine();
const tcpdumpVersion = versionOf('tcpdump') ?? 'tcpdump (version unknown)';
log(`labtel capture benchmark: ${SECONDS} s per rate at ${RATES.join(', ')} pps`);
const net = await createGuestNet();
const sink = spawn('ip', ['netns', 'exec', net.peerNs, 'python3', '-c', `import socket,time\ns=socket.socket(2,2)\ns.bind(("${net.peerIp}",9))\ntime.sleep(3600)`], { stdio: 'ignore' });
try {
  const alone: Step[] = [];
  for (const rate of RATES) {
    alone.push(await tcpdumpAlone(net, rate));
    log(`tcpdump alone at ${rate} pps: ${JSON.stringify(alone.at(-1))}`);
  }
  const { steps, check } = await labtelSteps(net);

  const rows = RATES.map((rate, i) => {
    const a = alone[i]!;
    const l = steps[i]!;
    const asked = rate === 0 ? 'idle' : int(rate) + (ceiling(a) || ceiling(l) ? ' (the sender fell 5% or more short of it)' : '');
    const sent = (s: Step) => (rate === 0 ? '0' : `${int(s.pps)} (${int(s.sent)} in ${s.seconds.toFixed(2)} s)`);
    const per = l.labtelCpu === null || l.pps === 0 ? '—' : pct((l.labtelCpu / l.pps) * 100_000);
    return [
      asked,
      sent(a),
      `${int(a.captured)} of ${int(a.sent)}, ${int(a.drops)}, ${pct(a.tcpdumpCpu)}`,
      sent(l),
      `${int(l.captured)} of ${int(l.sent)}, **${int(l.drops)}**`,
      pct(l.labtelCpu),
      pct(l.tcpdumpCpu),
      per,
    ];
  });
  const ok = steps.filter((s) => s.drops === 0 && s.pps > 0);
  const best = [...ok].sort((a, b) => b.pps - a.pps)[0];
  const tgs: Target[] = best
    ? [
        { what: '≥ 200k pps with 0 kernel drops', pass: best.pps >= 200_000, value: `highest rate without drops: ${int(best.pps)} pps${ceiling(best) ? `, where the sender fell short of the ${int(best.rate)} asked` : ''}` },
        { what: "labtel's CPU at that rate ≤ 25% of one core", pass: best.labtelCpu! <= 0.25, value: `${pct(best.labtelCpu)}; ${pct((best.labtelCpu! / best.pps) * 100_000)} per 100k pps; tcpdump under labtel ${pct(best.tcpdumpCpu)}` },
      ]
    : [{ what: '≥ 200k pps with 0 kernel drops', pass: false, value: 'no rate ran without kernel drops' }];
  const senderTop = Math.max(...steps.map((s) => s.pps), ...alone.map((s) => s.pps));
  printSection(
    {
      title: 'Live capture (root)',
      command: commandLine('bench:capture', ['BENCH_SECONDS', 'BENCH_RATES']),
      machine: mach,
      body: [
        `A test network in namespaces (\`src/lab/guest-net.ts\`): the sender in the guest's namespace, captured on the guest's bridge port (as a QEMU tap is). 60-byte UDP frames (18-byte payload) from \`scripts/bench/udp-flood.c\` (sendmmsg in batches of up to 64, paced to the asked rate), ${SECONDS} s per rate; the peer holds the port, so nothing comes back. First tcpdump alone (\`tcpdump -i TAP -U -w - -s 262144 --time-stamp-precision nano > /dev/null\`, one run per rate), then one \`labtel run\` with pcap (\`network.pcap\` kept, snaplen 262144, pcap rows every 200 ms) and netflow (100 ms buckets) through every rate, ${SETTLE_MS / 1000} s apart. ${tcpdumpVersion}.`,
        `Captured and kernel drops: tcpdump's own statistics at exit (alone); the pcap rows' \`pkts_total\` and \`kernel_drops\` before and after each step (labtel). CPU: utime + stime from \`/proc/PID/stat\` (all threads; clock ticks of ${(1000 / TICK).toFixed(0)} ms) from the start of sending until ${TAIL_MS / 1000} s after it ended, divided by the seconds of sending, as % of one core; labtel's process and its tcpdump are counted separately.`,
        mdTable(
          ['asked pps', 'sent pps, tcpdump alone', 'tcpdump alone: captured, kernel drops, CPU', 'sent pps, under labtel', '**labtel run, pcap + netflow**: captured, kernel drops', 'labtel CPU', 'tcpdump CPU (under labtel)', 'labtel CPU per 100k pps'],
          rows,
        ),
        `Every packet captured was bucketized: the episode's netflow \`pkts_out\` summed to ${int(check.pkts_out)} against ${int(check.captured)} packets the pcap rows counted over the steps (${check.pkts_out === check.captured ? 'equal' : 'NOT equal'}), \`pkts_late\` ${int(check.pkts_late)}; pcap ${check.pcap}, netflow ${check.netflow}. The sender's highest rate in this run was ${int(senderTop)} pps.`,
        "How: tcpdump `-U` writes each packet with its own `write(2)`. labtel gives tcpdump a FIFO as stdout, opens its reading end non-blocking, and drains it every 2 ms while packets flow with 1 MiB `read(2)`s (once the pipe runs dry it waits for the kernel to say bytes are there, instead of polling): one pass of the record walker, one file write and one message to the netflow worker per poll, whatever the packet count. When idle, labtel still runs its heartbeat and the interval rows.",
      ],
      targets: tgs,
    },
    { bench: 'capture', machine: mach, seconds: SECONDS, rates: RATES, alone, labtel: steps, check },
  );
} finally {
  sink.kill();
  await net.destroy();
  fs.rmSync(work, { recursive: true, force: true });
  spawnSync('true');
}
