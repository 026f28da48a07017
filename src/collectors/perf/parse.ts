// perf stat's JSON interval lines (`perf stat -j -I MS`) into host_perf rows.
// Event names come back with modifiers (`cycles:u` under perf_event_paranoid
// 2) or PMU wrappers (`cpu_core/cycles/` on hybrid CPUs): they are
// normalized, and a hybrid CPU's core and atom lines are summed.

/** Row field for each event labtel names. */
export const PERF_FIELDS = {
  cycles: 'cycles',
  instructions: 'instructions',
  branches: 'branches',
  'branch-misses': 'branch_misses',
  'cache-references': 'cache_references',
  'cache-misses': 'cache_misses',
  'page-faults': 'page_faults',
  'context-switches': 'context_switches',
  'cpu-clock': 'cpu_clock_ms',
} as const;
export type PerfField = (typeof PERF_FIELDS)[keyof typeof PERF_FIELDS];
const ALIASES: Record<string, string> = { faults: 'page-faults', cs: 'context-switches' };

export interface PerfLine {
  interval: number;
  event: string;
  /** null when perf could not count it; reason says why. */
  value: number | null;
  reason: string | null;
  pcntRunning: number | null;
}

/** `cpu_core/cycles/u` → `cycles`, `instructions:u` → `instructions`. */
export function normalizeEvent(name: string): string {
  let n = name.trim();
  const pmu = /^[\w.-]+\/([^/]+)\/[a-zA-Z]*$/.exec(n);
  if (pmu) n = pmu[1]!;
  n = n.replace(/:[a-zA-Z]+$/, '');
  return ALIASES[n] ?? n;
}

/** One JSON line of perf stat -j; null for anything else (perf's own chatter). */
export function parsePerfLine(line: string): PerfLine | null {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof o !== 'object' || o === null || typeof o.event !== 'string' || typeof o.interval !== 'number') return null;
  const raw = String(o['counter-value'] ?? '');
  let value: number | null = null;
  let reason: string | null = null;
  if (raw === '<not supported>') reason = 'perf: <not supported> on this host';
  else if (raw === '<not counted>') reason = 'perf: <not counted> (the task did not run in the interval, or the event never got onto the PMU)';
  else {
    value = Number(raw);
    if (raw === '' || !Number.isFinite(value)) {
      value = null;
      reason = `perf printed ${JSON.stringify(raw)}`;
    }
  }
  const p = o['pcnt-running'];
  return { interval: o.interval, event: normalizeEvent(o.event), value, reason, pcntRunning: typeof p === 'number' ? p : null };
}

export interface PerfRowFields {
  perf_interval_s: number;
  interval_s: number;
  running_pct: Record<string, number | null>;
  other?: Record<string, number | null>;
  [field: string]: unknown;
}

/**
 * Collects the lines of one interval and turns them into a row when the next
 * interval starts (or perf ends): `take()` returns the finished row, if any.
 */
export class PerfIntervals {
  private current: number | null = null;
  private prevEnd = 0;
  private lines: PerfLine[] = [];
  private done: Array<{ fields: PerfRowFields; reasons: Record<string, string>; end: number }> = [];

  constructor(private readonly requested: readonly string[]) {}

  push(l: PerfLine): void {
    if (this.current !== null && l.interval !== this.current) this.close();
    this.current = l.interval;
    this.lines.push(l);
  }

  /** The end of input: the last interval is complete too. */
  end(): void {
    if (this.lines.length) this.close();
  }

  take(): Array<{ fields: PerfRowFields; reasons: Record<string, string>; end: number }> {
    const d = this.done;
    this.done = [];
    return d;
  }

  private close(): void {
    const end = this.current!;
    const fields: PerfRowFields = { perf_interval_s: end, interval_s: end - this.prevEnd, running_pct: {} };
    const reasons: Record<string, string> = {};
    const sums = new Map<string, PerfLine>();
    for (const l of this.lines) {
      const s = sums.get(l.event);
      if (!s) sums.set(l.event, { ...l });
      else if (s.value !== null && l.value !== null) {
        s.value += l.value; // hybrid: cpu_core + cpu_atom
        s.pcntRunning = Math.min(s.pcntRunning ?? 100, l.pcntRunning ?? 100);
      } else if (s.value === null && l.value !== null) sums.set(l.event, { ...l });
    }
    const requested = new Set(this.requested.map(normalizeEvent));
    for (const [event, field] of Object.entries(PERF_FIELDS)) {
      const s = sums.get(event);
      fields[field] = s?.value ?? null;
      if (s) fields.running_pct[field] = s.value === null ? null : s.pcntRunning;
      if (fields[field] === null) reasons[field] = s?.reason ?? (requested.has(event) ? 'perf printed no value for it' : 'not in collectors.perf.events');
    }
    for (const [event, s] of sums) {
      if (event in PERF_FIELDS) continue;
      fields.other ??= {};
      fields.other[event] = s.value;
      fields.running_pct[event] = s.value === null ? null : s.pcntRunning;
      if (s.value === null) reasons[`other.${event}`] = s.reason ?? 'no value';
    }
    this.done.push({ fields, reasons, end });
    this.prevEnd = end;
    this.lines = [];
  }
}
