// The lab network of netns.ts against plain tcpdump and tshark: a capture on
// the guest's tap holds exactly what sendPackets() says it sent and drew back,
// and nothing else, idle time included. Collector tests lean on those counts.
// Skips where it cannot run: not root, or tcpdump/tshark absent (CI has all).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { canMakeNetns, makeGuestNet, sendPackets, type Expected, type GuestNet } from './netns.js';
import { has } from './programs.js';
import { tmpDir } from './tmp.js';

const exec = promisify(execFile);

/** Resolves once tcpdump says it is listening, i.e. its socket is open and it sees every frame from now on. */
function listening(p: ChildProcess): Promise<void> {
  let err = '';
  return new Promise((resolve, reject) => {
    p.stderr!.setEncoding('utf8');
    p.stderr!.on('data', (d: string) => {
      err += d;
      if (err.includes('listening on')) resolve();
    });
    p.once('exit', () => reject(new Error(`tcpdump ended before listening: ${err}`)));
  });
}

const FIELDS = ['frame.len', 'eth.type', 'eth.src', 'eth.dst', 'ip.src', 'ip.dst', 'ip.proto', 'tcp.flags.syn', 'tcp.flags.ack', 'tcp.flags.reset', 'icmp.type'] as const;
type Row = Record<(typeof FIELDS)[number], string>;

async function readCapture(file: string): Promise<Row[]> {
  const { stdout } = await exec('tshark', ['-r', file, '-n', '-T', 'fields', ...FIELDS.flatMap((f) => ['-e', f])]);
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => Object.fromEntries(line.split('\t').map((v, i) => [FIELDS[i], v])) as Row);
}

/** Frames every interface of the net has sent or received since it was made, by the kernel's counters. */
async function framesSinceMade(net: GuestNet): Promise<Record<string, number>> {
  const peerPort = net.tap.replace(/-vg$/, '-vp');
  const devs = [[[], net.tap], [[], peerPort], [[], net.bridge], [['-n', net.guestNs], 'g0'], [['-n', net.peerNs], 'p0']] as const;
  const counts: Record<string, number> = {};
  for (const [ns, dev] of devs) {
    const [link] = JSON.parse((await exec('ip', [...ns, '-s', '-j', 'link', 'show', 'dev', dev])).stdout);
    counts[dev] = link.stats64.tx.packets + link.stats64.rx.packets;
  }
  return counts;
}

// tshark 4.0 prints booleans as 1/0, newer ones as True/False.
const set = (v: string) => v === '1' || v === 'True';
const sum = (rows: Row[]) => rows.reduce((s, r) => s + Number(r['frame.len']), 0);

describe.skipIf(!canMakeNetns() || !has('tcpdump') || !has('tshark'))('netns guest network', () => {
  it('a capture on the tap holds exactly the packets sendPackets() returns, and nothing while idle', async () => {
    const net = await makeGuestNet();
    const file = path.join(tmpDir(), 'tap.pcap');
    const tcpdump = spawn('tcpdump', ['-i', net.tap, '-U', '-w', file, '--time-stamp-precision', 'nano'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const ended = new Promise((r) => tcpdump.once('exit', r));
    const send = { tcpSyn: 7, udp: 11, icmpEcho: 5 };
    let want: Expected;
    try {
      await listening(tcpdump);
      await sleep(2000); // idle: anything spontaneous (ARP, IPv6, IGMP, STP) would land here
      // The counters also cover the setup, before tcpdump listened.
      expect(Object.values(await framesSinceMade(net))).toEqual([0, 0, 0, 0, 0]);
      want = await sendPackets(net, send);
      await sleep(1500); // tcpdump's ring hands over blocks up to 1 s late
    } finally {
      tcpdump.kill('SIGTERM');
      await ended;
    }
    const rows = await readCapture(file);
    const dump = rows.map((r) => Object.values(r).join(' ')).join('\n');

    expect(want).toEqual({ out: 23, in: 12, tcp: 14, udp: 11, icmp: 10, tcpSyn: 7, tcpRst: 7, bytesOut: 7 * 54 + 11 * 42 + 5 * 98, bytesIn: 7 * 54 + 5 * 98 });
    // Nothing but IPv4 between the two (no ARP, no IPv6, no STP or LLDP frames).
    expect(rows.filter((r) => r['eth.type'] !== '0x0800'), dump).toEqual([]);
    expect(rows, dump).toHaveLength(want.out + want.in);
    const out = rows.filter((r) => r['ip.src'] === net.guestIp && r['ip.dst'] === net.peerIp);
    const back = rows.filter((r) => r['ip.src'] === net.peerIp && r['ip.dst'] === net.guestIp);
    expect(out).toHaveLength(want.out);
    expect(back).toHaveLength(want.in);
    expect(out.every((r) => r['eth.src'] === net.guestMac && r['eth.dst'] === net.peerMac)).toBe(true);
    expect(back.every((r) => r['eth.src'] === net.peerMac && r['eth.dst'] === net.guestMac)).toBe(true);
    expect(rows.filter((r) => r['ip.proto'] === '6')).toHaveLength(want.tcp);
    expect(rows.filter((r) => r['ip.proto'] === '17')).toHaveLength(want.udp);
    expect(rows.filter((r) => r['ip.proto'] === '1')).toHaveLength(want.icmp);
    expect(rows.filter((r) => set(r['tcp.flags.syn']) && !set(r['tcp.flags.ack']))).toHaveLength(want.tcpSyn);
    expect(rows.filter((r) => set(r['tcp.flags.reset']))).toHaveLength(want.tcpRst);
    expect(out.filter((r) => r['icmp.type'] === '8')).toHaveLength(send.icmpEcho);
    expect(back.filter((r) => r['icmp.type'] === '0')).toHaveLength(send.icmpEcho);
    expect(sum(out)).toBe(want.bytesOut);
    expect(sum(back)).toBe(want.bytesIn);
  });

  it('destroy() leaves no namespace or link behind, and may run twice', async () => {
    const net = await makeGuestNet();
    const names = async () => {
      const ns = (await exec('ip', ['netns', 'list'])).stdout;
      const links = (await exec('ip', ['-o', 'link', 'show'])).stdout;
      return [net.guestNs, net.peerNs].filter((n) => ns.includes(n)).concat([net.tap, net.bridge, net.tap.replace(/-vg$/, '-vp')].filter((n) => links.includes(n)));
    };
    expect(await names()).toHaveLength(5);
    await net.destroy();
    expect(await names()).toEqual([]);
    await net.destroy();
  });
});
