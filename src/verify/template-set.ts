// The row layouts of one file (src/verify/row-template.ts): learned from
// lines the parsing way found valid, then tried on each next line, the one
// that followed the last match first. What the scan needs of a row besides
// its seq, time and process_event is derived once per layout: which values
// are measurements, and whether the collector's rhythm picks such rows.
import { MEASUREMENT_PATHS } from '../rows/measurements.js';
import type { Source } from '../rows/envelope.js';
import { isMeasuredValue } from '../rows/measurement.js';
import { hasMeasuredValue } from '../rows/measurements.js';
import { layoutOf, RowTemplate, slotFor, type Slot } from './row-template.js';
import { keysFit, shapesOf } from './row-shapes.js';
import { compileCheck, tokenPlan } from './zod-check.js';

type Row = Record<string, unknown>;

/** A file of a few shapes has a few layouts; a hostile one of many stops being learned. */
const MAX_TEMPLATES = 64;
/** New layouts tried (learned or not): a hostile file of endless new layouts stops being learned. */
const MAX_LEARN_TRIES = 4096;

interface ZodLike {
  _zod: { def: { type: string }; values?: Set<unknown> };
}

/** The one value a field can hold (a literal of one value), or undefined. */
function onlyValue(schema: unknown): { value: unknown } | undefined {
  const z = (schema as ZodLike)._zod;
  if (z.def.type !== 'literal' || !z.values || z.values.size !== 1) return undefined;
  return { value: [...z.values][0] };
}

/**
 * Whether `pick(row)` gives the same answer for every row of the layout: it read only keys'
 * presence and fields that hold one value. Anything else (another field's value, the keys
 * listed) and each row is asked itself. `pick` is taken to be a function of the row alone.
 */
function constantPick(pick: (row: Row) => boolean, row: Row, fixed: (key: string) => boolean): boolean | undefined {
  let constant = true;
  const view = new Proxy(row, {
    get(target, key, receiver) {
      if (typeof key !== 'string' || (Object.hasOwn(target, key) && !fixed(key))) constant = false;
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      if (typeof key !== 'string') constant = false;
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      constant = false;
      return Reflect.ownKeys(target);
    },
    getOwnPropertyDescriptor(target, key) {
      constant = false;
      return Reflect.getOwnPropertyDescriptor(target, key);
    },
    getPrototypeOf(target) {
      constant = false;
      return Reflect.getPrototypeOf(target);
    },
  });
  const answer = pick(view);
  return constant && typeof answer === 'boolean' ? answer : undefined;
}

export class TemplateSet {
  private readonly all: RowTemplate[] = [];
  private last: RowTemplate | null = null;
  private tries = 0;
  /** A DataView of the buffer lines come in (the read buffer; the reader's own for a line cut by a read). */
  private view: DataView | null = null;
  private viewOf: Buffer | null = null;

  constructor(private readonly pick: (row: Row) => boolean) {}

  /** The template `buf[start, end)` matches (its values set), or null. */
  match(buf: Buffer, start: number, end: number): RowTemplate | null {
    const all = this.all;
    if (all.length === 0) return null;
    if (buf !== this.viewOf) {
      this.viewOf = buf;
      this.view = new DataView(buf.buffer);
    }
    const view = this.view!;
    const last = this.last;
    const first = last ? (last.next ?? last) : null;
    let hit: RowTemplate | null = null;
    if (first && first.match(buf, view, start, end)) hit = first;
    else {
      for (let i = 0; i < all.length; i++) {
        const t = all[i]!;
        if (t !== first && t.match(buf, view, start, end)) {
          hit = t;
          break;
        }
      }
    }
    if (hit) {
      if (last) last.next = hit;
      this.last = hit;
    }
    return hit;
  }

