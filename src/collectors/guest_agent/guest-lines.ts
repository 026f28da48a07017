// What the guest's lines (jsonl) and a qga agent's answers become, with no
// socket in sight: each line is admitted by the line rate, the total cap
// and the byte budget, judged (guest-line.ts), and written as its own text
// (row-text.ts), or counted under exactly one drop reason. The run loop
// feeds it from the channel; the fuzz target (test/fuzz/guest-lines.ts)
// feeds it directly, thousands of inputs a second.
import type { JsonlWriter } from '../../rows/jsonl-writer.js';
import { isMeasuredValue } from '../../rows/measured-value.js';
import { ByteBudget, type BudgetVerdict } from './byte-budget.js';
import { judgeLine } from './guest-line.js';
import type { QgaAnswer } from './qga-session.js';
import { lineMembers, qgaMembers, ROW_OVERHEAD_MAX } from './row-text.js';

export interface GuestCounters {
  connections: number;
  connections_refused: number;
  lines: number;
  bytes: number;
  dropped_oversize: number;
  dropped_rate: number;
  dropped_invalid_utf8: number;
  dropped_invalid_json: number;
  dropped_too_deep: number;
  dropped_not_object: number;
  dropped_byte_rate: number;
  dropped_total_cap: number;
  bytes_written: number;
  /** qga lines nobody asked for, dropped (QgaSession). */
  dropped_unasked: number;
}

export const newCounters = (): GuestCounters => ({
  connections: 0, connections_refused: 0, lines: 0, bytes: 0, dropped_oversize: 0, dropped_rate: 0,
  dropped_invalid_utf8: 0, dropped_invalid_json: 0, dropped_too_deep: 0, dropped_not_object: 0,
  dropped_byte_rate: 0, dropped_total_cap: 0, bytes_written: 0, dropped_unasked: 0,
});

/** What of the row writer the guest's rows use. */
export type GuestRowSink = Pick<JsonlWriter, 'write' | 'writeMembers' | 'rowBytes' | 'flushIfDue'>;

export interface GuestLinesOptions {
  max_lines_per_s: number;
  max_bytes_per_s: number;
  max_total_mb: number;
  /** The longest line read (max_line_bytes; for qga at most 4 MiB). */
  lineCap: number;
  writer: GuestRowSink;
  counters: GuestCounters;
  /** The episode clock, ns: the rows' t_mono_ns, and the line rate's and the budget's time. */
  now: () => number;
  reportError?: (message: string) => void;
}

export class GuestLines {
  readonly budget: ByteBudget;
  /** Rows with something from the guest, as verify judges it. */
  valueRows = 0;
  private tokens: number;
  private refilledNs: number | null = null;

  constructor(private readonly o: GuestLinesOptions) {
    this.budget = new ByteBudget(o.max_bytes_per_s, o.max_total_mb * (1 << 20), o.lineCap + ROW_OVERHEAD_MAX);
    this.tokens = o.max_lines_per_s;
  }

  /** Token bucket: max_lines_per_s, bursts of one second's worth. */
  private admit(nowNs: number): boolean {
    const r = this.o.max_lines_per_s;
    if (this.refilledNs !== null && nowNs > this.refilledNs) this.tokens = Math.min(r, this.tokens + ((nowNs - this.refilledNs) / 1e9) * r);
    if (this.refilledNs === null || nowNs > this.refilledNs) this.refilledNs = nowNs;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  /** Reported once per power of ten of its count: a flood makes a handful of messages, not one per line. */
  private dropped(kind: 'byte_rate' | 'total_cap', what: string): void {
    const n = this.o.counters;
    const k = ++n[`dropped_${kind}`];
    if (k === 1 || (kind === 'byte_rate' && Number.isInteger(Math.log10(k)))) {
      this.o.reportError?.(
        kind === 'total_cap'
          ? `guest_agent: the guest's rows reached max_total_mb (${this.o.max_total_mb} MiB): ${what} dropped from now on (${k} so far, counted in dropped_total_cap)`
          : `guest_agent: the guest sent more than max_bytes_per_s (${this.o.max_bytes_per_s} bytes/s): ${what} dropped (${k} so far, counted in dropped_byte_rate)`,
      );
    }
  }

  /** Writes one guest row if the budget has room for all of it; if not, counts the drop. */
  private writeCharged(t: number, members: string, what: string): BudgetVerdict {
    const w = this.o.writer;
    const bytes = w.rowBytes('guest', t, members); // exactly what writeMembers appends next
    const verdict = this.budget.check(bytes, t);
    if (verdict !== 'ok') {
      this.dropped(verdict, what);
      return verdict;
    }
    w.writeMembers('guest', t, members);
    this.budget.charge(bytes, t);
    this.o.counters.bytes_written = this.budget.written;
    return verdict;
  }

  /** One line of the in-guest agent (protocol jsonl); `line` is a view, used before this returns. */
  line(line: Buffer): void {
    if (line.length === 0 || (line.length === 1 && line[0] === 13)) return; // a blank line carries nothing
    const n = this.o.counters;
    const t = this.o.now();
    if (!this.admit(t)) return void n.dropped_rate++;
    // Before parsing: its row is at least the line (a final CR is cut), so one past the budget is not judged.
    const early = this.budget.check(line.length - 1, t);
    if (early !== 'ok') return void this.dropped(early, 'lines');
    const v = judgeLine(line);
    if (!v.ok) return void n[`dropped_${v.why}`]++;
    if (this.writeCharged(t, lineMembers(v.text, v.guestT), 'lines') !== 'ok') return;
    n.lines++;
    if (isMeasuredValue(v.value)) this.valueRows++; // an empty object, or one of nulls only, measures nothing
    this.o.writer.flushIfDue();
  }

  /**
   * A qga command's answer: its row, or (past the budget) a null row saying
   * why, labtel's own few bytes like a channel row. True when written whole.
   */
  answer(command: string, answer: QgaAnswer): boolean {
    const t = this.o.now();
    const verdict = this.writeCharged(t, qgaMembers(command, answer.raw), 'qga answers');
    if (verdict !== 'ok') {
      const why = verdict === 'total_cap' ? `the guest's rows reached max_total_mb (${this.o.max_total_mb} MiB)` : `past max_bytes_per_s (${this.o.max_bytes_per_s} bytes/s)`;
      this.o.writer.write('guest', t, { kind: 'qga', command, result: null }, { result: `${command}: the answer (${answer.raw.length} bytes) was dropped: ${why}` });
      return false;
    }
    // [], {} or nulls only answer nothing, and the OS's name is identity, not a measurement.
    if (command !== 'guest-get-osinfo' && isMeasuredValue(answer.value)) this.valueRows++;
    return true;
  }
}
