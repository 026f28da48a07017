// A paused guest: a real tap held by a python3 stand-in for QEMU that does
// not read its frames. The host sends to the guest; the tap queues up to
// tx_queue_len frames in its ring and counts them in tx only when QEMU reads
// them. Here they are queued before the episode (no capture could see them
// there: on a real host the capture of an earlier stretch saw them), and the
// "guest" resumes during it: tx grows by the whole backlog while the capture
// sees none of it. verify must not call that a lossy capture.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { describe, expect, it } from 'vitest';
import { runEpisode } from '../../../src/agent/run-episode.js';
import { parseManifest } from '../../../src/manifest/load.js';
import { verifyEpisode } from '../../../src/verify/verify-episode.js';
import { canMakeNetns } from '../../helpers/netns.js';
import { has } from '../../helpers/programs.js';
import { tmpDir } from '../../helpers/tmp.js';
import { holdTap, pcapIntervals } from '../../helpers/tap-holder.js';
import { waitFor } from '../../helpers/wait.js';

// Holding the tap (test/helpers/tap-holder.ts), on "go" reads everything queued and says "drained N"; ends when stdin closes.
const QEMU = `for line in sys.stdin:
    os.set_blocking(fd, False); n = 0
    while True:
        try: os.read(fd, 65536); n += 1
        except BlockingIOError: break
    print('drained', n, flush=True)
`;
// Sends N UDP datagrams to the "guest" (a static neighbour: no ARP), each a frame the tap queues for QEMU.
const SEND = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[2])): s.sendto(b'x' * 64, (sys.argv[1], 9))
`;

const intervals = pcapIntervals;

describe.skipIf(!canMakeNetns() || !has('tcpdump') || !has('python3'))('a paused guest draining its tap during the episode', () => {
  it("a backlog queued before the capture, counted in tx when the guest reads it: within the queue's capacity, verify keeps pcap ok", { timeout: 60_000 }, async () => {
    // Regression for: tx counts when QEMU reads a frame, so a paused guest's 1,000 queued frames counted during the episode made
    // the capture "miss 99%" (degraded) though it missed nothing (the reviewer's ep-paused).
    const tap = `lt${crypto.randomBytes(3).toString('hex')}`;
    const qemu = await holdTap(tap, QEMU);
    const said = qemu.said;
    try {
      fs.writeFileSync(`/proc/sys/net/ipv6/conf/${tap}/disable_ipv6`, '1'); // as sysctl -w does (procps is not on .ci/run's line)
      execFileSync('ip', ['addr', 'add', '10.251.7.1/24', 'dev', tap]);
      execFileSync('ip', ['link', 'set', tap, 'up']);
      execFileSync('ip', ['neigh', 'replace', '10.251.7.2', 'lladdr', '02:00:00:00:07:02', 'dev', tap, 'nud', 'permanent']);
      const sys = (f: string) => Number(fs.readFileSync(`/sys/class/net/${tap}/${f}`, 'utf8'));
      const queueLen = sys('tx_queue_len');
      const tx0 = Number(fs.readFileSync(`/sys/class/net/${tap}/statistics/tx_packets`, 'utf8'));
      execFileSync('python3', ['-c', SEND, '10.251.7.2', String(queueLen + 200)]); // fills the ring; the rest are dropped
      // Nothing is counted in tx while the guest does not read.
      expect(Number(fs.readFileSync(`/sys/class/net/${tap}/statistics/tx_packets`, 'utf8'))).toBe(tx0);

      const dir = path.join(tmpDir(), 'ep');
      const stop = new AbortController();
      const manifest = parseManifest({ output_dir: dir, target: { pid: process.pid }, collectors: { pcap: { iface: tap, interval_ms: 200 } } });
      const done = runEpisode({ manifest, stop: stop.signal });
      await waitFor(() => intervals(dir).filter((r) => r.tcpdump_running === true && typeof r.if_ifindex === 'number').length >= 2, 'two rows with tcpdump capturing');
      qemu.proc.stdin!.write('go\n');
      await waitFor(() => said.some((l) => l.startsWith('drained')), 'the backlog read');
      const n = intervals(dir).length;
      await waitFor(() => intervals(dir).length >= n + 3, 'three rows after the drain');
      stop.abort();
      await done;
      const rows = intervals(dir);
      const read = rows.filter((r) => typeof r.if_tx_packets === 'number');
      expect(read.length).toBeGreaterThan(1);
      // The backlog landed in tx during the episode, unseen by the capture.
      const drained = Number(said.find((l) => l.startsWith('drained'))!.split(' ')[1]);
      expect(drained).toBe(queueLen);
      expect((read.at(-1)!.if_tx_packets as number) - (read[0]!.if_tx_packets as number)).toBeGreaterThanOrEqual(queueLen);
      expect(rows.reduce((s, r) => s + ((r.pkts as number | null) ?? 0), 0)).toBeLessThan(queueLen / 10);
      // The rows say how much the queue holds: tx_queue_len x 1 queue, read from sysfs (the agent's own namespace here).
      for (const r of read) expect(r.if_tx_queue_frames).toBe(queueLen * fs.readdirSync(`/sys/class/net/${tap}/queues`).filter((q) => q.startsWith('tx-')).length);
      expect(verifyEpisode(dir).collectors.pcap).toMatchObject({ verdict: 'ok', reasons: [] });
    } finally {
      qemu.stop();
    }
  });
});
