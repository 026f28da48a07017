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
//   100 packets plus, for each stretch, the frames the interface's transmit
//   queues can hold (if_tx_queue_frames), and capture bytes < 90% of
//   if_tx_bytes.
// Why the queues: a tap counts tx when QEMU (or vhost) reads a frame from
// its ring, not when the frame passed the capture's tap; a paused guest
// (QMP stop, gdb, its NIC down) leaves up to tx_queue_len frames per queue
// there, counted in tx when it resumes, in a later stretch than the one in
// which the capture saw them. A stretch whose queue capacity is not known
// (sysfs not provably the agent's namespace) is not cross-checked: a queued
// backlog could not be told from a loss. A bridge's tx_queue_len is 0: 0
// frames can be queued there.
// A row's capacity is the last read of it, at most 10 s old (iface-queue.ts):
// a stretch takes the largest its rows carry, so a txqueuelen raised live
// counts once a row read it.
// Within one tcpdump run, an ifindex change ends the check for the rest of
// the run: tcpdump stays bound to the interface it opened (another
// interface renamed to the captured name is not what it captures), so the
// rows' counters after the change are another interface's.
// What the rule cannot see: pkts counts both directions and is compared
// with tx only, so a loss spread evenly over all packets is hidden as long
// as the capture still delivers 90% of tx's count: up to
// 1 - 0.9 x tx/(rx+tx) of all packets (55% with rx = tx); tcpdump's
// kernel_drops counts its buffer's overflow, the usual cause of such a loss.
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
//   count into the stretch, at most twice what the capture delivered in the
//   stretch's last 1.1 s of rows (its whole length if shorter) plus 100, so
//   a late row (its interface not read: nothing to check its pkts against)
//   cannot hide a shortfall with a burst of its own; over 1.1 s, not the
//   last interval alone, because tcpdump hands packets over in lumps up to
//   1 s apart, so a short interval may hold none;
//   and the 100 packets and the 10% leave room for
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

/** Late deliveries come up to this long after capture (tcpdump's 1 s buffer timeout, and its 1.1 s at the stop). */
export const LATE_S = 1.1;
/** The stretch's last rows kept for the late allowance: bounded whatever interval_s the rows say. */
const MAX_WINDOW = 4096;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

interface Point {
  run: unknown;
  ifindex: number;
  pkts: number;
  bytes: number;
  /** The interface's tx packets and bytes at the row (rx only for the sentence and the late allowance). */
  ifPkts: number;
  ifBytes: number;
  rxPkts: number;
  /** Frames the interface's transmit queues can hold (if_tx_queue_frames). */
  queue: number;
  /** The row's interval_s (0 when not a number). */
  secs: number;
}

/** A row's figures, or null when it cannot be part of a stretch (a number missing or not one). */
function pointOf(r: Row): Point | null {
  const ifindex = num(r.if_ifindex);
  const rx = num(r.if_rx_packets);
  const tx = num(r.if_tx_packets);
  const txb = num(r.if_tx_bytes);
  const pkts = num(r.pkts);
  const bytes = num(r.bytes);
  const queue = num(r.if_tx_queue_frames);
  if (ifindex === null || rx === null || tx === null || txb === null || pkts === null || bytes === null || queue === null) return null;
  const secs = typeof r.interval_s === 'number' && Number.isFinite(r.interval_s) && r.interval_s > 0 ? r.interval_s : 0;
  return { run: r.run, ifindex, pkts, bytes, ifPkts: tx, ifBytes: txb, rxPkts: rx, queue, secs };
}

/** A row's capture counts alone (its interface counters may be null: the interface gone, a restart). */
function lateOf(r: Row): { pkts: number; bytes: number } | null {
  const pkts = num(r.pkts);
  const bytes = num(r.bytes);
  return pkts === null || bytes === null ? null : { pkts, bytes };
}

/** Up to 8 values, in order of first appearance, for the sentence. */
const list = (xs: unknown[]) => xs.slice(0, 8).join(', ') + (xs.length > 8 ? ', ...' : '');

