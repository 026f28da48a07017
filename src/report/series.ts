// Series keyed by label, sampled at shared x values (seconds on the episode
// clock). A label with no value at an x is null there: a gap in its line,
// never 0. A row out of time order is not drawn (and counted).
import { downsample } from './downsample.js';
import type { Panel } from './types.js';

export class Series {
  readonly xs: number[] = [];
  readonly cols = new Map<string, Array<number | null>>();
  /** Rows whose time was before the previous row's: not drawn. */
  outOfOrder = 0;

  /** Values at x; labels not given are null there. Returns false for an x before the last one. */
  point(x: number, values: Record<string, number | null>): boolean {
    const last = this.xs.length ? this.xs[this.xs.length - 1]! : -Infinity;
    if (x < last) {
      this.outOfOrder++;
      return false;
    }
    let i = this.xs.length - 1;
    if (x !== last) {
      i = this.xs.length;
      this.xs.push(x);
      for (const c of this.cols.values()) c.push(null);
    }
    for (const [k, v] of Object.entries(values)) {
      let c = this.cols.get(k);
      if (!c) this.cols.set(k, (c = new Array<number | null>(this.xs.length).fill(null)));
      // Two rows at the same x: a value wins over a null, and the later value over the earlier.
      if (v !== null || c[i] === undefined) c[i] = v;
    }
    return true;
  }

  /** Whether the last point has any value (a line that a break must cut). */
  private lastHasValue(): boolean {
    const i = this.xs.length - 1;
    if (i < 0) return false;
    for (const c of this.cols.values()) if (c[i] !== null) return true;
    return false;
  }

  /**
   * Cuts every line before x: a point of nulls halfway between the last
   * point and x, so that nothing is drawn across what was not measured.
   */
  breakBefore(x: number): void {
    if (!this.lastHasValue()) return;
    const last = this.xs[this.xs.length - 1]!;
    if (x > last) this.point((last + x) / 2, {});
  }

  /** null when nothing was measured, unless `marked`: a panel whose markers say why it has no value is drawn empty. */
  panel(id: string, title: string, unit: string, notes: string[], only?: string[], marked = false): Panel | null {
    let labels = (only ?? [...this.cols.keys()]).filter((l) => this.cols.get(l)?.some((v) => v !== null));
    if (!labels.length && marked) labels = (only ?? [...this.cols.keys()]).filter((l) => this.cols.has(l));
    if (!this.xs.length || (!labels.length && !marked)) return null;
    const all = [...notes];
    if (this.outOfOrder) all.push(`rows out of time order, not drawn: ${this.outOfOrder}`);
    return downsample({ id, title, unit, labels, notes: all, data: [this.xs, ...labels.map((l) => this.cols.get(l)!)] });
  }
}
