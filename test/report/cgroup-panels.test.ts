// The cgroup pressure panel, built from crafted host_cgroup rows through the report's panel builder (as labtel
// report feeds it the proc file): a rate only between two consecutive rows of one cgroup, never across a move, a
// cgroup made again, a restart, an exit, lost rows or a null; and the proc panels untouched by the rows beside them.
import { describe, expect, it } from 'vitest';
import { episodeMeta } from '../../src/report/episode-rows.js';
import { panelBuilder } from '../../src/report/panels.js';
import type { Panel } from '../../src/report/types.js';

type Row = Record<string, unknown>;
const meta = episodeMeta({ clock: { clk_tck: 100 }, host: { cpu: { cores: 4 } }, manifest: { collectors: { proc: { interval_ms: 100, cgroup_interval_ms: 1000 } } } });

let seq = 0;
/** A host_cgroup row at t seconds: the cpu some total `some` µs; the other totals 0; `extra` over it. */
function cg(t: number, some: number | null, extra: Row = {}): Row {
  return {
    source: 'host_cgroup', t_mono_ns: Math.round(t * 1e9), seq: seq++, available_in_deployment: true, pid: 10, cgroup_path: '/vm', cgroup_mount: '/sys/fs/cgroup', cgroup_inode: 7, cgroup_root: false, cgroup_other_processes: 0, cgroup_event: null, interval_s: 1,
    cpu_pressure_some_total_us: some, cpu_pressure_full_total_us: 0, memory_pressure_some_total_us: 0, memory_pressure_full_total_us: 0, io_pressure_some_total_us: 0, io_pressure_full_total_us: 0,
    cpu_usage_us: 1, cpu_user_us: 1, cpu_system_us: 0, cpu_nr_periods: null, cpu_nr_throttled: null, cpu_throttled_us: null, memory_current_bytes: null,
    memory_events_low: null, memory_events_high: null, memory_events_max: null, memory_events_oom: null, memory_events_oom_kill: null, ...extra,
  };
}

function build(rows: Row[]): { panel: Panel | undefined; panels: Panel[]; labels: string[] } {
  const b = panelBuilder(meta);
  for (const r of rows) b.push('proc', r);
  const { panels, markers } = b.finish(null);
  return { panel: panels.find((p) => p.id === 'cgroup-pressure'), panels, labels: markers.filter((m) => m.label.startsWith('cgroup: ')).map((m) => m.label) };
}

/** cpu some at each x of the panel. */
const cpuSome = (p: Panel) => {
  const at = p.labels.indexOf('cpu some'); // (a line with no value at all is not among the panel's labels)
  return p.data[0]!.map((x, i) => [x, at < 0 ? null : p.data[1 + at]![i]] as const);
};

