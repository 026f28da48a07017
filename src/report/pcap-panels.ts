// pcap: the captured interface's own drops and errors beside the capture's,
// per interval. Every figure is a counter (the interface's since it was
// created, tcpdump's since the episode began), differenced between two
// consecutive interval rows only: never across a tcpdump restart (another
// run), an interface that changed (another ifindex: re-created, or another
// interface under the name), a null, lost rows, or a counter that went back. There the line has
// a gap, and the reason is marked.
import { num, type Row, type PanelSink } from './episode-rows.js';
import { Marks } from './marks.js';
import { Series } from './series.js';
import type { Marker, Panel } from './types.js';

const PANELS = ['pcap-drops'];

/** Each series' label and its row field; the first four are the interface's (if_ifindex must match), the last two the capture's. */
const FIELDS = [
  ['interface rx dropped', 'if_rx_dropped'],
  ['interface tx dropped', 'if_tx_dropped'],
  ['interface rx errors', 'if_rx_errors'],
  ['interface tx errors', 'if_tx_errors'],
  ['capture: kernel drops', 'kernel_drops'],
  ['capture: if_drops (tcpdump)', 'if_drops'],
] as const;
const IFACE_FIELDS = 4;

/** The pcap panel, from the rows of telemetry-pcap.jsonl pushed in file order (its capture event rows pass by). */
export function pcapPanels(): PanelSink<{ panels: Panel[]; markers: Marker[] }> {
  const marks = new Marks('pcap', PANELS);
  const drops = new Series();
  let prev: { seq: number | null; run: unknown; ifindex: number | null; v: Array<number | null> } | null = null;
  let lastSeq: number | null = null;
  let unread = false;

  const push = (r: Row): void => {
    if ('event' in r) {
      lastSeq = num(r.seq) ?? lastSeq; // (events and interval rows share the source's seq)
      return;
    }
    const x = (r.t_mono_ns as number) / 1e9;
    const seq = num(r.seq);
    const v = FIELDS.map(([, field]) => num(r[field]));
    const ifindex = num(r.if_ifindex);
    let joined = prev !== null;
    if (prev && lastSeq !== null && seq !== null && seq !== lastSeq + 1) {
      marks.add(x, 'break', `${seq - lastSeq - 1} rows missing (seq ${lastSeq}→${seq})`, 'rows missing or out of order');
      joined = false;
    } else if (prev && r.run !== prev.run) {
      marks.add(x, 'break', `tcpdump restarted (run ${String(r.run)})`, 'tcpdump restarts');
      joined = false;
    }
    const sameIface = joined && ifindex !== null && prev!.ifindex !== null && ifindex === prev!.ifindex;
    if (joined && ifindex !== null && prev!.ifindex !== null && ifindex !== prev!.ifindex) {
      marks.add(x, 'break', `the interface changed (ifindex ${prev!.ifindex}→${ifindex}: re-created or another interface under this name): counters not compared across`, 'interface changes');
    }
    if (ifindex === null) {
      if (!unread) {
        const why = (r.null_reasons as Record<string, unknown> | undefined)?.if_ifindex;
        const what = num(r.if_rx_packets) !== null ? 'interface not identified, counters not compared' : 'interface counters not read';
        marks.add(x, 'break', `${what}${typeof why === 'string' ? ` (${why})` : ''}`, 'rows without interface counters');
      }
      unread = true;
    } else unread = false;
    let backwards = false;
    if (drops.at(x)) {
      for (let i = 0; i < FIELDS.length; i++) {
        const now = v[i]!;
        const before = prev?.v[i] ?? null;
        const ok = joined && (i < IFACE_FIELDS ? sameIface : true) && now !== null && before !== null;
        if (ok && now < before!) backwards = true;
        drops.set(FIELDS[i]![0], ok && now >= before! ? now - before! : null);
      }
    }
    if (backwards) marks.add(x, 'break', 'a counter went backwards', 'counters that went backwards');
    prev = { seq, run: r.run, ifindex, v };
    lastSeq = seq ?? lastSeq;
  };

  const finish = (): { panels: Panel[]; markers: Marker[] } => {
    const notes = [
      "per interval, the difference of two consecutive pcap rows: the interface's own counters (/proc/self/net/dev, the kernel's: a tap's tx dropped are frames the guest did not take) beside the capture's (kernel drops: tcpdump could not keep up; if_drops: what tcpdump says the interface dropped for it); a tcpdump restart, an interface that changed (a new ifindex), a null or lost rows is a gap",
      ...marks.notes('pcap-drops'),
    ];
    const p = drops.panel('pcap-drops', 'Drops: interface and capture (pcap)', 'packets per interval', notes, undefined, marks.on('pcap-drops'));
    return { panels: p ? [p] : [], markers: marks.list };
  };
  return { push, finish };
}
