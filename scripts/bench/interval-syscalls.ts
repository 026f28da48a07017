// The syscalls of the pcap and qmp interval work, counted with strace: run
//   strace -f -c -o OUT npx tsx scripts/bench/interval-syscalls.ts pcap IFACE N [SRC_ROOT]
// twice, with N rows and with 0, and subtract: what is left is N rows' worth
// of reading the interface's counters and tx queues (IntervalRows.tick with
// no tcpdump). SRC_ROOT (default: this checkout's src) lets one run compare
// another checkout's code. No timing: counts only.
import path from 'node:path';
import os from 'node:os';
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';

const [what, iface, nArg, srcArg] = process.argv.slice(2);
const n = Number(nArg);
if (what !== 'pcap' || !iface || !Number.isSafeInteger(n) || n < 0) {
  console.error('usage: interval-syscalls.ts pcap IFACE N [SRC_ROOT]');
  process.exit(2);
}
const src = path.resolve(srcArg ?? path.join(import.meta.dirname, '../../src'));
const load = (p: string) => import(pathToFileURL(path.join(src, p)).href);
const { EpisodeClock, monoNowNs } = await load('clock/origin.ts');
const { IntervalRows } = await load('collectors/pcap/interval-rows.ts');
const { JsonlWriter } = await load('rows/jsonl-writer.ts');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-syscalls-'));
const writer = new JsonlWriter(path.join(dir, 'telemetry-pcap.jsonl'), { availableInDeployment: true });
const clock = new EpisodeClock(monoNowNs());
const rows = new IntervalRows({ config: { keep_pcap: false, iface }, writer, clock, run: () => 0, live: () => null, savedBytes: () => null });
for (let i = 0; i < n; i++) rows.tick();
rows.close?.();
writer.close();
const last = fs.readFileSync(path.join(dir, 'telemetry-pcap.jsonl'), 'utf8').trim().split('\n').at(-1);
fs.rmSync(dir, { recursive: true });
console.error(n ? `last row: ${last}` : 'no rows');