describe('cgroup pressure panel', () => {
  it('draws the per-interval delta of each total as µs stalled per s', () => {
    seq = 0;
    const { panel } = build([cg(1, 1000), cg(2, 251_000), cg(4, 451_000)]);
    expect(panel).toBeDefined();
    expect(panel!.unit).toBe('µs stalled per s');
    expect(panel!.labels).toEqual(['cpu some', 'cpu full', 'memory some', 'memory full', 'io some', 'io full']);
    expect(cpuSome(panel!)).toEqual([[1, null], [2, 250_000], [4, 100_000]]);
  });

  // Regression for: counters of two different cgroups (or processes) subtracted into a rate.
  it.each([
    ['a move to another cgroup', { cgroup_event: 'moved', cgroup_path: '/other', cgroup_inode: 8 }, 'cgroup: the target moved to cgroup /other'],
    ['a cgroup made again', { cgroup_event: 'recreated', cgroup_inode: 9 }, 'cgroup: cgroup /vm was made again'],
    ['a restart', { cgroup_event: 'restarted', pid: 11 }, 'cgroup: target restarted (pid 10→11)'],
    ['another cgroup with no event said', { cgroup_inode: 9 }, 'cgroup: another cgroup, with no event said'],
  ])('draws no rate across %s, and marks it', (_, extra, label) => {
    seq = 0;
    const same = { ...extra, cgroup_event: null }; // the row after: the same (new) cgroup, no event
    const { panel, labels } = build([cg(1, 5_000_000), cg(2, 5_100_000), cg(3, 10, extra), cg(4, 20_010, same)]);
    expect(cpuSome(panel!).filter(([x]) => Number.isInteger(x))).toEqual([[1, null], [2, 100_000], [3, null], [4, 20_000]]);
    expect(labels).toEqual([label]);
  });

  it('draws no rate across lost rows, an exit or a null, and says why a value is missing', () => {
    seq = 0;
    const rows = [cg(1, 0), cg(2, 100_000)];
    seq++; // a lost row
    rows.push(cg(4, 300_000), cg(5, null, { null_reasons: { cpu_pressure_some_total_us: 'EACCES reading /sys/fs/cgroup/vm/cpu.pressure' } }), cg(6, 500_000), cg(7, 600_000));
    rows.push(cg(8, null, { cgroup_event: 'exited', cgroup_path: null, cgroup_inode: null }));
    const { panel, labels } = build(rows);
    const times = new Set(rows.map((r) => (r.t_mono_ns as number) / 1e9)); // (not the null points that cut the line between rows)
    expect(cpuSome(panel!).filter(([x]) => times.has(x as number))).toEqual([[1, null], [2, 100_000], [4, null], [5, null], [6, null], [7, 100_000], [8, null]]);
    expect(labels).toEqual(['cgroup: 1 rows missing (seq 1→3)', 'cgroup: target exited (pid 10)']);
    expect(panel!.notes).toContain('cpu some: not read in 1 rows (EACCES reading /sys/fs/cgroup/vm/cpu.pressure)');
  });

  it('drops a total that went down, or grew by more than the time that passed', () => {
    seq = 0;
    const { panel, labels } = build([cg(1, 500_000), cg(2, 400_000), cg(3, 2_000_000)]);
    expect(cpuSome(panel!)).toEqual([[1, null], [2, null], [3, null]]);
    expect(labels).toEqual(['cgroup: cpu some: the total went down: dropped', 'cgroup: cpu some: 1600000 µs stalled per s is more than a second per second: dropped']);
  });

  // Regression for: rows every proc interval (1 s) read as silences against cgroup_interval_ms (100 ms, 3x = 0.3 s): an empty panel.
  it('expects a row no more often than proc samples (max of interval_ms and cgroup_interval_ms)', () => {
    seq = 0;
    const slow = episodeMeta({ clock: { clk_tck: 100 }, manifest: { collectors: { proc: { interval_ms: 1000, cgroup_interval_ms: 100 } } } });
    const b = panelBuilder(slow);
    for (const r of [cg(1, 0), cg(2, 100_000), cg(3, 300_000)]) b.push('proc', r);
    const { panels, markers } = b.finish(null);
    const panel = panels.find((p) => p.id === 'cgroup-pressure');
    expect(cpuSome(panel!)).toEqual([[1, null], [2, 100_000], [3, 200_000]]);
    expect(markers.filter((m) => m.label.startsWith('cgroup: '))).toEqual([]);
  });

  // Regression for: a root cgroup's (host-wide) or a shared cgroup's totals drawn as if they were the target's alone.
  it.each([
    ['the root cgroup', { cgroup_path: '/', cgroup_root: true, cgroup_other_processes: 250 }, 'cgroup pressure (host_cgroup): host-wide (root cgroup)', /^host-wide \(root cgroup\): in 2 rows/],
    ['a cgroup shared with 3 others', { cgroup_other_processes: 3 }, 'cgroup pressure (host_cgroup): shared with 3 other processes', /^shared with 3 other processes: /],
    ['a cgroup.procs cut', { cgroup_other_processes: null, null_reasons: { cgroup_other_processes: 'at least 9361 other processes: /x/cgroup.procs is longer than 65536 bytes, cut (read no further)' } }, 'cgroup pressure (host_cgroup): shared with at least 9361 other processes', /^shared with at least 9361 other processes: /],
    ['the target alone', {}, 'cgroup pressure (host_cgroup)', null],
  ])('says in its title and notes when the totals are not the target\'s alone: %s', (_, extra, title, note) => {
    seq = 0;
    const { panel } = build([cg(1, 0, extra), cg(2, 1000, extra)]);
    expect(panel!.title).toBe(title);
    if (note) expect(panel!.notes[0]).toMatch(note);
    else expect(panel!.notes[0]).toMatch(/^µs in which/);
  });

  // Regression for: host_cgroup rows in the proc file read as process rows (a sample with no CPU, breaking its lines).
  it('leaves the proc panels to the host_proc rows beside them', () => {
    seq = 0;
    const b = panelBuilder(meta);
    let procSeq = 0;
    const proc = (t: number, user: number) => ({
      source: 'host_proc', t_mono_ns: Math.round(t * 1e9), seq: procSeq++, available_in_deployment: true, pid: 10, starttime: 5, process_event: null, interval_s: 0.1, state: 'R', processor: 0,
      cpu_user_jiffies: user, cpu_sys_jiffies: 0, num_threads: 1, rss_bytes: 2 ** 20,
    });
    for (let i = 0; i < 20; i++) {
      b.push('proc', proc(1 + i / 10, 5 * i));
      if (i % 10 === 0) b.push('proc', cg(1 + i / 10, 1000 * i));
    }
    const { panels, markers } = b.finish(null);
    expect(panels.map((p) => p.id)).toEqual(['proc-cpu', 'proc-rss', 'cgroup-pressure']);
    expect(markers.filter((m) => m.label.startsWith('proc: '))).toEqual([]);
    const cpu = panels[0]!.data[1]!.filter((v): v is number => v !== null);
    expect(cpu).toHaveLength(19);
    expect(new Set(cpu.map((v) => Math.round(v)))).toEqual(new Set([50]));
  });
});