  /** Learns the layout of a line the parsing way found to be `row`, of `shape` of `source` (not a stub). */
  learn(buf: Buffer, start: number, end: number, row: Row, source: string, shape: number): void {
    if (this.all.length >= MAX_TEMPLATES || this.tries >= MAX_LEARN_TRIES) return;
    const shapes = shapesOf(source);
    // Only a row its compiled check is certain of, and whose keys fit no earlier shape (which a row of
    // the same keys with other values might pass, and would then be of that shape).
    if (!shapes || !shapes.certain[shape]!(row)) return;
    for (let j = 0; j < shape; j++) if (keysFit(row, shapes.keys[j]!)) return;
    const layout = layoutOf(buf, start, end);
    if (!layout || layout.keys.includes('stub')) return;
    if (this.all.some((t) => t.source === source && t.keys.length === layout.keys.length && t.keys.every((k, i) => k === layout.keys[i]))) return;
    // A try is a new layout: rows of a known one its bytes did not match (an escape, UTF-8) do not use up the bound.
    this.tries++;
    const fields = shapes.fields[shape]!;
    const heads = new Set((MEASUREMENT_PATHS[source as Source]?.[shape]?.paths ?? []).map((p) => p[0]));
    const segments: Uint8Array[] = [];
    const slots: Slot[] = [];
    const folded = new Set<string>();
    let seg: number[] = [0x7b];
    for (let i = 0; i < layout.keys.length; i++) {
      const key = layout.keys[i]!;
      if (!Object.hasOwn(fields, key)) return;
      const schema = fields[key];
      for (const c of `${i ? ',' : ''}"${key}":`) seg.push(c.charCodeAt(0));
      const bytes = buf.subarray(layout.starts[i]!, layout.ends[i]!);
      const only = onlyValue(schema);
      // A field of one value is part of the layout's bytes, when the line writes it as JSON.stringify does.
      if (only && !heads.has(key) && typeof only.value === 'string' && Buffer.from(JSON.stringify(only.value)).equals(bytes)) {
        for (const b of bytes) seg.push(b);
        folded.add(key);
        continue;
      }
      segments.push(Uint8Array.from(seg));
      seg = [];
      slots.push(slotFor(key, compileCheck(schema), tokenPlan(schema)));
    }
    seg.push(0x7d);
    segments.push(Uint8Array.from(seg));
    const slotOf = new Map(slots.map((s, i) => [s.key, i]));
    const measured: Array<{ slot: number; rest: readonly string[] }> = [];
    for (const path of MEASUREMENT_PATHS[source as Source]?.[shape]?.paths ?? []) {
      const slot = slotOf.get(path[0]!);
      if (slot !== undefined) measured.push({ slot, rest: path.slice(1) });
    }
    const fixed = (key: string) => folded.has(key);
    const rhythm = constantPick(this.pick, row, fixed);
    const t = new RowTemplate(source, shape, layout.keys, segments, slots, { measured, rhythm });
    // The learning line must match its own template: else the template is wrong and is dropped.
    if (!t.match(buf, new DataView(buf.buffer), start, end)) return;
    t.parsed.fill(undefined); // the learning row's values are not kept with the layout
    this.all.push(t);
  }
}

/**
 * Whether the row the template last matched has a measured value (hasMeasuredValue on its slots). Asked once
 * per match: the decoded values are let go (a template keeps no row, or a file of many layouts keeps one each).
 */
export function measuredIn(t: RowTemplate): boolean {
  const list = t.derived.measured;
  let found = false;
  for (let i = 0; i < list.length; i++) {
    const m = list[i]!;
    if (found || t.nulls[m.slot]) continue;
    // A value its plan checked on the bytes is a non-null scalar; one left to the predicate was decoded.
    if (!t.slots[m.slot]!.plan.generic) {
      if (m.rest.length === 0) found = true;
    } else if (m.rest.length === 0 ? isMeasuredValue(t.parsed[m.slot]) : hasMeasuredValue(t.parsed[m.slot], [m.rest])) found = true;
  }
  for (let i = 0; i < list.length; i++) t.parsed[list[i]!.slot] = undefined;
  return found;
}
