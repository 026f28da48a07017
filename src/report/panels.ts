// The report's data: time-aligned panels on the episode clock (seconds since
// its origin), built from an episode directory's rows, downsampled to at most
// MAX_POINTS per series (keeping each bin's largest value, so spikes stay).
import fs from 'node:fs';
import path from 'node:path';

export const MAX_POINTS = 20_000;

export interface Panel {
  id: string;
  title: string;
  unit: string;
  labels: string[];
  /** data[0]: x in seconds; data[1..]: one array per label (null where absent). */
  data: Array<Array<number | null>>;
}

export interface Marker {
  t: number;
  label: string;
}

type Row = Record<string, unknown>;

/** Rows of a telemetry file, streamed line by line (files can be large). */
function* rowsOf(dir: string, collector: string): Generator<Row> {
  const file = path.join(dir, `telemetry-${collector}.jsonl`);
  if (!fs.existsSync(file)) return;
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(4 << 20);
  let carry = '';
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const parts = (carry + buf.toString('utf8', 0, n)).split('\n');
      carry = parts.pop()!;
      for (const p of parts) {
        try {
          yield JSON.parse(p) as Row;
        } catch {
          // a damaged line: verify reports it; the report draws what it can
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Series keyed by label, sampled at shared x values. */
class Builder {
  xs: number[] = [];
  cols = new Map<string, Array<number | null>>();
  point(x: number, values: Record<string, number | null>): void {
    const i = this.xs.length;
    this.xs.push(x);
    for (const [k, v] of Object.entries(values)) {
      let c = this.cols.get(k);
      if (!c) this.cols.set(k, (c = new Array<number | null>(i).fill(null)));
      c[i] = v;
    }
    for (const c of this.cols.values()) if (c.length < i + 1) c.length = i + 1, (c[i] ??= null);
  }
  panel(id: string, title: string, unit: string, only?: string[]): Panel | null {
    const labels = (only ?? [...this.cols.keys()]).filter((l) => this.cols.get(l)?.some((v) => v !== null));
    if (!this.xs.length || !labels.length) return null;
    return downsample({ id, title, unit, labels, data: [this.xs, ...labels.map((l) => this.cols.get(l)!.map((v) => v ?? null))] });
  }
}

function downsample(p: Panel): Panel {
  const xs = p.data[0] as number[];
  if (xs.length <= MAX_POINTS) return p;
  const lo = xs[0]!;
  const span = xs[xs.length - 1]! - lo || 1;
  const bins = new Map<number, number[]>();
  xs.forEach((x, i) => {
    const b = Math.min(MAX_POINTS - 1, Math.floor(((x - lo) / span) * MAX_POINTS));
    (bins.get(b) ?? bins.set(b, []).get(b)!).push(i);
  });
  const keys = [...bins.keys()].sort((a, b) => a - b);
  const data = p.data.map((col, c) =>
    keys.map((k) => {
      const idx = bins.get(k)!;
      if (c === 0) return col[idx[0]!]!;
      let best: number | null = null;
      for (const i of idx) if (col[i] !== null && (best === null || col[i]! > best)) best = col[i]!;
      return best;
    }),
  );
  return { ...p, data };
}

export function buildPanels(dir: string, clkTck: number): { panels: Panel[]; markers: Marker[] } {
  const panels: Panel[] = [];
  const add = (p: Panel | null) => p && panels.push(p);

  // proc: CPU % of one core, process and each thread (vCPU threads named), and RSS.
  const cpu = new Builder();
  const rss = new Builder();
  const prev = new Map<string, { t: number; j: number }>();
  let t = NaN;
  let pending: Record<string, number | null> = {};
  const flush = () => {
    if (Number.isFinite(t) && Object.keys(pending).length) cpu.point(t, pending);
    pending = {};
  };
  for (const r of rowsOf(dir, 'proc')) {
    const x = (r.t_mono_ns as number) / 1e9;
    if (x !== t) flush(), (t = x);
    const key = 'tid' in r ? (r.vcpu !== null && r.vcpu !== undefined ? `vCPU ${r.vcpu}` : `${r.comm} (${r.tid})`) : 'process';
    const j = (num(r.cpu_user_jiffies) ?? NaN) + (num(r.cpu_sys_jiffies) ?? NaN);
    const p = prev.get(key);
    if (Number.isFinite(j)) {
      if (p && x > p.t) pending[key] = (((j - p.j) / clkTck) / (x - p.t)) * 100;
      prev.set(key, { t: x, j });
    }
    if (!('tid' in r)) rss.point(x, { 'RSS MiB': num(r.rss_bytes) === null ? null : (r.rss_bytes as number) / 2 ** 20 });
  }
  flush();
  // The busiest threads only: a QEMU has dozens.
  const busiest = [...cpu.cols.entries()]
    .map(([k, c]) => [k, c.reduce<number>((s, v) => s + (v ?? 0), 0)] as const)
    .sort((a, b) => (a[0] === 'process' ? -1 : b[0] === 'process' ? 1 : b[1] - a[1]))
    .slice(0, 9)
    .map(([k]) => k);
  add(cpu.panel('proc-cpu', 'CPU per thread (proc)', '% of a core', busiest));
  add(rss.panel('proc-rss', 'Resident memory (proc)', 'MiB'));

  // perf: per interval; IPC where cycles and instructions exist.
  const perf = new Builder();
  for (const r of rowsOf(dir, 'perf')) {
    const cyc = num(r.cycles);
    const ins = num(r.instructions);
    perf.point((r.t_mono_ns as number) / 1e9, {
      'cpu-clock ms': num(r.cpu_clock_ms),
      'page faults': num(r.page_faults),
      'context switches': num(r.context_switches),
      IPC: cyc && ins !== null ? ins / cyc : null,
    });
  }
  add(perf.panel('perf', 'perf counters per interval', 'count'));

  // netflow: packets and bytes in/out, SYN, RST.
  const pk = new Builder();
  const by = new Builder();
  for (const r of rowsOf(dir, 'netflow')) {
    const x = (r.t_mono_ns as number) / 1e9;
    pk.point(x, { 'pkts in': num(r.pkts_in), 'pkts out': num(r.pkts_out), SYN: num(r.tcp_syn), RST: num(r.tcp_rst) });
    by.point(x, { 'bytes in': num(r.bytes_in), 'bytes out': num(r.bytes_out) });
  }
  add(pk.panel('netflow-pkts', 'Packets per bucket (netflow)', 'packets'));
  add(by.panel('netflow-bytes', 'Bytes per bucket (netflow)', 'bytes'));

  // qmp: block I/O rates (all devices), and the events as markers.
  const io = new Builder();
  const markers: Marker[] = [];
  let last: { t: number; rd: number; wr: number } | null = null;
  for (const r of rowsOf(dir, 'qmp')) {
    const x = (r.t_mono_ns as number) / 1e9;
    if (r.source === 'qmp_event') {
      markers.push({ t: x, label: String(r.event) });
      continue;
    }
    const devs = Object.values((r.block ?? {}) as Record<string, Row>);
    const rd = devs.reduce((s, d) => s + (num(d.rd_bytes) ?? 0), 0);
    const wr = devs.reduce((s, d) => s + (num(d.wr_bytes) ?? 0), 0);
    if (last && x > last.t) io.point(x, { 'read B/s': (rd - last.rd) / (x - last.t), 'write B/s': (wr - last.wr) / (x - last.t) });
    if (devs.length) last = { t: x, rd, wr };
  }
  add(io.panel('qmp-block', 'Block I/O (QMP)', 'bytes/s'));

  // guest: the numbers its agent sends (first levels of each line), as sent.
  const guest = new Builder();
  for (const r of rowsOf(dir, 'guest_agent')) {
    if (r.kind !== 'line') continue;
    const values: Record<string, number | null> = {};
    const walk = (o: unknown, prefix: string, depth: number) => {
      if (depth > 2 || typeof o !== 'object' || o === null || Object.keys(values).length >= 8) return;
      for (const [k, v] of Object.entries(o)) {
        if (k === 'seq') continue;
        if (typeof v === 'number' && Number.isFinite(v)) values[`${prefix}${k}`] = v;
        else walk(v, `${prefix}${k}.`, depth + 1);
      }
    };
    walk(r.guest, '', 0);
    guest.point((r.t_mono_ns as number) / 1e9, values);
  }
  add(guest.panel('guest', 'Guest telemetry (as the guest sent it)', 'value'));
  return { panels, markers };
}
