// A guest that forges a lossy capture: a real tap, held by a python3
// stand-in for QEMU that writes what its guest would send, 14-byte frames
// with ethertype 0x8100 and no tag. The tap counts each in rx_packets; the
// kernel drops each in skb_vlan_untag before any packet socket, so tcpdump
// never sees them. verify's cross-check must not call that a lossy capture.
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

const FRAMES = 3000;
// Holding the tap (test/helpers/tap-holder.ts), on each "go" line writes the frames, then says "done"; ends when stdin closes.
const QEMU = `f = b'\\xff' * 6 + b'\\x02\\x00\\x00\\x00\\x00\\x05' + b'\\x81\\x00'
for line in sys.stdin:
    for i in range(int(sys.argv[2])):
        os.write(fd, f)
        if i % 500 == 499: time.sleep(0.05)
    print('done', flush=True)
`;

const intervals = pcapIntervals;

describe.skipIf(!canMakeNetns() || !has('tcpdump') || !has('python3'))('a guest forging received frames on its tap', () => {
  it("3,000 frames the tap counts in rx and no capture can see: verify keeps pcap ok (its check is on tx)", { timeout: 60_000 }, async () => {
    // Regression for: the cross-check took rx+tx, so these frames made the capture "miss 99%" (degraded) though it missed nothing.
    const tap = `lt${crypto.randomBytes(3).toString('hex')}`;
    const qemu = await holdTap(tap, QEMU, [String(FRAMES)]);
    const said = qemu.said;
    try {
      fs.writeFileSync(`/proc/sys/net/ipv6/conf/${tap}/disable_ipv6`, '1'); // as sysctl -w does (procps is not on .ci/run's line)
      execFileSync('ip', ['link', 'set', tap, 'up']);
      const dir = path.join(tmpDir(), 'ep');
      const stop = new AbortController();
      const manifest = parseManifest({ output_dir: dir, target: { pid: process.pid }, collectors: { pcap: { iface: tap, interval_ms: 200 } } });
      const done = runEpisode({ manifest, stop: stop.signal });
      await waitFor(() => intervals(dir).filter((r) => r.tcpdump_running === true && typeof r.if_ifindex === 'number').length >= 2, 'two rows with tcpdump capturing');
      qemu.proc.stdin!.write('go\n');
      await waitFor(() => said.includes('done'), 'the frames written');
      const n = intervals(dir).length;
      await waitFor(() => intervals(dir).length >= n + 3, 'three rows after the frames'); // tcpdump's late hand-over and the counters read after
      stop.abort();
      await done;
      const rows = intervals(dir);
      const read = rows.filter((r) => typeof r.if_rx_packets === 'number');
      expect(read.length).toBeGreaterThan(1);
      // The attack landed: the tap received every frame, the capture delivered (almost) none of them.
      expect((read.at(-1)!.if_rx_packets as number) - (read[0]!.if_rx_packets as number)).toBeGreaterThanOrEqual(FRAMES);
      expect(rows.reduce((s, r) => s + ((r.pkts as number | null) ?? 0), 0)).toBeLessThan(FRAMES / 10);
      expect(verifyEpisode(dir).collectors.pcap).toMatchObject({ verdict: 'ok', reasons: [] });
    } finally {
      qemu.stop();
    }
  });
});
