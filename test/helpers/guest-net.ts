// What the tests send over the lab network of src/lab/guest-net.ts, exactly:
// sendPackets() returns what crossed the guest's bridge port, replies included.
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { GuestNet } from '../../src/lab/guest-net.js';
import { ROOT } from './cli.js';

import { canMakeNetns as canMakeNetnsHere } from '../../src/lab/guest-net.js';
import { available } from './programs.js';

export { createGuestNet, type ExecOpts, type GuestNet } from '../../src/lab/guest-net.js';

/** Whether the test network can be made here (root and ip); under CI not being able to throws (see programs.ts). */
export const canMakeNetns = (): boolean => available(canMakeNetnsHere(), 'network namespaces cannot be made here (they need root and `ip` from iproute2)');

const SCRIPT = path.join(ROOT, 'test', 'fixtures', 'net', 'send-packets.py');

/** What sendPackets() put on the tap's wire, as a capture there must count it. */
export interface Expected {
  /** Packets from the guest. */
  out: number;
  /** Packets to the guest (the peer's replies). */
  in: number;
  tcp: number;
  udp: number;
  icmp: number;
  /** SYN without ACK. */
  tcpSyn: number;
  tcpRst: number;
  /** Ethernet frame bytes without FCS (frame.len), each direction. */
  bytesOut: number;
  bytesIn: number;
}

/**
 * Sends from the guest to the peer: `tcpSyn` SYNs to a closed port (one RST/ACK
 * back each), `udp` empty datagrams to a port a listener in the peer holds for
 * the while (nothing back), `icmpEcho` echo requests (one reply each), `gapMs`
 * apart. Resolves once every packet and reply has crossed the tap; rejects if
 * one is missing.
 */
export async function sendPackets(
  net: GuestNet,
  counts: { tcpSyn?: number; udp?: number; icmpEcho?: number; gapMs?: number },
): Promise<Expected> {
  const { tcpSyn = 0, udp = 0, icmpEcho = 0, gapMs = 1 } = counts;
  const listener = udp > 0 ? await listen(net.peerNs, udp) : undefined;
  let report: { sent: number[]; replies: number[]; rst: number; echo: number };
  try {
    const argv = ['python3', SCRIPT, 'send', net.guestIp, net.peerIp, String(tcpSyn), String(udp), String(icmpEcho), String(gapMs)];
    report = JSON.parse((await net.exec(net.guestNs, argv)).stdout);
  } catch (err) {
    listener?.stop();
    throw err;
  }
  // The listener exits after its last datagram, which then has crossed the tap.
  const got = await listener?.done;
  if (listener && got !== udp) throw new Error(`the peer received ${got} of ${udp} UDP datagrams`);
  // Frame length = 14 + IP total length. veth does not pad to the 60-byte
  // Ethernet minimum: measured, tcpdump on a veth reports 42 bytes for an empty UDP datagram.
  const frames = (ipLens: number[]) => ipLens.reduce((s, l) => s + 14 + l, 0);
  return {
    out: tcpSyn + udp + icmpEcho,
    in: report.rst + report.echo,
    tcp: tcpSyn + report.rst,
    udp,
    icmp: icmpEcho + report.echo,
    tcpSyn,
    tcpRst: report.rst,
    bytesOut: frames(report.sent),
    bytesIn: frames(report.replies),
  };
}

/** The peer's UDP listener, once bound; `done` resolves to the datagrams it received. */
async function listen(ns: string, count: number): Promise<{ done: Promise<number>; stop: () => void }> {
  const child = spawn('ip', ['netns', 'exec', ns, 'python3', SCRIPT, 'listen', String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  const exited = new Promise<number>((resolve) => child.once('close', () => resolve(Number(out.trim().split('\n').at(-1)))));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: string) => {
      out += d;
      if (out.startsWith('ready\n')) resolve();
    });
    void exited.then(() => reject(new Error(`UDP listener in ${ns} ended before it was ready: ${out}`)));
  });
  // Closing stdin ends the listener, which then reports what it got. It
  // normally ends by itself; the timer only bounds a lost datagram.
  const stop = () => child.stdin.end();
  const timer = setTimeout(stop, 5000);
  return { done: exited.finally(() => clearTimeout(timer)), stop };
}
