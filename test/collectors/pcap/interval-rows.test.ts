// The pcap interval rows, apart from tcpdump: an interval tcpdump did not
// run in must read null with the reason (never 0 packets), counts must be
// tcpdump's own once it gave them (summed over runs), and a run killed
// before its final statistics must mark the drops as a lower bound.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EpisodeClock, monoNowNs } from '../../../src/clock/origin.js';
import { IntervalRows } from '../../../src/collectors/pcap/interval-rows.js';
import { JsonlWriter } from '../../../src/rows/jsonl-writer.js';
import { readJsonl, tmpDir } from '../../helpers/tmp.js';

describe('IntervalRows', () => {
  it('null with reasons while tcpdump is not running; then the packets counted, its statistics summed, drops a lower bound after a kill', () => {
    const file = path.join(tmpDir(), 'telemetry-pcap.jsonl');
    const writer = new JsonlWriter(file, { availableInDeployment: true });
    const clock = new EpisodeClock(monoNowNs());
    let run = -1;
    const rows = new IntervalRows({ config: { keep_pcap: false, iface: 'lo' }, writer, clock, run: () => run, live: () => null, savedBytes: () => null });
    rows.tick(); // before any run
    run = 0;
    rows.runStarted(clock.now());
    rows.counted({ records: Buffer.alloc(0), packets: 3, wireBytes: 180 });
    rows.stats({ captured: 3, received: 4, kernelDrops: 1, ifDrops: 0, atExit: false }); // not asked for: no row
    rows.runEnded(true, false); // killed: no final statistics
    run = 1;
    rows.runStarted(clock.now());
    rows.counted({ records: Buffer.alloc(0), packets: 2, wireBytes: 120 });
    rows.stats({ captured: 2, received: 2, kernelDrops: 0, ifDrops: 5, atExit: true });
    rows.runEnded(true, true);
    rows.last();
    rows.close();
    writer.close();
    const written = readJsonl(file);
    expect(written).toHaveLength(2);
    const [idle, last] = written;
    expect(idle).toMatchObject({
      run: 0,
      tcpdump_running: false,
      pkts: null,
      bytes: null,
      pkts_total: 0,
      filter_received: null,
      saved_bytes: null,
      null_reasons: { pkts: 'tcpdump was not running in this interval', filter_received: 'tcpdump was not running', saved_bytes: 'keep_pcap is false' },
    });
    expect(last).toMatchObject({ run: 1, tcpdump_running: false, pkts: 5, bytes: 300, pkts_total: 5, filter_received: 6, kernel_drops: 1, if_drops: 5, drops_lower_bound: true });
    expect(last!.null_reasons).toEqual({ saved_bytes: 'keep_pcap is false' });
    expect({ valueRows: rows.valueRows, pktsTotal: rows.pktsTotal }).toEqual({ valueRows: 1, pktsTotal: 5 });
  });
});

describe('IntervalRows: the interface read through kept descriptors, the queue capacity kept between rows', () => {
  it("on lo: each row reads lo's counters and ifindex, the descriptors of /proc/self/net/dev and dev_snmp6/lo are kept across rows and closed by close()", () => {
    const file = path.join(tmpDir(), 'telemetry-pcap.jsonl');
    const writer = new JsonlWriter(file, { availableInDeployment: true });
    const clock = new EpisodeClock(monoNowNs());
    const rows = new IntervalRows({ config: { keep_pcap: false, iface: 'lo' }, writer, clock, run: () => 0, live: () => null, savedBytes: () => null });
    const kept = () => fs.readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return /^\/proc\/\d+\/net\/(dev|dev_snmp6\/lo)( \(deleted\))?$/.test(fs.readlinkSync(`/proc/self/fd/${fd}`));
      } catch {
        return false;
      }
    }).length;
    // (A descriptor of /proc/<pid>/net/... reads " (deleted)" once the name was looked up again: procfs looks these up anew each time.)
    const before = kept();
    for (let i = 0; i < 3; i++) rows.tick();
    expect(kept() - before).toBe(2);
    rows.close();
    expect(kept()).toBe(before);
    writer.close();
    const written = readJsonl(file);
    expect(written).toHaveLength(3);
    const queues = fs.readdirSync('/sys/class/net/lo/queues').filter((q) => q.startsWith('tx-')).length;
    const len = Number(fs.readFileSync('/sys/class/net/lo/tx_queue_len', 'utf8'));
    for (const r of written) expect(r).toMatchObject({ if_ifindex: 1, if_tx_queue_frames: len * queues, if_rx_packets: expect.any(Number) });
  });

  it('asks for the queue capacity once while the ifindex stays, again when it changes (a clock of its own: no timing)', () => {
    const file = path.join(tmpDir(), 'telemetry-pcap.jsonl');
    const writer = new JsonlWriter(file, { availableInDeployment: true });
    let t = 1e9;
    const clock = { now: () => t } as unknown as EpisodeClock;
    let ifindex = 7;
    const asked: number[] = [];
    const values = Object.fromEntries(['rx_packets', 'tx_packets', 'rx_bytes', 'tx_bytes', 'rx_dropped', 'tx_dropped', 'rx_errors', 'tx_errors'].map((k) => [k, 0])) as never;
    const rows = new IntervalRows({
      config: { keep_pcap: false, iface: 'tap0' },
      writer,
      clock,
      run: () => 0,
      live: () => null,
      savedBytes: () => null,
      readIface: () => ({ ifindex, values, reasons: {} }),
      readQueue: (i) => (asked.push(i), i * 100),
    });
    for (let i = 0; i < 5; i++, t += 1e9) rows.tick();
    ifindex = 8;
    rows.tick();
    rows.close();
    writer.close();
    expect(asked).toEqual([7, 8]);
    expect(readJsonl(file).map((r) => r.if_tx_queue_frames)).toEqual([700, 700, 700, 700, 700, 800]);
  });
});
