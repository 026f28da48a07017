// labtel report's pcap panel, read back from the page in chromium: the
// interface's own drops and errors per interval beside the capture's, each a
// difference of two consecutive rows, and never across a tcpdump restart, an
// interface created again (a new ifindex: its counters started over), a null
// or lost rows.
import { afterAll, describe, expect, it } from 'vitest';
import { closeBrowser, hasChromium, openReport } from './open-report.js';
import { CraftedEpisode } from './crafted-episode.js';

afterAll(closeBrowser);

const round = (n: number) => Math.round(n * 1e6) / 1e6;

interface At { run?: number; ifindex?: number | null; txDropped?: number; rxDropped?: number; kernel?: number; ifDrops?: number }

function interval(ep: CraftedEpisode, t: number, a: At): void {
  const read = a.ifindex !== null;
  const c = (v: number) => (read ? v : null);
  ep.row('pcap', 'pcap', t, {
    run: a.run ?? 0, interval_s: 0.2, tcpdump_running: true, pkts: 10, bytes: 1000, pkts_total: 10, filter_received: 10, kernel_drops: a.kernel ?? 0, if_drops: a.ifDrops ?? 0,
    drops_lower_bound: false, saved_bytes: null, if_ifindex: read ? (a.ifindex ?? 5) : null, if_tx_queue_frames: read ? 1000 : null, if_rx_packets: c(1000), if_tx_packets: c(1000), if_rx_bytes: c(9e4), if_tx_bytes: c(9e4),
    if_rx_dropped: c(a.rxDropped ?? 0), if_tx_dropped: c(a.txDropped ?? 0), if_rx_errors: c(0), if_tx_errors: c(0),
    null_reasons: read ? { saved_bytes: 'keep_pcap is false' } : { saved_bytes: 'keep_pcap is false', if_ifindex: 'interface tap0 does not exist (gone)', if_tx_queue_frames: 'interface tap0 does not exist (gone)' },
  });
}

describe.skipIf(!hasChromium())('labtel report: interface drops beside capture drops', () => {
  it('per-interval differences, with gaps and markers at a restart, a re-created interface and counters not read', { timeout: 60_000 }, async () => {
    // Regression guard for: differencing across a restart or a re-created interface draws a huge negative (or invented) burst of drops.
    const ep = new CraftedEpisode({ pcap: { iface: 'tap0', interval_ms: 200, keep_pcap: false } });
    const event = (t: number, event: string, run: number) => ep.row('pcap', 'pcap', t, { event, run, at_ns: Math.round(t * 1e9), stream_offset: 0, message: event === 'capture_ended' ? 'tcpdump killed by SIGKILL' : null });
    event(0.9, 'capture_started', 0);
    interval(ep, 1.0, { txDropped: 100 });
    interval(ep, 1.2, { txDropped: 100 });
    interval(ep, 1.4, { txDropped: 130, kernel: 7 });
    interval(ep, 1.6, { txDropped: 131, kernel: 7, ifDrops: 2 });
    event(1.7, 'capture_ended', 0);
    event(1.75, 'capture_started', 1);
    interval(ep, round(1.8), { run: 1, txDropped: 140, kernel: 9, ifDrops: 2 }); // another run: no difference to the run before
    interval(ep, 2.0, { run: 1, txDropped: 150, kernel: 9, ifDrops: 2 });
    interval(ep, 2.2, { run: 1, ifindex: 8, txDropped: 3, kernel: 10, ifDrops: 2 }); // the tap created again: counters from 0
    interval(ep, 2.4, { run: 1, ifindex: 8, txDropped: 5, rxDropped: 1, kernel: 10, ifDrops: 2 });
    interval(ep, 2.6, { run: 1, ifindex: null, kernel: 10, ifDrops: 2 }); // gone
    interval(ep, 2.8, { run: 1, ifindex: 8, txDropped: 6, kernel: 11, ifDrops: 2 }); // back: no difference to before the null
    interval(ep, 3.0, { run: 1, ifindex: 8, txDropped: 9, kernel: 11, ifDrops: 2 });
    const r = await openReport(ep.write());
    expect(r.errors).toEqual([]);
    const p = r.panel('pcap-drops');
    expect(p.labels).toEqual(['interface rx dropped', 'interface tx dropped', 'interface rx errors', 'interface tx errors', 'capture: kernel drops', 'capture: if_drops (tcpdump)']);
    const points = (label: string) => r.series('pcap-drops', label).filter(([t]) => [1, 1.2, 1.4, 1.6, 1.8, 2, 2.2, 2.4, 2.6, 2.8, 3].some((x) => Math.abs(t - x) < 1e-6)).map(([, v]) => v);
    expect(points('interface tx dropped')).toEqual([null, 0, 30, 1, null, 10, null, 2, null, null, 3]);
    expect(points('interface rx dropped')).toEqual([null, 0, 0, 0, null, 0, null, 1, null, null, 0]);
    expect(points('capture: kernel drops')).toEqual([null, 0, 7, 0, null, 0, 1, 0, 0, 1, 0]);
    expect(points('capture: if_drops (tcpdump)')).toEqual([null, 0, 0, 2, null, 0, 0, 0, 0, 0, 0]);
    expect(p.markers.filter((m) => m.kind === 'break').map((m) => [m.t, m.label])).toEqual([
      [1.8, 'pcap: tcpdump restarted (run 1)'],
      [2.2, 'pcap: the interface changed (ifindex 5→8: re-created or another interface under this name): counters not compared across'],
      [2.6, 'pcap: interface counters not read (interface tap0 does not exist (gone))'],
    ]);
    expect(p.notes.join('\n')).toContain('interface changes 1');
  });
});
