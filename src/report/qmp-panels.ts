// qmp: block I/O rates per device, and QEMU's events as markers on every
// panel. A rate comes only from two consecutive polls of one connection in
// which the device answered with both counters: a reconnect, a poll where
// the device or its counters are missing, counters that went backwards (a
// new QEMU), lost rows or a silence leave a gap in the line and a marker.
// KVM exits per vCPU: the collector's own per-interval rates (kvm_vcpu_rates,
// null on a connection's first poll, so a reconnect is a gap already); lost
// rows or a silence also cut the lines. Drawn only where KVM gave rates.
import { type EpisodeMeta, num, type Row, type PanelSink, text } from './episode-rows.js';
import { Marks } from './marks.js';
import { Series } from './series.js';
import type { Marker, Panel } from './types.js';

const PANELS = ['qmp-block'];
const SILENCE_INTERVALS = 3;
const SHOWN_SERIES = 8;
/** How the qmp collector tells, in the agent's rows, that its connection went. */
const CONNECTION_LOST = /reconnecting|cannot connect/;

const COUNTERS = [
  ['rd_bytes', 'read B/s'],
  ['wr_bytes', 'write B/s'],
] as const;

/**
 * The qmp panel and QEMU's events, from the rows of telemetry-qmp.jsonl pushed in file order;
 * `agentErrors`: the agent's collector_error rows for qmp (where reconnects are told), all of them
 * before the first qmp row is pushed.
 */
