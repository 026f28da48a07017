// perf panels: what perf counted per interval, as rates per second of the
// interval each row covers, CPU % from cpu-clock, and IPC where cycles and
// instructions exist. Each row is one perf run's own count: runs are never
// joined, a new run (a restart of perf, or a re-attach to a restarted
// target) or lost rows or a silence cuts the lines and is marked.
import { type EpisodeMeta, num, type Row, type PanelSink } from './episode-rows.js';
import { Marks } from './marks.js';
import { Series } from './series.js';
import type { Marker, Panel } from './types.js';

const PANELS = ['perf', 'perf-cpu', 'perf-ipc'];
const SILENCE_INTERVALS = 3;
/** The counters each panel draws from. */
const FEEDS = [
  ['page_faults', 'perf'],
  ['context_switches', 'perf'],
  ['cpu_clock_ms', 'perf-cpu'],
  ['cycles', 'perf-ipc'],
  ['instructions', 'perf-ipc'],
] as const;

/** The perf panels, from the rows of telemetry-perf.jsonl pushed in file order. */
export function perfPanels(meta: EpisodeMeta): PanelSink<{ panels: Panel[]; markers: Marker[] }> {
  const intervalNs = meta.intervalMs('perf', 200) * 1e6;
  const marks = new Marks('perf', PANELS);
  const rates = new Series();
  const cpu = new Series();
  const ipc = new Series();
  const all = [rates, cpu, ipc];
  let last: Row | null = null;
  const push = (r: Row): void => {
    const x = (r.t_mono_ns as number) / 1e9;
    if (last) {
      const pid = num(r.pid);
      const lastPid = num(last.pid);
      const seq = num(r.seq);
      const lastSeq = num(last.seq);
      const gapNs = (r.t_mono_ns as number) - (last.t_mono_ns as number);
      let why: string | null = null;
      let what = '';
      const event = r.process_event ?? r.event;
      if (event === 'restarted' || (pid !== lastPid && pid !== null && lastPid !== null)) {
        why = `target restarted, perf re-attached (pid ${lastPid}→${pid})`;
        what = 'target restarts';
      } else if (event === 'started' || ('run' in r && r.run !== last.run) || (num(r.perf_interval_s) ?? Infinity) <= (num(last.perf_interval_s) ?? -Infinity)) {
        why = 'perf restarted (a new run)';
        what = 'perf restarts';
      } else if (seq !== null && lastSeq !== null && seq !== lastSeq + 1) {
        why = `${seq - lastSeq - 1} rows missing (seq ${lastSeq}→${seq})`;
        what = 'rows missing or out of order';
      } else if (gapNs > SILENCE_INTERVALS * intervalNs) {
        why = `no row for ${(gapNs / 1e9).toFixed(2)} s`;
        what = 'silences';
      }
      if (why) {
        marks.add(x, 'break', why, what);
        for (const s of all) s.breakBefore(x);
      } else {
        // A counter this run counted in its last row and not in this one: a gap the reader is told about.
        for (const [field, panel] of FEEDS) {
          if (num(r[field]) !== null || num(last[field]) === null) continue;
          const reason = (r.null_reasons as Record<string, unknown> | undefined)?.[field];
          marks.add(x, 'break', `${field} not counted (${typeof reason === 'string' ? reason : 'not in the row'})`, 'counters not counted', [panel]);
        }
      }
    }
    last = r;
    const dt = num(r.interval_s);
    const per = (v: unknown): number | null => {
      const n = num(v);
      return n === null || dt === null || dt <= 0 ? null : n / dt;
    };
    if (rates.at(x)) rates.set('page faults/s', per(r.page_faults)), rates.set('context switches/s', per(r.context_switches));
    // cpu-clock counts every thread of the process: at most every CPU of the host.
    const ms = num(r.cpu_clock_ms);
    let pct = ms === null || dt === null || dt <= 0 ? null : (ms / (dt * 1000)) * 100;
    if (pct !== null && (pct < 0 || (meta.hostCpus !== null && pct > meta.hostCpus * 100))) {
      marks.add(x, 'dropped', `cpu-clock ${pct.toFixed(0)}% ${pct < 0 ? 'is negative' : `is more than ${meta.hostCpus} CPUs could give`}: dropped`, 'CPU values dropped as impossible', ['perf-cpu']);
      pct = null;
    }
    if (cpu.at(x)) cpu.set('CPU % (cpu-clock)', pct);
    const cyc = num(r.cycles);
    const ins = num(r.instructions);
    if (ipc.at(x)) ipc.set('IPC', cyc !== null && cyc > 0 && ins !== null ? ins / cyc : null);
  };
  const finish = (): { panels: Panel[]; markers: Marker[] } => {
    const notes = (id: string) => ['each row is what one perf run counted in its interval, per second; a new run, lost rows, a counter not counted or a silence over 3 intervals is a gap', ...marks.notes(id)];
    const panels = [
      rates.panel('perf', 'perf counters per second (perf)', 'per second', notes('perf'), undefined, marks.on('perf')),
      cpu.panel('perf-cpu', 'CPU of the process (perf cpu-clock)', '% of a core', notes('perf-cpu'), undefined, marks.on('perf-cpu')),
      ipc.panel('perf-ipc', 'Instructions per cycle (perf)', 'IPC', notes('perf-ipc'), undefined, marks.on('perf-ipc')),
    ].filter((p): p is Panel => p !== null);
    return { panels, markers: marks.list };
  };
  return { push, finish };
}
