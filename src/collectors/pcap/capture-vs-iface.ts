// verify's cross-check of the capture against its interface, over the pcap
// interval rows in file order (bounded memory: a few numbers). Both counts
// are taken over the same stretches: each is a run of consecutive interval
// rows of one tcpdump run on one ifindex, tcpdump running at each row, the
// interface's counters read at each and never going back. Over a stretch,
// the interface transmitted (last - first) of if_tx_packets, and the capture
// delivered the pkts of every row after the first (a row's pkts are those of
// the interval that ends at it). Summed over the stretches, the episode is
// degraded when the capture is far below what the interface transmitted:
//   capture packets < 90% of if_tx_packets, and the shortfall more than
//   100 packets, and capture bytes < 90% of if_tx_bytes.
// Why the transmit side only: every frame an interface transmits passed the
// packet taps (dev_queue_xmit_nit) before its driver counted it, so a
// capture that delivered fewer packets than the interface transmitted
// certainly missed some. The receive side proves nothing: on a tap the
// guest writes what rx counts, and the kernel can drop a frame after
// counting it and before any packet socket (a 14-byte frame with ethertype
// 0x8100 and no tag dies in skb_vlan_untag; a bridge's input firewall drops
// after the bridge counted the frame), so a guest could make a whole capture
// look lossy. The cost: a loss confined to received packets is not seen here
// (tcpdump's own kernel_drops counts what its buffer could not take).
// Why each condition, against false alarms:
// - tcpdump hands packets over up to 1 s after capture, so the counts of a
//   stretch differ by what crossed near its edges: the capture's pkts of the
//   row right after a stretch (of the same tcpdump run: its late deliveries)
//   count into the stretch, and the 100 packets and the 10% leave room for
//   the rest in short or quiet episodes;
// - the bytes: with TSO/GSO the capture sees a super-frame before it is
//   segmented, and a driver may count the segments: the capture sees fewer
//   packets but nearly the same bytes (one header per segment less), so
//   packets alone would cry wolf; a capture that really missed packets
//   misses their bytes too;
// - a capture that sees MORE than the counters is never degraded: it sees
//   what the interface received too, and on a Linux bridge the bridge device
//   counts only frames to and from the host;
// - with a BPF `filter`, the capture sees only what it matches: the cross-
//   check is not made (the pcap README says so).
// The row the episode's stop writes comes after tcpdump ended (it is not
// running there), yet counts what tcpdump delivered up to its end: it closes
// a stretch when it is the last interval row. Any other row without tcpdump
// running ends the stretch at the row before it.
import type { RowFold } from '../collector-spec.js';

type Row = Record<string, unknown>;

/** The capture is degraded below this share of the interface's packets (and bytes)... */
export const CAPTURE_SHARE = 0.9;
/** ...and when it missed more than this many packets. */
export const MIN_SHORTFALL = 100;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

interface Point {
  run: unknown;
  ifindex: number;
  pkts: number;
  bytes: number;
  /** The interface's tx packets and bytes at the row (rx only for the sentence). */
  ifPkts: number;
  ifBytes: number;
  rxPkts: number;
}

/** A row's figures, or null when it cannot be part of a stretch (a number missing or not one). */
function pointOf(r: Row): Point | null {
  const ifindex = num(r.if_ifindex);
  const rx = num(r.if_rx_packets);
  const tx = num(r.if_tx_packets);
  const txb = num(r.if_tx_bytes);
  const pkts = num(r.pkts);
  const bytes = num(r.bytes);
  if (ifindex === null || rx === null || tx === null || txb === null || pkts === null || bytes === null) return null;
  return { run: r.run, ifindex, pkts, bytes, ifPkts: tx, ifBytes: txb, rxPkts: rx };
}

/** A row's capture counts alone (its interface counters may be null: the interface gone, a restart). */
function lateOf(r: Row): { pkts: number; bytes: number } | null {
  const pkts = num(r.pkts);
  const bytes = num(r.bytes);
  return pkts === null || bytes === null ? null : { pkts, bytes };
}

