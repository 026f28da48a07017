// The markers one source puts on its panels, with a cap so that a source
// that breaks all the time cannot bury the page: past the cap, markers are
// counted and the count is said in the panel's notes.
import type { Marker } from './types.js';

const MAX_PER_SOURCE = 200;

export class Marks {
  readonly list: Marker[] = [];
  private omitted = 0;
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly source: string,
    private readonly panels: string[],
  ) {}

  /** `what` groups markers for the notes ("restarts", "values dropped ..."); `panels` narrows them to some of the source's panels. */
  add(t: number, kind: 'break' | 'dropped', label: string, what: string, panels: string[] = this.panels): void {
    this.counts.set(what, (this.counts.get(what) ?? 0) + 1);
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

  /** The notes for the panels: how many of each, and how many markers were not drawn. */
  notes(): string[] {
    const out = this.counts.size ? [`marked: ${[...this.counts].map(([what, n]) => `${what} ${n}`).join(', ')}`] : [];
    if (this.omitted) out.push(`${this.omitted} more markers not drawn (at most ${MAX_PER_SOURCE} per source)`);
    return out;
  }
}
