// labtel verify's cross-check of a capture against its interface's own
// counters (src/collectors/pcap/capture-vs-iface.ts): a capture that saw far
// fewer packets than the interface passed is degraded with the figures; a
// capture with a BPF filter, one on a bridge (which counts less than it
// forwards), one behind GRO (fewer, larger packets, the same bytes), and the
// time between tcpdump runs or across an interface created again are not
// held against it.
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyEpisode } from '../../src/verify/verify-episode.js';
import { cleanEpisode, copyOf, lastSecond, series, withCollector, type Row } from './crafted-episode.js';

let clean: string;
let T0: number;
beforeAll(async () => {
  clean = await cleanEpisode();
  T0 = lastSecond(clean);
});

const STEP = 50e6; // 20 rows in the last second of the clean episode

interface Step {
  /** What the capture delivered in the interval that ends at the row. */
  pkts: number;
  bytes: number;
  /** What the interface passed in it (rx+tx); its counters are the running sums. */
  ifPkts: number;
  ifBytes: number;
  run?: number;
  running?: boolean;
  ifindex?: number;
  /** The interface's counters start over here (created again). */
  reset?: boolean;
}

/** pcap interval rows from steps: the counters cumulative, as the kernel keeps them, rx taking 60% of each. */
function rows(steps: Step[]): Row[] {
  let total = 0;
  let rx = 1_000_000;
  let tx = 500_000;
  let rxb = 90_000_000;
  let txb = 40_000_000;
  return series('pcap', steps.length, T0, STEP, (i) => {
    const s = steps[i]!;
    if (s.reset) rx = tx = rxb = txb = 0;
    rx += Math.round(s.ifPkts * 0.6);
    tx += s.ifPkts - Math.round(s.ifPkts * 0.6);
    rxb += Math.round(s.ifBytes * 0.6);
    txb += s.ifBytes - Math.round(s.ifBytes * 0.6);
    total += s.pkts;
    return {
      run: s.run ?? 0, interval_s: 0.05, tcpdump_running: s.running ?? true, pkts: s.pkts, bytes: s.bytes, pkts_total: total, filter_received: total,
      kernel_drops: 0, if_drops: 0, drops_lower_bound: false, saved_bytes: null,
      if_ifindex: s.ifindex ?? 7, if_rx_packets: rx, if_tx_packets: tx, if_rx_bytes: rxb, if_tx_bytes: txb, if_rx_dropped: 0, if_tx_dropped: 0, if_rx_errors: 0, if_tx_errors: 0,
      null_reasons: { saved_bytes: 'keep_pcap is false' },
    };
  });
}
const steady = (n: number, s: Step): Step[] => Array.from({ length: n }, () => ({ ...s }));
const pcapOf = (config: object, r: Row[]) => verifyEpisode(withCollector(copyOf(clean), 'pcap', { iface: 'tap0', interval_ms: 50, keep_pcap: false, ...config }, r)).collectors.pcap!;