/** The cross-check, for verify (VerifyRules.fold). `filter`: the pcap config's; `iface`: its name, for the sentence. */
export function captureVsIface(iface: string, filter: unknown): RowFold {
  const sum = { cap: 0, capBytes: 0, ifPkts: 0, ifBytes: 0, rxPkts: 0, stretches: 0 };
  let first: Point | null = null;
  let prev: Point | null = null;
  let cap = 0;
  let capBytes = 0;
  /** The stretch's end when it is a row without tcpdump running: kept only if no interval row follows it. */
  let closing: Point | null = null;
  let rows = 0;
  let delivered = 0;
  let ifRead = 0;

  const close = (last: Point | null, lastPkts: number, lastBytes: number) => {
    if (first && last && last !== first) {
      sum.cap += cap + lastPkts;
      sum.capBytes += capBytes + lastBytes;
      sum.ifPkts += last.ifPkts - first.ifPkts;
      sum.ifBytes += last.ifBytes - first.ifBytes;
      sum.rxPkts += last.rxPkts - first.rxPkts;
      sum.stretches++;
    }
    first = prev = null;
    cap = capBytes = 0;
  };

  return {
    row(r) {
      rows++;
      if (typeof r.pkts === 'number') delivered++;
      if (typeof r.if_rx_packets === 'number') ifRead++;
      if (closing) {
        // Not the last row: the stretch ended at the row before the closing one, whose pkts are the run's late deliveries.
        const c: Point = closing;
        closing = null;
        close(prev, c.pkts, c.bytes);
      }
      const p = pointOf(r);
      const running = r.tcpdump_running === true;
      const goesOn = p && prev && first && p.run === prev.run && p.ifindex === prev.ifindex && p.ifPkts >= prev.ifPkts && p.ifBytes >= prev.ifBytes && p.rxPkts >= prev.rxPkts;
      if (goesOn && !running) {
        closing = p;
      } else if (goesOn) {
        cap += p.pkts;
        capBytes += p.bytes;
        prev = p;
      } else {
        // The row after a stretch's last: what it delivered of the same tcpdump run came up to ~1 s late, some of it from the stretch.
        const late = prev && r.run === prev.run ? lateOf(r) : null;
        close(prev, late?.pkts ?? 0, late?.bytes ?? 0);
        if (p && running) first = prev = p;
      }
    },
    finish() {
      if (closing) {
        const c: Point = closing;
        closing = null;
        close(c, c.pkts, c.bytes);
      } else close(prev, 0, 0);
      const failed: string[] = [];
      const degraded: string[] = [];
      // The interface's counters are measurements too: rows that measured only those never captured anything.
      if (rows > 0 && delivered === 0 && ifRead > 0) {
        failed.push(`${rows} interval rows, but pkts and bytes were null in every one: tcpdump never delivered a counted interval (the interface's own counters were read: they are not the capture)`);
      }
      if (filter !== undefined && filter !== null) return { failed, degraded };
      const missed = sum.ifPkts - sum.cap;
      if (sum.ifPkts > 0 && sum.cap < CAPTURE_SHARE * sum.ifPkts && missed > MIN_SHORTFALL && sum.capBytes < CAPTURE_SHARE * sum.ifBytes) {
        degraded.push(
          `pcap saw ${fmt(sum.cap)} packets while ${iface} transmitted ${fmt(sum.ifPkts)} (tx; it received ${fmt(sum.rxPkts)}) between its first and last rows: every transmitted frame passed the capture's tap, so it missed at least ${fmt(missed)} packets (${Math.floor((100 * missed) / sum.ifPkts)}% of tx; ${fmt(sum.capBytes)} of ${fmt(sum.ifBytes)} tx bytes; over ${sum.stretches} ${sum.stretches === 1 ? 'stretch' : 'stretches'} of one tcpdump run on one ifindex)`,
        );
      }
      return { failed, degraded };
    },
  };
}
