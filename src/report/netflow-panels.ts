// netflow panels: packets and bytes in/out per bucket, SYN and RST, as the
// buckets counted them (each bucket is its own count: nothing is
// differenced). Buckets exist only while a capture ran: a time with no
// bucket (between capture runs, lost rows) cuts the lines and is marked.
import { type EpisodeMeta, num, type Row, type PanelSink } from './episode-rows.js';
import { Marks } from './marks.js';
import { Series } from './series.js';
import type { Marker, Panel } from './types.js';

const PANELS = ['netflow-pkts', 'netflow-bytes'];
/** Each series' label and its row field (push reads them in this order): the first four on the packets panel, the last two on the bytes panel. */
const FIELDS = [
  ['pkts in', 'pkts_in'],
  ['pkts out', 'pkts_out'],
  ['SYN', 'tcp_syn'],
  ['RST', 'tcp_rst'],
  ['bytes in', 'bytes_in'],
  ['bytes out', 'bytes_out'],
] as const;

/** The netflow panels, from the rows of telemetry-netflow.jsonl pushed in file order. */
export function netflowPanels(meta: EpisodeMeta): PanelSink<{ panels: Panel[]; markers: Marker[] }> {
  const bucketNs = meta.intervalMs('netflow', 100) * 1e6;
  const marks = new Marks('netflow', PANELS);
  const pk = new Series();
  const by = new Series();
  let lastTNs: number | null = null;
  let lastSeq: number | null = null;
  /** A bucket's values, in FIELDS' order. */
  let cur: { x: number; v: Array<number | null>; partial: boolean; merged: boolean } | null = null;
  const flush = () => {
    if (!cur) return;
    // A bucket a capture run began or ended inside counts less than the traffic there was: drawn as counted, and marked.
    if (cur.partial && !cur.merged) marks.add(cur.x, 'break', 'a bucket the capture covered only in part', 'buckets covered only in part');
    const v = cur.v;
    if (pk.at(cur.x)) for (let i = 0; i < 4; i++) pk.set(FIELDS[i]![0], v[i]!);
    if (by.at(cur.x)) for (let i = 4; i < 6; i++) by.set(FIELDS[i]![0], v[i]!);
    cur = null;
  };
  const push = (r: Row): void => {
    const tNs = r.t_mono_ns as number;
    const x = tNs / 1e9;
    const seq = num(r.seq);
    // (FIELDS' order, each read by name: one lookup per field, not a keyed one through a list)
    const v = [num(r.pkts_in), num(r.pkts_out), num(r.tcp_syn), num(r.tcp_rst), num(r.bytes_in), num(r.bytes_out)];
    if (lastSeq !== null && seq !== null && seq !== lastSeq + 1) {
      flush();
      marks.add(x, 'break', `${seq - lastSeq - 1} rows missing (seq ${lastSeq}→${seq})`, 'rows missing or out of order');
      pk.breakBefore(x), by.breakBefore(x);
    } else if (cur && tNs === lastTNs) {
      // A capture that restarted inside a bucket gives it one row per run: together they are the bucket.
      marks.add(x, 'break', 'capture restarted inside this bucket (its rows are added)', 'capture restarts inside a bucket');
      cur.merged = true;
      for (let k = 0; k < v.length; k++) {
        const a = cur.v[k]!;
        const b = v[k]!;
        cur.v[k] = a === null || b === null ? null : a + b;
      }
      lastSeq = seq ?? lastSeq;
      return;
    } else if (lastTNs !== null && tNs - lastTNs > 1.5 * bucketNs) {
      // The next bucket starts one bucket after the last: any more is time no bucket covers.
      flush();
      marks.add(x, 'break', `no bucket for ${((tNs - lastTNs) / 1e9).toFixed(2)} s`, 'times without buckets');
      pk.breakBefore(x), by.breakBefore(x);
    }
    flush();
    cur = { x, v, partial: r.partial === true, merged: false };
    lastTNs = tNs;
    lastSeq = seq ?? lastSeq;
  };
  const finish = (): { panels: Panel[]; markers: Marker[] } => {
    flush();
    const notes = (id: string) => ['each point is one bucket\'s own count; a time no bucket covers is a gap; a bucket a capture run began or ended inside is marked (it counts only part of its time)', ...marks.notes(id)];
    const panels = [pk.panel('netflow-pkts', 'Packets per bucket (netflow)', 'packets', notes('netflow-pkts'), undefined, marks.on('netflow-pkts')), by.panel('netflow-bytes', 'Bytes per bucket (netflow)', 'bytes', notes('netflow-bytes'), undefined, marks.on('netflow-bytes'))].filter(
      (p): p is Panel => p !== null,
    );
    return { panels, markers: marks.list };
  };
  return { push, finish };
}
