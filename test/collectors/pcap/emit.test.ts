// The pcap and netflow collectors against real tcpdump, on a bridge port of
// a test network (test/helpers/netns.ts) that carries only the packets the
// test sends and the peer's replies: every count must be exact. Skips only
// when not root or tcpdump/tshark is absent (CI runs as root and installs both).
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runEpisode, type RunResult } from '../../../src/agent/run-episode.js';
import { parseManifest } from '../../../src/manifest/load.js';
import { readIfaceCounters } from '../../../src/collectors/pcap/iface-counters.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import { LABTEL_BIN } from '../../helpers/cli.js';
import { canMakeNetns, makeGuestNet, sendPackets, type Expected, type GuestNet } from '../../helpers/netns.js';
import { recordEmitEvidence, witnessProgram } from '../../helpers/emit-witness.js';
import { has } from '../../helpers/programs.js';
import { readJsonl, tmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

const exec = promisify(execFile);
type Row = Record<string, unknown>;


const rowsOf = (dir: string, name: string): Row[] => {
  try {
    return readJsonl(path.join(dir, `telemetry-${name}.jsonl`));
  } catch {
    return []; // not created, or a line still being written
  }
};
const sum = (rows: Row[], k: string) => rows.reduce((n, r) => n + ((r[k] as number | null) ?? 0), 0);
const intervals = (rows: Row[]) => rows.filter((r) => !('event' in r));
const events = (rows: Row[]) => rows.filter((r) => 'event' in r);

/** tcpdump processes capturing on `iface`, by their argv. */
function tcpdumps(iface: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'latin1').split('\0');
        return /(^|\/)tcpdump$/.test(argv[0]!) && argv[argv.indexOf('-i') + 1] === iface;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** An episode with pcap and netflow on the test network's tap, stopped by `stop`. */
function episode(net: GuestNet, stop: AbortSignal) {
  const dir = path.join(tmpDir(), 'ep');
  const manifest = parseManifest({
    output_dir: dir,
    target: { pid: process.pid },
    collectors: {
      pcap: { iface: net.tap, interval_ms: 200 },
      netflow: { bucket_ms: 100, guest_ip: net.guestIp },
    },
  });
  return { dir, done: runEpisode({ manifest, stop }) };
}

/** What netflow and pcap rows must add up to for `e`. */
function expectCounts(dir: string, e: Expected, r: RunResult): void {
  const pcap = intervals(rowsOf(dir, 'pcap'));
  expect(sum(pcap, 'pkts')).toBe(e.out + e.in);
  expect(sum(pcap, 'bytes')).toBe(e.bytesOut + e.bytesIn);
  expect(pcap.at(-1)).toMatchObject({ pkts_total: e.out + e.in, kernel_drops: 0, if_drops: 0, filter_received: e.out + e.in });
  const nf = rowsOf(dir, 'netflow');
  expect({
    out: sum(nf, 'pkts_out'),
    in: sum(nf, 'pkts_in'),
    tcp: sum(nf, 'pkts_tcp'),
    udp: sum(nf, 'pkts_udp'),
    icmp: sum(nf, 'pkts_icmp'),
    tcpSyn: sum(nf, 'tcp_syn'),
    tcpRst: sum(nf, 'tcp_rst'),
    bytesOut: sum(nf, 'bytes_out'),
    bytesIn: sum(nf, 'bytes_in'),
  }).toEqual(e);
  expect(sum(nf, 'pkts_unmatched') + sum(nf, 'pkts_late') + sum(nf, 'pkts_arp') + sum(nf, 'pkts_non_ip')).toBe(0);
  expect(r.summary.collectors.netflow).toMatchObject({ status: 'ok', rows: nf.length, detail: { packets_after_end: 0 } });
}

/** Every row valid, seq without gaps, netflow buckets back to back inside each run. */
function expectWellFormed(dir: string): void {
  for (const name of ['pcap', 'netflow']) {
    const rows = rowsOf(dir, name);
    expect(rows.length, `${name} rows`).toBeGreaterThan(0);
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i));
    for (const r of rows) expect(ROW_SCHEMAS[r.source as 'pcap']!.safeParse(r).error).toBeUndefined();
    const t = rows.map((r) => r.t_mono_ns as number);
    expect(t).toEqual([...t].sort((a, b) => a - b));
  }
}

async function replay(dir: string): Promise<string> {
  const out = path.join(dir, '..', 'replayed.jsonl');
  await exec(process.execPath, [LABTEL_BIN, 'bucketize', '--episode', dir, '-o', out]);
  return fs.readFileSync(out, 'utf8');
}

