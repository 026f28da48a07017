// tcpdump 4.99's own words (recorded from it on SIGUSR1 and at exit): drops
// must be read from both forms, or a capture could lose packets unseen.
import { describe, expect, it } from 'vitest';
import { TcpdumpStatsReader } from '../../../src/collectors/pcap/tcpdump-stats.js';

describe('TcpdumpStatsReader', () => {
  it('reads the one-line SIGUSR1 form, with and without the interface count', () => {
    const r = new TcpdumpStatsReader();
    expect(r.line('tcpdump: 58 packets captured, 60 packets received by filter, 2 packets dropped by kernel')).toBe(true);
    expect(r.line('tcpdump: 1 packet captured, 1 packet received by filter, 0 packets dropped by kernel, 3 packets dropped by interface')).toBe(true);
    expect(r.take()).toEqual([
      { captured: 58, received: 60, kernelDrops: 2, ifDrops: 0, atExit: false },
      { captured: 1, received: 1, kernelDrops: 0, ifDrops: 3, atExit: false },
    ]);
  });

  it('reads the multi-line form tcpdump prints at exit, complete at the end of stderr', () => {
    const r = new TcpdumpStatsReader();
    for (const l of ['56 packets captured', '57 packets received by filter', '1 packet dropped by kernel', '4 packets dropped by interface']) r.line(l);
    expect(r.take()).toEqual([]);
    r.end();
    expect(r.take()).toEqual([{ captured: 56, received: 57, kernelDrops: 1, ifDrops: 4, atExit: true }]);
  });

  it('ignores other lines and does not invent a set from a partial one', () => {
    const r = new TcpdumpStatsReader();
    expect(r.line('tcpdump: listening on tap0, link-type EN10MB (Ethernet), snapshot length 262144 bytes')).toBe(false);
    r.line('5 packets captured');
    r.end();
    expect(r.take()).toEqual([]);
  });
});
