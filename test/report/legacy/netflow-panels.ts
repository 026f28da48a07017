// Frozen copy of src/report/netflow-panels.ts as of da5b2d9 (before the one-pass report): the old path, kept only for
// test/report/one-pass.test.ts, which holds the new report to its bytes. Do not edit.
// netflow panels: packets and bytes in/out per bucket, SYN and RST, as the
// buckets counted them (each bucket is its own count: nothing is
// differenced). Buckets exist only while a capture ran: a time with no
// bucket (between capture runs, lost rows) cuts the lines and is marked.
import { type EpisodeMeta, num, rowsOf } from './episode-rows.js';
import { Marks } from './marks.js';
import { Series } from './series.js';
import type { Marker, Panel } from './types.js';

const PANELS = ['netflow-pkts', 'netflow-bytes'];

export function netflowPanels(dir: string, meta: EpisodeMeta): { panels: Panel[]; markers: Marker[] } {
  const bucketNs = meta.intervalMs('netflow', 100) * 1e6;
  const marks = new Marks('netflow', PANELS);
  const pk = new Series();
  const by = new Series();
  let lastTNs: number | null = null;
  let lastSeq: number | null = null;
  const FIELDS = { 'pkts in': 'pkts_in', 'pkts out': 'pkts_out', SYN: 'tcp_syn', RST: 'tcp_rst', 'bytes in': 'bytes_in', 'bytes out': 'bytes_out' } as const;
  let cur: { x: number; v: Record<string, number | null>; partial: boolean; merged: boolean } | null = null;
  const flush = () => {
    if (!cur) return;
    // A bucket a capture run began or ended inside counts less than the traffic there was: drawn as counted, and marked.
    if (cur.partial && !cur.merged) marks.add(cur.x, 'break', 'a bucket the capture covered only in part', 'buckets covered only in part');
    const v = cur.v;
    pk.point(cur.x, { 'pkts in': v['pkts in']!, 'pkts out': v['pkts out']!, SYN: v.SYN!, RST: v.RST! });
    by.point(cur.x, { 'bytes in': v['bytes in']!, 'bytes out': v['bytes out']! });
    cur = null;
  };
  for (const r of rowsOf(dir, 'netflow')) {
    const tNs = r.t_mono_ns as number;
    const x = tNs / 1e9;
    const seq = num(r.seq);
    const v = Object.fromEntries(Object.entries(FIELDS).map(([label, field]) => [label, num(r[field])]));
    if (lastSeq !== null && seq !== null && seq !== lastSeq + 1) {
      flush();
      marks.add(x, 'break', `${seq - lastSeq - 1} rows missing (seq ${lastSeq}→${seq})`, 'rows missing or out of order');
      pk.breakBefore(x), by.breakBefore(x);
    } else if (cur && tNs === lastTNs) {
      // A capture that restarted inside a bucket gives it one row per run: together they are the bucket.
      marks.add(x, 'break', 'capture restarted inside this bucket (its rows are added)', 'capture restarts inside a bucket');
      cur.merged = true;
      for (const k of Object.keys(v)) {
        const a = cur.v[k]!;
        const b = v[k]!;
        cur.v[k] = a === null || b === null ? null : a + b;
      }
      lastSeq = seq ?? lastSeq;
      continue;
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
  }
  flush();
  const notes = (id: string) => ['each point is one bucket\'s own count; a time no bucket covers is a gap; a bucket a capture run began or ended inside is marked (it counts only part of its time)', ...marks.notes(id)];
  const panels = [pk.panel('netflow-pkts', 'Packets per bucket (netflow)', 'packets', notes('netflow-pkts'), undefined, marks.on('netflow-pkts')), by.panel('netflow-bytes', 'Bytes per bucket (netflow)', 'bytes', notes('netflow-bytes'), undefined, marks.on('netflow-bytes'))].filter(
    (p): p is Panel => p !== null,
  );
  return { panels, markers: marks.list };
}