export function qmpPanels(meta: EpisodeMeta, agentErrors: Array<{ tNs: number; message: string }>): PanelSink<{ panels: Panel[]; events: Marker[]; markers: Marker[] }> {
  const intervalNs = meta.intervalMs('qmp', 1000) * 1e6;
  const marks = new Marks('qmp', PANELS);
  const io = new Series();
  const events: Marker[] = [];
  /** Read at the first poll: the agent's rows come before qmp's in the one pass (render.ts). */
  let losses: Array<{ tNs: number; message: string }> | null = null;
  let lossIdx = 0;
  /** Per device: the previous poll's counters, and which poll that was. */
  const prev = new Map<string, { poll: number; tNs: number; c: Record<string, number> }>();
  /** Devices missing since which poll, so a missing device is marked once per absence. */
  const missing = new Set<string>();
  let blockMissing = false;
  let poll = 0;
  let lastPoll: number | null = null;
  let lastTNs: number | null = null;
  let lastSeq: number | null = null;
  const kvm = new Series();
  /** The KVM panel's own markers (none in an episode without KVM rates, so the block panel's rows and markers are as before). */
  const kvmMarks = new Marks('qmp', ['qmp-kvm']);
  let kvmSeen = false;
  /** vCPU QOM path -> cpu_index from the episode's rows so far, so a row without vcpus keeps the lines' labels (bounded: a hostile QEMU's paths). */
  const vcpuIndex = new Map<string, number>();

  const push = (r: Row): void => {
    const tNs = r.t_mono_ns as number;
    const x = tNs / 1e9;
    if (r.source === 'qmp_event') {
      events.push({ t: x, label: text(r.event), kind: 'event', panels: null });
      return;
    }
    poll++;
    const seq = num(r.seq);
    if (lastSeq !== null && seq !== null && seq !== lastSeq + 1) {
      poll++;
      marks.add(x, 'break', `${seq - lastSeq - 1} polls missing (seq ${lastSeq}→${seq})`, 'rows missing or out of order');
    }
    let reconnected = false;
    losses ??= agentErrors.filter((e) => CONNECTION_LOST.test(e.message));
    while (lossIdx < losses.length && losses[lossIdx]!.tNs <= tNs) {
      if (lastTNs !== null && losses[lossIdx]!.tNs > lastTNs) reconnected = true;
      lossIdx++;
    }
    if (reconnected) {
      poll++;
      marks.add(x, 'break', 'reconnected', 'reconnects');
    } else if (lastTNs !== null && tNs - lastTNs > SILENCE_INTERVALS * intervalNs) {
      poll++;
      marks.add(x, 'break', `no poll for ${((tNs - lastTNs) / 1e9).toFixed(2)} s`, 'silences');
    }
    const broke = poll > (lastPoll ?? poll - 1) + 1;
    lastPoll = poll;
    lastTNs = tNs;
    lastSeq = seq ?? lastSeq;
    kvmPoint(r, x, broke);

    const values: Record<string, number | null> = {};
    const block = r.block;
    if (typeof block !== 'object' || block === null) {
      if (!blockMissing) {
        const why = (r.null_reasons as Record<string, unknown> | undefined)?.block;
        marks.add(x, 'break', `block stats missing${typeof why === 'string' ? ` (${why})` : ''}`, 'polls without block stats');
      }
      blockMissing = true;
      for (const dev of prev.keys()) for (const [, label] of COUNTERS) values[`${dev} ${label}`] = null;
      io.point(x, values);
      return;
    }
    blockMissing = false;
    const devs = block as Record<string, Row>;
    for (const dev of prev.keys()) {
      if (Object.hasOwn(devs, dev)) continue;
      if (!missing.has(dev)) marks.add(x, 'break', `${dev} block stats missing`, 'polls without a device');
      missing.add(dev);
      for (const [, label] of COUNTERS) values[`${dev} ${label}`] = null;
    }
    for (const [dev, d] of Object.entries(devs)) {
      missing.delete(dev);
      const c: Record<string, number> = {};
      for (const [field] of COUNTERS) {
        const v = num(d?.[field]);
        if (v !== null) c[field] = v;
      }
      const p = prev.get(dev);
      const fresh = p !== undefined && p.poll === poll - 1 && tNs > p.tNs;
      let backwards = false;
      for (const [field, label] of COUNTERS) {
        const now = c[field];
        const before = fresh ? p.c[field] : undefined;
        if (now === undefined) {
          marks.add(x, 'break', `${dev} ${field} missing`, 'polls without a counter');
          values[`${dev} ${label}`] = null;
        } else if (before === undefined) {
          values[`${dev} ${label}`] = null;
        } else if (now < before) {
          backwards = true;
          values[`${dev} ${label}`] = null;
        } else {
          values[`${dev} ${label}`] = (now - before) / ((tNs - p!.tNs) / 1e9);
        }
      }
      if (backwards) marks.add(x, 'break', `${dev} counters went backwards (a new QEMU?)`, 'counters that went backwards');
      prev.set(dev, { poll, tNs, c });
    }
    io.point(x, values);
  };
  /** One poll's exits/s per vCPU (labelled by cpu_index where this or an earlier row's vcpus name it; by QOM path only if none did). */
  function kvmPoint(r: Row, x: number, broke: boolean): void {
    const rates = r.kvm_vcpu_rates;
    if (typeof rates !== 'object' || rates === null) {
      if (kvmSeen) kvm.point(x, {}); // a gap: no rates this poll
      return;
    }
    if (broke) kvm.breakBefore(x);
    if (Array.isArray(r.vcpus))
      for (const v of r.vcpus as Row[])
        if (typeof v?.qom_path === 'string' && typeof v.cpu_index === 'number' && (vcpuIndex.has(v.qom_path) || vcpuIndex.size < 4096)) vcpuIndex.set(v.qom_path, v.cpu_index);
    const index = vcpuIndex;
    const values: Record<string, number | null> = {};
    for (const [path, v] of Object.entries(rates as Record<string, Row>)) {
      const i = index.get(path);
      const e = num((v as Row | null)?.exits_per_s);
      values[`${i === undefined ? path : `vCPU ${i}`} exits/s`] = e;
      if (e !== null) kvmSeen = true;
      else {
        const why = (r.null_reasons as Record<string, unknown> | undefined)?.[`kvm_vcpu_rates.${path}.exits_per_s`];
        if (typeof why === 'string' && why.includes('went backwards')) kvmMarks.add(x, 'break', `${i === undefined ? path : `vCPU ${i}`} exits went backwards`, 'counters that went backwards');
      }
    }
    kvm.point(x, values);
  }

  const finish = (): { panels: Panel[]; events: Marker[]; markers: Marker[] } => {
    const drawable = io
      .labels()
      .filter((k) => io.hasValue(k))
      .map((k) => [k, io.sum(k)] as const)
      .sort((a, b) => b[1] - a[1]);
    const busiest = drawable.slice(0, SHOWN_SERIES).map(([k]) => k);
    const hidden = drawable.length - busiest.length;
    const notes = [
      'a rate from two consecutive polls of one connection in which the device answered; a reconnect, a missing device or counter, lost rows or a silence over 3 intervals is a gap',
      ...(hidden > 0 ? [`${hidden} more series not drawn (the ${SHOWN_SERIES} with the most bytes are)`] : []),
      ...marks.notes('qmp-block'),
    ];
    const p = io.panel('qmp-block', 'Block I/O (QMP)', 'bytes/s', notes, busiest, marks.on('qmp-block'));
    const kvmDrawable = kvm
      .labels()
      .filter((k) => kvm.hasValue(k))
      .map((k) => [k, kvm.sum(k)] as const)
      .sort((a, b) => b[1] - a[1]);
    const kvmShown = kvmDrawable.slice(0, SHOWN_SERIES).map(([k]) => k);
    const k = kvmShown.length
      ? kvm.panel(
          'qmp-kvm',
          'KVM exits per vCPU',
          'exits/s',
          [
            "KVM's exits counter per vCPU (query-stats), per second between two consecutive polls of one QMP connection (kvm_vcpu_rates); the first poll of a connection, a poll without KVM statistics, a counter that went backwards, lost rows or a silence over 3 intervals is a gap. io, mmio, halt, irq and signal exits per second are in the rows.",
            ...(kvmDrawable.length > kvmShown.length ? [`${kvmDrawable.length - kvmShown.length} more vCPUs not drawn (the ${SHOWN_SERIES} with the most exits are)`] : []),
            ...kvmMarks.notes('qmp-kvm'),
          ],
          kvmShown,
          kvmMarks.on('qmp-kvm'),
        )
      : null;
    return { panels: [...(p ? [p] : []), ...(k ? [k] : [])], events, markers: [...marks.list, ...kvmMarks.list] };
  };
  return { push, finish };
}
