// Series keyed by label, sampled at shared x values (seconds on the episode
// clock). A label with no value at an x is null there: a gap in its line,
// never 0. A row out of time order is not drawn (and counted).
//
// Each label keeps only the points it was given (its x index and value), so
// memory follows the values recorded, not labels × points: a QEMU whose
// short-lived I/O threads come and go under new tids all episode long makes
// thousands of labels, each with a few values. They are kept in typed
// arrays, a null as a flag beside its slot: an array of numbers and nulls
// holds each number as an object of its own, made per row and kept to the
// end (most of what a long episode's report allocated).
import { downsample } from './downsample.js';
import type { Panel } from './types.js';

/** One label's points: x indexes (rising) and values, null where `nulls` is 1. */
class Column {
  n = 0;
  at = new Int32Array(16);
  values = new Float64Array(16);
  nulls = new Uint8Array(16);

  push(i: number, v: number | null): void {
    if (this.n === this.at.length) this.grow();
    this.at[this.n] = i;
    if (v === null) this.nulls[this.n] = 1;
    else this.values[this.n] = v;
    this.n++;
  }

  private grow(): void {
    const size = this.at.length * 2;
    const at = new Int32Array(size);
    const values = new Float64Array(size);
    const nulls = new Uint8Array(size);
    at.set(this.at), values.set(this.values), nulls.set(this.nulls);
    (this.at = at), (this.values = values), (this.nulls = nulls);
  }
}

export class Series {
  readonly xs: number[] = [];
  private readonly cols = new Map<string, Column>();
  /** Whether the last point has any value (a line that a break must cut). */
  private lastValued = false;
  /** Rows whose time was before the previous row's: not drawn. */
  outOfOrder = 0;

  /** Values at x; labels not given are null there. Returns false for an x before the last one. */
  point(x: number, values: Record<string, number | null>): boolean {
    if (!this.at(x)) return false;
    for (const [k, v] of Object.entries(values)) this.set(k, v);
    return true;
  }

  /**
   * Starts the point at x (or goes on with the last, when x is the same):
   * the labels set() until the next at() are its values, the others null.
   * Returns false for an x before the last one (counted, not drawn): set()
   * must not be called for it. point(x, values) is at(x) then set() of each
   * value in the record's order; a row's builder calls these instead to make
   * no record per row.
   */
  at(x: number): boolean {
    const last = this.xs.length ? this.xs[this.xs.length - 1]! : -Infinity;
    if (x < last) {
      this.outOfOrder++;
      return false;
    }
    if (x !== last) {
      this.xs.push(x);
      this.lastValued = false;
    }
    return true;
  }

  /** A label's value at the point at() started. */
  set(label: string, v: number | null): void {
    const i = this.xs.length - 1;
    let c = this.cols.get(label);
    if (!c) this.cols.set(label, (c = new Column()));
    const n = c.n;
    if (n && c.at[n - 1] === i) {
      // Two rows at the same x: a value wins over a null, and the later value over the earlier.
      if (v !== null) (c.values[n - 1] = v), (c.nulls[n - 1] = 0);
    } else c.push(i, v);
    if (v !== null) this.lastValued = true;
  }

  /** Labels in the order they first came. */
  labels(): string[] {
    return [...this.cols.keys()];
  }

  has(label: string): boolean {
    return this.cols.has(label);
  }

  get size(): number {
    return this.cols.size;
  }

  /** Whether a label has any value (something to draw). */
  hasValue(label: string): boolean {
    const c = this.cols.get(label);
    if (c) for (let j = 0; j < c.n; j++) if (!c.nulls[j]) return true;
    return false;
  }

  /** The sum of a label's values (to pick the busiest). */
  sum(label: string): number {
    const c = this.cols.get(label);
    let s = 0;
    if (c) for (let j = 0; j < c.n; j++) s += c.nulls[j] ? 0 : c.values[j]!; // (in order, as the values came)
    return s;
  }

  /** A label's values at every x (null where it has none). */
  column(label: string): Array<number | null> {
    const out = new Array<number | null>(this.xs.length).fill(null);
    const c = this.cols.get(label);
    if (c) for (let j = 0; j < c.n; j++) if (!c.nulls[j]) out[c.at[j]!] = c.values[j]!;
    return out;
  }

  /**
   * Cuts every line before x: a point of nulls halfway between the last
   * point and x, so that nothing is drawn across what was not measured.
   */
  breakBefore(x: number): void {
    if (!this.lastValued) return;
    const last = this.xs[this.xs.length - 1]!;
    if (x > last) this.point((last + x) / 2, {});
  }

  /** null when nothing was measured, unless `marked`: a panel whose markers say why it has no value is drawn empty. */
  panel(id: string, title: string, unit: string, notes: string[], only?: string[], marked = false): Panel | null {
    let labels = (only ?? this.labels()).filter((l) => this.hasValue(l));
    if (!labels.length && marked) labels = (only ?? this.labels()).filter((l) => this.cols.has(l));
    if (!this.xs.length || (!labels.length && !marked)) return null;
    const all = [...notes];
    if (this.outOfOrder) all.push(`rows out of time order, not drawn: ${this.outOfOrder}`);
    return downsample({ id, title, unit, labels, notes: all, data: [this.xs, ...labels.map((l) => this.column(l))] });
  }
}