/** The cross-check, for verify (VerifyRules.fold). `filter`: the pcap config's; `iface`: its name, for the sentence. */
export function captureVsIface(iface: string, filter: unknown): RowFold {
  const sum = { cap: 0, capBytes: 0, ifPkts: 0, ifBytes: 0, rxPkts: 0, stretches: 0, queue: 0 };
  const runs: unknown[] = [];
  const ifindexes: number[] = [];
  let first: Point | null = null;
  let prev: Point | null = null;
  let cap = 0;
  let capBytes = 0;
  let queue = 0;
  /** The stretch's last rows covering LATE_S (the oldest at or before it), with the capture's pkts delivered up to each. */
  let window: { at: number; delivered: number }[] = [];
  let at = 0;
  /** The stretch's end when it is a row without tcpdump running: kept only if no interval row follows it. */
  let closing: Point | null = null;
  /** The ifindex each tcpdump run first read (bounded: the last few runs); a run whose ifindex changed is not checked again. */
  const runIfindex = new Map<unknown, number>();
  const changed = new Set<unknown>();
  let rows = 0;
  let delivered = 0;
  let ifRead = 0;

  const remember = (x: unknown[], v: unknown) => {
    if (!x.includes(v) && x.length < 9) x.push(v);
  };
  /** What the row after the stretch adds: its pkts, at most twice what the capture delivered in the stretch's last LATE_S, plus the slack. */
  const lateCap = (pkts: number, bytes: number): [number, number] => {
    const oldest = window[0];
    const bound = 2 * (oldest ? cap - oldest.delivered : 0) + MIN_SHORTFALL;
    return pkts <= bound ? [pkts, bytes] : [bound, Math.floor((bytes * bound) / pkts)];
  };
  const close = (last: Point | null, latePkts: number, lateBytes: number) => {
    if (first && last && last !== first) {
      const [lp, lb] = latePkts > 0 ? lateCap(latePkts, lateBytes) : [0, 0];
      sum.cap += cap + lp;
      sum.capBytes += capBytes + lb;
      sum.ifPkts += last.ifPkts - first.ifPkts;
      sum.ifBytes += last.ifBytes - first.ifBytes;
      sum.rxPkts += last.rxPkts - first.rxPkts;
      sum.queue += queue;
      sum.stretches++;
      remember(runs, first.run);
      remember(ifindexes, first.ifindex);
    }
    first = prev = null;
    cap = capBytes = queue = 0;
    window = [];
  };
  const push = (p: Point) => {
    at += p.secs;
    window.push({ at, delivered: cap });
    while (window.length > MAX_WINDOW || (window.length >= 2 && window[1]!.at <= at - LATE_S)) window.shift();
    queue = Math.max(queue, p.queue);
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
      // tcpdump stays on the interface it opened: once the name reads another ifindex within a run, the rows are another interface's.
      const idx = num(r.if_ifindex);
      if (idx !== null) {
        const seen = runIfindex.get(r.run);
        if (seen === undefined) {
          if (runIfindex.size >= 64) runIfindex.delete(runIfindex.keys().next().value);
          runIfindex.set(r.run, idx);
        } else if (seen !== idx) changed.add(r.run);
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
        push(p);
      } else {
        // The row after a stretch's last: what it delivered of the same tcpdump run came up to ~1 s late, some of it from the stretch.
        const late = prev && r.run === prev.run ? lateOf(r) : null;
        close(prev, late?.pkts ?? 0, late?.bytes ?? 0);
        if (p && running && !changed.has(p.run)) {
          first = prev = p;
          at = 0;
          push(p);
        }
      }
    },
    finish() {
      if (closing) {
        const c: Point = closing;
        closing = null;
        // The episode's last row: its own interval's pkts with its own counters, not late ones.
        cap += c.pkts;
        capBytes += c.bytes;
        push(c);
        close(c, 0, 0);
      } else close(prev, 0, 0);
      const failed: string[] = [];
      const degraded: string[] = [];
      // The interface's counters are measurements too: rows that measured only those never captured anything.
      if (rows > 0 && delivered === 0 && ifRead > 0) {
        failed.push(`${rows} interval rows, but pkts and bytes were null in every one: tcpdump never delivered a counted interval (the interface's own counters were read: they are not the capture)`);
      }
      if (filter !== undefined && filter !== null) return { failed, degraded };
      const missed = sum.ifPkts - sum.cap;
      const margin = MIN_SHORTFALL + sum.queue;
      if (sum.ifPkts > 0 && sum.cap < CAPTURE_SHARE * sum.ifPkts && missed > margin && sum.capBytes < CAPTURE_SHARE * sum.ifBytes) {
        const n = sum.stretches;
        degraded.push(
          `pcap saw ${fmt(sum.cap)} packets while ${iface} transmitted ${fmt(sum.ifPkts)} (tx; it received ${fmt(sum.rxPkts)}) between its first and last rows: every transmitted frame passed the capture's tap, so it missed at least ${fmt(missed)} packets (${Math.floor((100 * missed) / sum.ifPkts)}% of tx; ${fmt(sum.capBytes)} of ${fmt(sum.ifBytes)} tx bytes; over ${n} ${n === 1 ? 'stretch' : 'stretches'} of tcpdump ${runs.length === 1 ? 'run' : 'runs'} ${list(runs)} on ifindex ${list(ifindexes)}; more than the ${fmt(margin)} allowed: 100 + ${fmt(sum.queue)} frames its tx queues can hold)`,
        );
      }
      return { failed, degraded };
    },
  };
}
