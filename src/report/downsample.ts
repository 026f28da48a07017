// At most about MAX_POINTS points per series, keeping each bin's largest
// value so that spikes stay, and keeping gaps: a bin with only nulls stays
// null, and where a line breaks inside a bin (a null after a value) the bin
// is drawn as its values before the break, the break itself, and its values
// after, so no line is drawn across what was not measured.
import type { Panel } from './types.js';

export const MAX_POINTS = 20_000;
/** Breaks kept per bin; past this, the rest of the bin is one point, where a series that breaks again is null (a bin is 1/MAX_POINTS of the episode). */
const MAX_CUTS_PER_BIN = 16;

type Col = Array<number | null>;

/** The largest value of col in [from, to), or null when it has none there. */
function max(col: Col, from: number, to: number): number | null {
  let best: number | null = null;
  for (let i = from; i < to; i++) {
    const v = col[i]!;
    if (v !== null && (best === null || v > best)) best = v;
  }
  return best;
}

/**
 * The first index in [from, to) where some series is null after a value of
 * its own (in the range, or just before it); -1 if none.
 */
function firstCut(cols: Col[], from: number, to: number): number {
  let cut = -1;
  for (const col of cols) {
    let seen = from > 0 && col[from - 1] !== null;
    for (let i = from; i < (cut < 0 ? to : cut); i++) {
      if (col[i] !== null) seen = true;
      else if (seen) {
        cut = i;
        break;
      }
    }
  }
  return cut;
}

/** Whether a series has a null after a value of its own in [from, to) (or just before it). */
function breaksIn(col: Col, from: number, to: number): boolean {
  let seen = from > 0 && col[from - 1] !== null;
  for (let i = from; i < to; i++) {
    if (col[i] !== null) seen = true;
    else if (seen) return true;
  }
  return false;
}

export function downsample(p: Panel, maxPoints = MAX_POINTS): Panel {
  const xs = p.data[0] as number[];
  if (xs.length <= maxPoints) return p;
  const lo = xs[0]!;
  const span = xs[xs.length - 1]! - lo || 1;
  const cols = p.data.slice(1);
  const out: Col[] = p.data.map(() => []);
  let crowded = 0;
  const emitBin = (from: number, to: number) => {
    for (let cuts = 0; from < to; cuts++) {
      if (cuts === MAX_CUTS_PER_BIN) {
        // Past the breaks a bin keeps: one point, where a series that breaks again in the rest of the bin is not drawn
        // (its largest value there would be a line across its gaps), and the others keep their largest value.
        const breaking = cols.map((col) => breaksIn(col, from, to));
        if (breaking.includes(true)) crowded++;
        out[0]!.push(xs[from]!);
        for (let c = 0; c < cols.length; c++) out[c + 1]!.push(breaking[c] ? null : max(cols[c]!, from, to));
        return;
      }
      const cut = firstCut(cols, from, to);
      if (cut !== from) {
        out[0]!.push(xs[from]!);
        const end = cut < 0 ? to : cut;
        for (let c = 0; c < cols.length; c++) out[c + 1]!.push(max(cols[c]!, from, end));
      }
      if (cut < 0) return;
      // The break as it was: null where a line breaks, the value where another goes on.
      out[0]!.push(xs[cut]!);
      for (let c = 0; c < cols.length; c++) out[c + 1]!.push(cols[c]![cut]!);
      from = cut + 1;
    }
  };
  let start = 0;
  let bin = 0;
  for (let i = 0; i <= xs.length; i++) {
    const b = i < xs.length ? Math.min(maxPoints - 1, Math.floor(((xs[i]! - lo) / span) * maxPoints)) : -1;
    if (i === xs.length || (i > start && b !== bin)) {
      emitBin(start, i);
      start = i;
    }
    bin = b;
  }
  const notes = crowded ? [...p.notes, `${crowded} stretches of 1/${maxPoints} of the time with more than ${MAX_CUTS_PER_BIN} breaks: there, a line that broke again is not drawn`] : p.notes;
  return { ...p, notes, data: out };
}