describe('verify: the capture against its interface', () => {
  it('a capture that saw a tenth of what the interface passed is degraded, with the figures', () => {
    // Regression for: nothing compared the capture with the interface, so a capture that missed most packets verified ok.
    const r = pcapOf({}, rows(steady(20, { pkts: 100, bytes: 10_000, ifPkts: 1000, ifBytes: 100_000 })));
    expect(r).toEqual({
      verdict: 'degraded',
      rows: 20,
      reasons: [
        'pcap saw 1,900 packets while tap0 passed 19,000 (rx+tx) between its first and last rows: the capture missed 90% (190,000 of 1,900,000 bytes; over 1 stretch of one tcpdump run on one ifindex)',
      ],
    });
  });

  it('with a BPF filter the capture sees only what it matches: not cross-checked', () => {
    const r = pcapOf({ filter: 'icmp' }, rows(steady(20, { pkts: 100, bytes: 10_000, ifPkts: 1000, ifBytes: 100_000 })));
    expect(r).toEqual({ verdict: 'ok', rows: 20, reasons: [] });
  });

  it("on a bridge, whose counters count only the host's frames, a capture that sees more than the counters is ok", () => {
    const r = pcapOf({ iface: 'br0' }, rows(steady(20, { pkts: 900, bytes: 90_000, ifPkts: 40, ifBytes: 4_000 })));
    expect(r).toEqual({ verdict: 'ok', rows: 20, reasons: [] });
  });

  it('behind GRO (fewer, larger packets delivered, the same bytes less a header each) the capture is ok', () => {
    const r = pcapOf({}, rows(steady(20, { pkts: 25, bytes: 1_448_000 + 25 * 66, ifPkts: 1000, ifBytes: 1000 * 1514 })));
    expect(r).toEqual({ verdict: 'ok', rows: 20, reasons: [] });
  });

  it('a small shortfall (a capture that hands packets over late) is within the tolerance', () => {
    // 85% of the packets, but only 57 missed: under the 100 packets of slack.
    const r = pcapOf({}, rows(steady(20, { pkts: 17, bytes: 1_700, ifPkts: 20, ifBytes: 2_000 })));
    expect(r).toEqual({ verdict: 'ok', rows: 20, reasons: [] });
  });

  it('what the interface passed while tcpdump was down between runs is not held against the capture', () => {
    // Regression guard for: one stretch from the first row to the last, across the restart: 50,000 packets the capture never could see.
    const steps = [
      ...steady(8, { pkts: 100, bytes: 10_000, ifPkts: 100, ifBytes: 10_000 }),
      { pkts: 0, bytes: 0, ifPkts: 50_000, ifBytes: 5_000_000, running: false },
      ...steady(11, { pkts: 100, bytes: 10_000, ifPkts: 100, ifBytes: 10_000, run: 1 }),
    ];
    expect(pcapOf({}, rows(steps))).toEqual({ verdict: 'ok', rows: 20, reasons: [] });
    // tcpdump died and came back inside one interval: no row without it, but the run changed.
    const quick = [...steady(8, { pkts: 100, bytes: 10_000, ifPkts: 100, ifBytes: 10_000 }), ...steady(12, { pkts: 100, bytes: 10_000, ifPkts: 100, ifBytes: 10_000, run: 1 })];
    quick[8] = { ...quick[8]!, ifPkts: 50_000, ifBytes: 5_000_000 };
    expect(pcapOf({}, rows(quick))).toEqual({ verdict: 'ok', rows: 20, reasons: [] });
  });

  it('an interface deleted and created again (a new ifindex, counters from 0) is never subtracted across: the loss on each side is still seen', () => {
    // Regression guard for: last minus first across the re-creation is ~1.5 million packets less, which would hide the loss.
    const steps = [
      ...steady(10, { pkts: 10, bytes: 1_000, ifPkts: 1000, ifBytes: 100_000 }),
      ...steady(10, { pkts: 10, bytes: 1_000, ifPkts: 1000, ifBytes: 100_000, ifindex: 9 }).map((s, i) => (i === 0 ? { ...s, reset: true } : s)),
    ];
    const r = pcapOf({}, rows(steps));
    expect(r.verdict).toBe('degraded');
    expect(r.reasons).toEqual([
      'pcap saw 180 packets while tap0 passed 18,000 (rx+tx) between its first and last rows: the capture missed 99% (18,000 of 1,800,000 bytes; over 2 stretches of one tcpdump run on one ifindex)',
    ]);
    // Counters that go back under the same ifindex (a driver's 32-bit counters wrapping) end the stretch just the same.
    const wrapped = pcapOf({}, rows(steps.map((x) => ({ ...x, ifindex: 7 }))));
    expect(wrapped.reasons).toEqual(r.reasons);
  });

  it('another interface renamed to the name (a new ifindex, higher counters of its own) is never subtracted across: no false alarm', () => {
    // Regression guard for: last minus first across the change counts the other interface's whole history as passed here.
    const steps = [
      ...steady(10, { pkts: 100, bytes: 10_000, ifPkts: 100, ifBytes: 10_000 }),
      { pkts: 100, bytes: 10_000, ifPkts: 3_000_000, ifBytes: 300_000_000, ifindex: 12 },
      ...steady(9, { pkts: 100, bytes: 10_000, ifPkts: 100, ifBytes: 10_000, ifindex: 12 }),
    ];
    expect(pcapOf({}, rows(steps))).toEqual({ verdict: 'ok', rows: 20, reasons: [] });
  });

  it("the episode's last row, written after tcpdump ended, closes the stretch; a row without tcpdump mid-episode ends it", () => {
    const last = { pkts: 100, bytes: 10_000, ifPkts: 10_000, ifBytes: 1_000_000, running: false };
    const r = pcapOf({}, rows([...steady(19, { pkts: 100, bytes: 10_000, ifPkts: 100, ifBytes: 10_000 }), last]));
    expect(r.reasons).toEqual([
      'pcap saw 1,900 packets while tap0 passed 11,800 (rx+tx) between its first and last rows: the capture missed 83% (190,000 of 1,180,000 bytes; over 1 stretch of one tcpdump run on one ifindex)',
    ]);
  });

  it("rows that read only the interface's counters never captured anything: failed", () => {
    const steps = rows(steady(10, { pkts: 0, bytes: 0, ifPkts: 10, ifBytes: 1_000 })).map((x) => ({
      ...x, tcpdump_running: false, pkts: null, bytes: null, null_reasons: { pkts: 'tcpdump was not running in this interval', bytes: 'tcpdump was not running in this interval' },
    }));
    const r = pcapOf({}, steps);
    expect(r.verdict).toBe('failed');
    expect(r.reasons).toContain("10 interval rows, but pkts and bytes were null in every one: tcpdump never delivered a counted interval (the interface's own counters were read: they are not the capture)");
  });
});
