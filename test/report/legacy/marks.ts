// Frozen copy of src/report/marks.ts as of da5b2d9 (before the one-pass report): the old path, kept only for
// test/report/one-pass.test.ts, which holds the new report to its bytes. Do not edit.
// The markers one source puts on its panels, with a cap so that a source
// that breaks all the time cannot bury the page: past the cap, markers are
// counted and the count is said in the panel's notes.
import type { Marker } from './types.js';

const MAX_PER_SOURCE = 200;

export class Marks {
  readonly list: Marker[] = [];
  private omitted = 0;
  /** Per kind of marker: how many in all, and how many on each panel. */
  private readonly counts = new Map<string, { n: number; on: Map<string, number> }>();

  constructor(
    private readonly source: string,
    private readonly panels: string[],
  ) {}

  /** `what` groups markers for the notes ("restarts", "values dropped ..."); `panels` narrows them to some of the source's panels. */
  add(t: number, kind: 'break' | 'dropped', label: string, what: string, panels: string[] = this.panels): void {
    const c = this.counts.get(what) ?? this.counts.set(what, { n: 0, on: new Map() }).get(what)!;
    c.n++;
    for (const p of panels) c.on.set(p, (c.on.get(p) ?? 0) + 1);
    if (this.list.length >= MAX_PER_SOURCE) {
      this.omitted++;
      return;
    }
    this.list.push({ t, label: `${this.source}: ${label}`, kind, panels });
  }

  /** Whether any marker was drawn on this panel. */
  on(panel: string): boolean {
    return this.list.some((m) => m.panels?.includes(panel));
  }

  /** The notes for a panel (all the source's panels when none is named): how many of each kind it is marked with, and how many markers were not drawn. */
  notes(panel?: string): string[] {
    const mine = [...this.counts].map(([what, c]) => [what, panel === undefined ? c.n : (c.on.get(panel) ?? 0)] as const).filter(([, n]) => n > 0);
    const out = mine.length ? [`marked: ${mine.map(([what, n]) => `${what} ${n}`).join(', ')}`] : [];
    if (this.omitted) out.push(`${this.omitted} more markers not drawn (at most ${MAX_PER_SOURCE} per source)`);
    return out;
  }
}
