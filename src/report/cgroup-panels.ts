// The cgroup pressure panel: per interval, the stall time the target's
// cgroup v2 reports (the PSI totals of host_cgroup rows) as µs stalled per
// second. A value comes only from two consecutive rows of the same cgroup
// (pid, path, inode) with no cgroup_event on the later one: a move, a
// cgroup made again, a restart, an exit, lost rows, a null or a silence
// leaves a gap and a marker, never a rate across it.
import { type EpisodeMeta, num, type PanelSink, type Row, text } from './episode-rows.js';
import { Marks } from './marks.js';
import { Series } from './series.js';
import type { Marker, Panel } from './types.js';

const PANEL = 'cgroup-pressure';
const SILENCE_INTERVALS = 3;
/** A total that grew by more than the interval (µs stalled per s over 1e6) by more than this much: a reading that cannot be true. */
const SLACK = 1.05;
/** Each line: its label and the field of its total. */
const FEEDS = [
  ['cpu some', 'cpu_pressure_some_total_us'],
  ['cpu full', 'cpu_pressure_full_total_us'],
  ['memory some', 'memory_pressure_some_total_us'],
  ['memory full', 'memory_pressure_full_total_us'],
  ['io some', 'io_pressure_some_total_us'],
  ['io full', 'io_pressure_full_total_us'],
] as const;

const reasonOf = (r: Row, field: string): string => {
  const why = (r.null_reasons as Record<string, unknown> | undefined)?.[field];
  return typeof why === 'string' ? why : 'not in the row';
};

/** The cgroup pressure panel, from the host_cgroup rows of telemetry-proc.jsonl pushed in file order. */
export function cgroupPanels(meta: EpisodeMeta): PanelSink<{ panels: Panel[]; markers: Marker[] }> {
  // Rows come when a proc sample (or batch) finds the cgroup's row due: never more often than proc's interval.
  const intervalNs = Math.max(meta.intervalMs('proc', 1000, 'cgroup_interval_ms'), meta.intervalMs('proc', 100, 'interval_ms')) * 1e6;
  const marks = new Marks('cgroup', [PANEL]);
  const series = new Series();
  /** Per line, why it had no value where it had none (the first reason and how many rows): said in the notes. */
  const missing = new Map<string, { why: string; rows: number }>();
  let last: Row | null = null;
  /** Whose values these are beside the target's: rows in the root cgroup (host-wide), and the most other processes a row said its cgroup held. */
  let rootRows = 0;
  let others = 0;
  let othersAtLeast: string | null = null;

  const push = (r: Row): void => {
    if (r.cgroup_root === true) rootRows++;
    const o = num(r.cgroup_other_processes);
    if (o !== null) others = Math.max(others, o);
    else if (r.cgroup_root !== true && othersAtLeast === null && /^at least \d+ /.test(reasonOf(r, 'cgroup_other_processes'))) othersAtLeast = reasonOf(r, 'cgroup_other_processes');
    const x = (r.t_mono_ns as number) / 1e9;
    const event = r.cgroup_event;
    let comparable = last !== null;
    if (last) {
      const seq = num(r.seq);
      const lastSeq = num(last.seq);
      const gapNs = (r.t_mono_ns as number) - (last.t_mono_ns as number);
      let why: string | null = null;
      let what = '';
      if (event !== null && event !== undefined) {
        why =
          event === 'moved' ? `the target moved to cgroup ${text(r.cgroup_path)}` : event === 'recreated' ? `cgroup ${text(r.cgroup_path)} was made again` : event === 'restarted' ? `target restarted (pid ${text(last.pid)}→${text(r.pid)})` : event === 'exited' ? `target exited (pid ${text(r.pid)})` : `cgroup_event ${text(event)}`;
        what = event === 'exited' ? 'exits' : event === 'restarted' ? 'restarts' : 'cgroup changes';
      } else if (seq !== null && lastSeq !== null && seq !== lastSeq + 1) {
        why = seq > lastSeq ? `${seq - lastSeq - 1} rows missing (seq ${lastSeq}→${seq})` : `rows out of order (seq ${lastSeq}→${seq})`;
        what = 'rows missing or out of order';
      } else if (r.pid !== last.pid || r.cgroup_path !== last.cgroup_path || r.cgroup_inode !== last.cgroup_inode) {
        why = 'another cgroup, with no event said';
        what = 'cgroup changes';
      } else if (gapNs > SILENCE_INTERVALS * intervalNs) {
        why = `no row for ${(gapNs / 1e9).toFixed(2)} s`;
        what = 'silences';
      }
      if (why) {
        marks.add(x, 'break', why, what);
        series.breakBefore(x);
        comparable = false;
      }
    }
    const before = last;
    last = r;
    if (!series.at(x)) return;
    const dtS = before ? ((r.t_mono_ns as number) - (before.t_mono_ns as number)) / 1e9 : 0;
    for (const [label, field] of FEEDS) {
      const now = num(r[field]);
      if (now === null && event !== 'exited') {
        const m = missing.get(label);
        if (m) m.rows++;
        else missing.set(label, { why: reasonOf(r, field), rows: 1 });
      }
      const then = before ? num(before[field]) : null;
      if (!comparable || now === null || then === null || dtS <= 0) {
        series.set(label, null);
        continue;
      }
      const rate = (now - then) / dtS;
      if (rate < 0 || rate > 1e6 * SLACK) {
        marks.add(x, 'dropped', `${label}: ${rate < 0 ? 'the total went down' : `${Math.round(rate)} µs stalled per s is more than a second per second`}: dropped`, 'values dropped as impossible');
        series.set(label, null);
        continue;
      }
      series.set(label, rate);
    }
  };

  const finish = (): { panels: Panel[]; markers: Marker[] } => {
    const shared = othersAtLeast ? `shared with ${othersAtLeast.split(':')[0]}` : others > 0 ? `shared with ${others} other processes` : null;
    const whose = rootRows ? 'host-wide (root cgroup)' : shared;
    const notes = [
      ...(rootRows ? [`host-wide (root cgroup): in ${rootRows} rows the target was in the root cgroup, whose totals are the whole host's, not the target's`] : []),
      ...(!rootRows && shared ? [`${shared}: the cgroup's totals are theirs too, not the target's alone (cgroup_other_processes)`] : []),
      "µs in which some (or, for full, every non-idle) task of the target's cgroup was stalled on the resource, per second of each interval (PSI totals of host_cgroup rows: 1,000,000 is stalled all the time); from two consecutive rows of the same cgroup: a move, a cgroup made again, a restart, an exit, lost rows, a missing value or a silence over 3 intervals is a gap",
      ...[...missing].map(([label, m]) => `${label}: not read in ${m.rows} rows (${m.why})`),
      ...marks.notes(PANEL),
    ];
    const panel = series.panel(PANEL, `cgroup pressure (host_cgroup)${whose ? `: ${whose}` : ''}`, 'µs stalled per s', notes, undefined, marks.on(PANEL));
    return { panels: panel ? [panel] : [], markers: marks.list };
  };
  return { push, finish };
}