describe.skipIf(!canMakeNetns() || !has('tcpdump') || !has('tshark'))('pcap and netflow against real tcpdump', () => {
  it('count exactly the TCP, UDP and ICMP packets sent, with direction right for guest_ip', async () => {
    const net = await makeGuestNet();
    const stop = new AbortController();
    const { dir, done } = episode(net, stop.signal);
    await waitFor(() => events(rowsOf(dir, 'pcap')).length > 0, 'capture_started');
    const capturing = tcpdumps(net.tap);
    expect(capturing).toHaveLength(1);
    const tcpdump = witnessProgram('tcpdump', capturing[0]!); // the process capturing is the real tcpdump
    const before = readIfaceCounters(net.tap);
    if ('why' in before) throw new Error(before.why);
    const e = await sendPackets(net, { tcpSyn: 7, udp: 11, icmpEcho: 5 });
    expect(e).toMatchObject({ out: 23, in: 12 });
    await sleep(300);
    stop.abort();
    const r = await done;

    expect(r.summary.collectors.pcap).toMatchObject({ status: 'ok', end: 'stopped', errors: [], detail: { restarts: 0, packets: 35 } });
    expectCounts(dir, e, r);
    expectWellFormed(dir);
    // The interface's own counters on every interval row: numbers, one ifindex, never going down, and by the last row
    // grown by exactly what crossed the port (the guest's packets received, its replies sent: the network is silent).
    const rows = intervals(rowsOf(dir, 'pcap'));
    expect(rows.length).toBeGreaterThan(0);
    for (const x of rows) for (const k of ['if_rx_packets', 'if_tx_packets', 'if_rx_bytes', 'if_tx_bytes', 'if_rx_dropped', 'if_tx_dropped', 'if_rx_errors', 'if_tx_errors']) expect(x[k], k).toEqual(expect.any(Number));
    expect(new Set(rows.map((x) => x.if_ifindex))).toEqual(new Set([before.ifindex]));
    const rx = rows.map((x) => x.if_rx_packets as number);
    expect(rx).toEqual([...rx].sort((a, b) => a - b));
    expect(rows.at(-1)).toMatchObject({
      if_rx_packets: before.values.rx_packets! + e.out,
      if_tx_packets: before.values.tx_packets! + e.in,
      if_rx_bytes: before.values.rx_bytes! + e.bytesOut,
      if_tx_bytes: before.values.tx_bytes! + e.bytesIn,
      if_rx_dropped: 0,
      if_tx_dropped: 0,
    });
    const ev = events(rowsOf(dir, 'pcap'));
    expect(ev.map((x) => [x.event, x.run, x.message])).toEqual([
      ['capture_started', 0, null],
      ['capture_ended', 0, 'stopped'],
    ]);
    // The netflow window is the capture's: first bucket begins with it (partial), last ends with it.
    const nf = rowsOf(dir, 'netflow');
    expect(nf[0]!.t_mono_ns).toBe(Math.floor((ev[0]!.at_ns as number) / 1e8) * 1e8);
    expect(nf.at(-1)).toMatchObject({ partial: true, t_mono_ns: Math.floor(((ev[1]!.at_ns as number) - 1) / 1e8) * 1e8 });
    expect(nf.filter((x) => x.partial)).toHaveLength(2);
    // The saved capture holds the same packets, as tshark reads them.
    const { stdout } = await exec('tshark', ['-r', path.join(dir, 'network.pcap'), '-n', '-T', 'fields', '-e', 'frame.len']);
    expect(stdout.trim().split('\n').map(Number).reduce((a, b) => a + b, 0)).toBe(e.bytesOut + e.bytesIn);
    // Offline replay of the saved capture gives the live rows, byte for byte.
    expect(await replay(dir)).toBe(fs.readFileSync(path.join(dir, 'telemetry-netflow.jsonl'), 'utf8'));
    expect(tcpdumps(net.tap)).toEqual([]);
    recordEmitEvidence('pcap', tcpdump, intervals(rowsOf(dir, 'pcap')).filter((x) => (x.pkts as number) > 0).length);
    recordEmitEvidence('netflow', tcpdump, nf.filter((x) => (x.pkts_in as number) + (x.pkts_out as number) > 0).length);
  });

  it('writes measured zero rows on an idle link, never nothing', async () => {
    const net = await makeGuestNet();
    const stop = new AbortController();
    const { dir, done } = episode(net, stop.signal);
    await waitFor(() => rowsOf(dir, 'pcap').length >= 4, 'pcap rows');
    stop.abort();
    const r = await done;
    expect(r.summary.collectors.pcap!.status).toBe('ok');
    expect(r.summary.collectors.netflow!.status).toBe('ok');
    // (rows before tcpdump listened say it was not running: pkts null, with that reason)
    const pcap = intervals(rowsOf(dir, 'pcap')).filter((x) => x.tcpdump_running);
    expect(pcap.length).toBeGreaterThanOrEqual(3);
    for (const row of pcap) expect(row).toMatchObject({ pkts: 0, bytes: 0, drops_lower_bound: false });
    // tcpdump's drop count is measured as 0; on a loaded machine one interval's SIGUSR1 answer can come late,
    // and that row then says so (null with the reason), never a 0 it did not hear (a clean-clone CI run saw one).
    const late = pcap.filter((x) => x.kernel_drops === null);
    expect(late.map((x) => (x.null_reasons as Record<string, string>).kernel_drops)).toEqual(late.map(() => 'tcpdump did not answer SIGUSR1 within the interval'));
    expect(pcap.filter((x) => x.kernel_drops === 0).length).toBeGreaterThanOrEqual(pcap.length - late.length);
    expect(pcap.length - late.length).toBeGreaterThanOrEqual(2);
    const nf = rowsOf(dir, 'netflow');
    expect(nf.length).toBeGreaterThanOrEqual(5);
    expect(nf.every((x) => x.pkts_in === 0 && x.pkts_out === 0)).toBe(true);
    expect(nf.map((x) => x.t_mono_ns)).toEqual(nf.map((_, i) => (nf[0]!.t_mono_ns as number) + i * 1e8));
  });

  it('reports tcpdump SIGKILLed mid-capture, restarts it, and counts the packets on both sides of the kill', async () => {
    const net = await makeGuestNet();
    const stop = new AbortController();
    const { dir, done } = episode(net, stop.signal);
    await waitFor(() => events(rowsOf(dir, 'pcap')).length > 0, 'capture_started');
    const e1 = await sendPackets(net, { tcpSyn: 3, udp: 4, icmpEcho: 2 });
    // Killed only once tcpdump has delivered them (its ring hands packets over up to 1 s late).
    await waitFor(() => intervals(rowsOf(dir, 'pcap')).some((x) => x.pkts_total === e1.out + e1.in), 'the first packets delivered');
    const [pid] = tcpdumps(net.tap);
    process.kill(pid!, 'SIGKILL');
    await waitFor(() => events(rowsOf(dir, 'pcap')).some((x) => x.event === 'capture_started' && x.run === 1), 'the restart');
    const e2 = await sendPackets(net, { tcpSyn: 2, udp: 5, icmpEcho: 3 });
    await sleep(300);
    stop.abort();
    const r = await done;

    const both = Object.fromEntries(Object.entries(e1).map(([k, v]) => [k, v + e2[k as keyof Expected]])) as unknown as Expected;
    expectCounts(dir, both, r);
    expectWellFormed(dir);
    const pcap = r.summary.collectors.pcap;
    expect(pcap).toMatchObject({ status: 'ok', end: 'stopped', detail: { restarts: 1 } });
    expect(pcap!.errors).toEqual([expect.stringMatching(/^pcap: tcpdump killed by SIGKILL; restarting in 500 ms$/)]);
    expect(events(rowsOf(dir, 'pcap')).map((x) => [x.event, x.run, x.message])).toEqual([
      ['capture_started', 0, null],
      ['capture_ended', 0, 'tcpdump killed by SIGKILL'],
      ['capture_started', 1, null],
      ['capture_ended', 1, 'stopped'],
    ]);
    // The killed run printed no final statistics: from then on the drop counters are lower bounds, and say so.
    expect(intervals(rowsOf(dir, 'pcap')).at(-1)).toMatchObject({ drops_lower_bound: true });
    // While tcpdump was down nothing was measured: pcap says so, and netflow has no buckets there.
    // (tcpdump restarts 500 ms after the kill, the interval is 200 ms: some interval after it had no tcpdump at all)
    const killedAt = events(rowsOf(dir, 'pcap')).find((x) => x.event === 'capture_ended')!.at_ns as number;
    expect(intervals(rowsOf(dir, 'pcap')).filter((x) => x.pkts === null && (x.t_mono_ns as number) > killedAt).length).toBeGreaterThan(0);
    const down = intervals(rowsOf(dir, 'pcap')).filter((x) => x.pkts === null);
    expect(down.length).toBeGreaterThan(0);
    for (const x of down) expect(x).toMatchObject({ tcpdump_running: false, null_reasons: { pkts: 'tcpdump was not running in this interval' } });
    const agent = readJsonl(path.join(dir, 'telemetry-agent.jsonl'));
    expect(agent.some((x) => x.event === 'collector_error' && String(x.message).includes('tcpdump killed by SIGKILL'))).toBe(true);
    expect(await replay(dir)).toBe(fs.readFileSync(path.join(dir, 'telemetry-netflow.jsonl'), 'utf8'));
    expect(tcpdumps(net.tap)).toEqual([]);
  });

  it("the interface deleted mid-capture: the collector ends, and the rows after it say the interface's counters are gone", async () => {
    const net = await makeGuestNet();
    const stop = new AbortController();
    const { dir, done } = episode(net, stop.signal);
    await waitFor(() => intervals(rowsOf(dir, 'pcap')).some((x) => x.tcpdump_running === true && typeof x.if_rx_packets === 'number'), 'a row with the counters');
    const ifindex = intervals(rowsOf(dir, 'pcap')).find((x) => typeof x.if_ifindex === 'number')!.if_ifindex;
    await exec('ip', ['link', 'del', net.tap]);
    await waitFor(() => events(rowsOf(dir, 'pcap')).some((x) => x.event === 'capture_ended'), 'the capture to end');
    stop.abort();
    const r = await done;
    expect(r.summary.collectors.pcap).toMatchObject({ end: 'interface_gone' });
    const rows = intervals(rowsOf(dir, 'pcap'));
    expect(rows.length).toBeGreaterThan(1);
    const read = rows.filter((x) => x.if_ifindex !== null);
    expect(read.length).toBeGreaterThan(0);
    for (const x of read) expect(x).toMatchObject({ if_ifindex: ifindex, if_rx_packets: expect.any(Number), if_tx_dropped: expect.any(Number) });
    // The last row, written once the capture ended, reads nothing: null with the reason, never a 0.
    const why = `interface ${net.tap} does not exist (gone)`;
    expect(rows.at(-1)).toMatchObject({ if_ifindex: null, if_rx_packets: null, if_tx_errors: null, null_reasons: { if_ifindex: why, if_rx_packets: why, if_tx_errors: why } });
  });

  it('keep_pcap false: nothing on disk, netflow still counts, saved_bytes null with the reason', async () => {
    const net = await makeGuestNet();
    const dir = path.join(tmpDir(), 'ep');
    const stop = new AbortController();
    const manifest = parseManifest({
      output_dir: dir,
      target: { pid: process.pid },
      collectors: { pcap: { iface: net.tap, interval_ms: 200, keep_pcap: false }, netflow: { guest_ip: net.guestIp } },
    });
    const done = runEpisode({ manifest, stop: stop.signal });
    await waitFor(() => events(rowsOf(dir, 'pcap')).length > 0, 'capture_started');
    const e = await sendPackets(net, { udp: 6 });
    await sleep(300);
    stop.abort();
    const r = await done;
    expect(fs.existsSync(path.join(dir, 'network.pcap'))).toBe(false);
    expect(sum(rowsOf(dir, 'netflow'), 'pkts_out')).toBe(e.out);
    expect(intervals(rowsOf(dir, 'pcap')).at(-1)).toMatchObject({ saved_bytes: null, null_reasons: { saved_bytes: 'keep_pcap is false' } });
    expect(r.summary.collectors.pcap!.detail).toMatchObject({ saved_bytes: null });
  });

  it('a SIGKILLed agent leaves no tcpdump once a packet comes (its pipe is gone)', async () => {
    const net = await makeGuestNet();
    const root = tmpDir();
    const m = path.join(root, 'm.json');
    fs.writeFileSync(m, JSON.stringify({ output_dir: path.join(root, 'ep'), target: { pid: process.pid }, collectors: { pcap: { iface: net.tap } } }));
    const agent = spawn(process.execPath, [LABTEL_BIN, 'run', m, '--quiet'], { stdio: 'ignore' });
    await waitFor(() => events(rowsOf(path.join(root, 'ep'), 'pcap')).length > 0, 'capture_started');
    expect(tcpdumps(net.tap)).toHaveLength(1);
    agent.kill('SIGKILL');
    await new Promise((resolve) => agent.once('exit', resolve));
    await sendPackets(net, { udp: 1 });
    await waitFor(() => tcpdumps(net.tap).length === 0, 'tcpdump to exit');
  });
});
