// Benchmark (not a test): `labtel bucketize` whole process against the
// alternatives, in one run, on generated captures:
//   - 5,000,000 60-byte frames (the speed case),
//   - a mixed-size capture, and a ~1 GB one for peak memory.
// Each command runs 3 times; the median wall time and the peak RSS are shown.
//
//   npm run bench:bucketize            (BENCH_DIR=/tmp/labtel-bench by default)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCapture } from './gen-capture.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIR = process.env.BENCH_DIR ?? path.join(os.tmpdir(), 'labtel-bench');
const RUNS = 3;
const LABTEL = path.join(ROOT, 'bin', 'labtel.js');

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

// Wall time and peak RSS of a whole command, measured from outside (python3's
// wait4 rusage of the child), with stdout discarded.
const MEASURE = `
import resource, subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=None)
w = time.perf_counter() - t
sys.stderr.write(r.stderr.decode(errors="replace")[-400:])
print(w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)
`;

interface Timing { wall: number; rssMiB: number; ok: boolean }

function measure(cmd: string[], env: NodeJS.ProcessEnv = {}): Timing {
  const walls: number[] = [];
  let rss = 0;
  let ok = true;
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync('python3', ['-c', MEASURE, ...cmd], { encoding: 'utf8', env: { ...process.env, ...env } });
    const [wall, maxrss, code] = r.stdout.trim().split(/\s+/).map(Number);
    if (code !== 0) {
      ok = false;
      process.stderr.write(`  (${cmd.slice(0, 3).join(' ')} exited ${code}: ${r.stderr.trim().split('\n').pop()})\n`);
    }
    walls.push(wall!);
    rss = Math.max(rss, maxrss! / 1024);
  }
  walls.sort((a, b) => a - b);
  return { wall: walls[1]!, rssMiB: rss, ok };
}

function ensure(file: string, packets: number, opts: { small?: boolean; seed: number }): { file: string; packets: number; bytes: number } {
  if (!fs.existsSync(file)) {
    process.stderr.write(`generating ${file} (${packets} packets)...\n`);
    generateCapture(file, packets, opts);
  }
  return { file, packets, bytes: fs.statSync(file).size };
}

const PCAPPARSER_LOOP = `
const pcapp = require(process.argv[1] + '/node_modules/pcap-parser');
const fs = require('fs');
let pin = 0, pout = 0;
const guest = Buffer.from([10, 200, 0, 10]);
const p = pcapp.parse(fs.createReadStream(process.argv[2], { highWaterMark: 1 << 20 }));
p.on('packet', (k) => { const d = k.data; let et = d.readUInt16BE(12), l3 = 14; if (et === 0x8100) { et = d.readUInt16BE(16); l3 = 18; }
  if (et === 0x0800 && d.compare(guest, 0, 4, l3 + 12, l3 + 16) === 0) pout++; else pin++; });
p.on('end', () => console.log(pin, pout));
`;

function row(name: string, t: Timing, cap: { packets: number; bytes: number }): string {
  const mpps = cap.packets / t.wall / 1e6;
  const mbs = cap.bytes / t.wall / 1e6;
  return `  ${name.padEnd(52)} ${t.wall.toFixed(3).padStart(8)} s ${mpps.toFixed(2).padStart(8)} Mpps ${mbs.toFixed(0).padStart(7)} MB/s ${t.rssMiB.toFixed(0).padStart(6)} MiB${t.ok ? '' : '  (failed)'}`;
}

fs.mkdirSync(DIR, { recursive: true });
const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model;
console.log(`labtel bucketize benchmark — ${cpu}, ${os.availableParallelism()} cores, ${os.type()} ${os.release()}, node ${process.version}`);
console.log(`median of ${RUNS} whole-process runs; peak RSS from the child's rusage; output to /dev/null\n`);

const small = ensure(path.join(DIR, 'small5m.pcap'), 5_000_000, { small: true, seed: 2 });
const mixed = ensure(path.join(DIR, 'mixed1m.pcap'), 1_000_000, { seed: 3 });
const big = ensure(path.join(DIR, 'mixed1g.pcap'), 1_400_000, { seed: 4 });
const figures: Record<string, Record<string, Timing>> = {};

for (const [label, cap] of [['5M x 60-byte frames', small], ['1M mixed-size frames', mixed], ['~1 GB mixed-size', big]] as const) {
  console.log(`${label}: ${(cap.bytes / 1e6).toFixed(0)} MB, ${cap.packets} packets`);
  const f: Record<string, Timing> = {};
  const bucketize = ['node', LABTEL, 'bucketize', cap.file, '-o', '-', '--bucket-ms', '100', '--guest-ip', '10.200.0.10'];
  f.labtel = measure(bucketize);
  console.log(row('labtel bucketize (native addon)', f.labtel, cap));
  if (cap !== big) {
    f.labtel_ts = measure(bucketize, { LABTEL_NATIVE: '0' });
    console.log(row('labtel bucketize, pure-TS path (LABTEL_NATIVE=0)', f.labtel_ts, cap));
    f.pcap_parser = measure(['node', '-e', PCAPPARSER_LOOP, ROOT, cap.file]);
    console.log(row('pcap-parser (npm) loop, direction only', f.pcap_parser, cap));
  }
  if (has('tcpdump')) {
    f.tcpdump = measure(['tcpdump', '-r', cap.file, '-w', '/dev/null']);
    console.log(row('tcpdump -r FILE -w /dev/null (libpcap reading only)', f.tcpdump, cap));
  } else console.log('  tcpdump: not installed, skipped');
  figures[label] = f;
  console.log('');
}

const s = figures['5M x 60-byte frames']!;
const targets = [
  ['5M small frames <= 0.25 s whole process', s.labtel!.wall <= 0.25, `${s.labtel!.wall.toFixed(3)} s`],
  ['faster than libpcap merely reading the file', s.tcpdump ? s.labtel!.wall < s.tcpdump.wall : null, s.tcpdump ? `${(s.tcpdump.wall / s.labtel!.wall).toFixed(1)}x` : 'no tcpdump'],
  ['> 10x the pcap-parser path', s.pcap_parser!.wall / s.labtel!.wall > 10, `${(s.pcap_parser!.wall / s.labtel!.wall).toFixed(1)}x`],
  ['peak RSS <= 150 MiB on ~1 GB', figures['~1 GB mixed-size']!.labtel!.rssMiB <= 150, `${figures['~1 GB mixed-size']!.labtel!.rssMiB.toFixed(0)} MiB`],
] as const;
for (const [what, pass, value] of targets) console.log(`${pass === null ? 'info' : pass ? 'PASS' : 'MISS'}  ${what}: ${value}`);
console.log(JSON.stringify({ bench: 'bucketize', figures }));
