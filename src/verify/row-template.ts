// A row's layout learned from one line, to check the next lines of that
// layout on their bytes, without JSON.parse: rows of one shape come out of
// JSON.stringify with the same keys in the same order, so a line matches
// when its bytes between the values are the learned ones and each value is
// one JSON token its field's schema accepts (src/verify/zod-check.ts, from
// the zod schemas). A line that matches is exactly a row JSON.parse would
// give with those keys and values, which passes that shape; anything else
// (whitespace, an escape, a byte over 0x7e in a string, other keys or order)
// does not match and goes the parsing way. Numbers are read as JSON.parse
// reads them (up to 15 digits exactly; others through Number() of the
// token, the same conversion). Every layout is matched by one shared
// function over the layout's data (the learned bytes compared 4 at a time,
// each value by its field's plan), which V8 optimizes once for every file.
import type { Check, TokenPlan } from './zod-check.js';

/** Buffer's own latin1 decoder (no argument normalization): Node has it on every Buffer, @types/node does not say so. */
const latin1 = (buf: Buffer, start: number, end: number): string => (buf as unknown as { latin1Slice(s: number, e: number): string }).latin1Slice(start, end);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const DOT = 0x2e;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const PLUS = 0x2b;

/** What a line's layout is made of: keys in order and where each value starts and ends. */
export interface Layout {
  keys: string[];
  starts: number[];
  ends: number[];
}

/**
 * The top level of a compact JSON object line: `{"k":v,"k":v}` with no whitespace, keys of
 * printable ASCII without escapes, no key twice. Null for any other line (it is never
 * learned). Values are only delimited here; the caller has JSON.parse's row for them.
 */
export function layoutOf(buf: Uint8Array, start: number, end: number): Layout | null {
  if (end - start < 2 || buf[start] !== 0x7b || buf[end - 1] !== 0x7d) return null;
  const keys: string[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  let p = start + 1;
  if (p === end - 1) return { keys, starts, ends };
  for (;;) {
    if (buf[p] !== QUOTE) return null;
    let q = p + 1;
    while (q < end && buf[q] !== QUOTE) {
      const c = buf[q]!;
      if (c === BACKSLASH || c < 0x20 || c > 0x7e) return null;
      q++;
    }
    if (q + 1 >= end || buf[q + 1] !== 0x3a) return null;
    const key = String.fromCharCode(...buf.subarray(p + 1, q));
    if (keys.includes(key)) return null;
    keys.push(key);
    const v = q + 2;
    const e = valueEnd(buf, v, end - 1);
    if (e < 0) return null;
    starts.push(v);
    ends.push(e);
    if (e === end - 1) return { keys, starts, ends };
    if (buf[e] !== 0x2c) return null;
    p = e + 1;
  }
}

/** Where the JSON value at `p` ends (exclusive), by delimiters only, or -1; `limit` is the object's closing brace. */
function valueEnd(buf: Uint8Array, p: number, limit: number): number {
  const c = buf[p];
  if (c === 0x7b || c === 0x5b) return containerEnd(buf, p, limit);
  if (c === QUOTE) {
    for (let q = p + 1; q < limit; q++) {
      const b = buf[q]!;
      if (b === BACKSLASH) q++;
      else if (b === QUOTE) return q + 1;
    }
    return -1;
  }
  let q = p;
  while (q < limit && buf[q] !== 0x2c) q++;
  return q === p ? -1 : q;
}

/** The end of the object or array at `p` (brackets counted outside strings), or -1. */
function containerEnd(buf: Uint8Array, p: number, limit: number): number {
  let depth = 0;
  for (let q = p; q < limit; q++) {
    const b = buf[q]!;
    if (b === QUOTE) {
      for (q++; q < limit; q++) {
        const s = buf[q]!;
        if (s === BACKSLASH) q++;
        else if (s === QUOTE) break;
      }
      if (q >= limit) return -1;
    } else if (b === 0x7b || b === 0x5b) depth++;
    else if (b === 0x7d || b === 0x5d) {
      depth--;
      if (depth === 0) return q + 1;
    }
  }
  return -1;
}

/** The largest object or array a slot keeps to pass the same bytes again without JSON.parse (null_reasons, a disk's counters). */
const MAX_KEPT = 16 << 10;

/** How one value of a template is checked on its bytes. */
export interface Slot {
  key: string;
  /** The field's predicate (compileCheck), for a value the plan leaves to it. */
  check: Check;
  plan: TokenPlan;
  /** Whether the value is a measurement's (its nulls and parsed entries are kept). */
  measured: boolean;
  /** The last object or array taken in this slot, its bytes and parsed value: the same bytes pass again without JSON.parse. */
  lastBytes: Buffer | null;
  lastParsed: unknown;
}

export function slotFor(key: string, check: Check, plan: TokenPlan): Slot {
  return { key, check, plan, measured: false, lastBytes: null, lastParsed: undefined };
}

/**
 * A learned layout: `segments` are the bytes between values (`{"source":"host_proc","t_mono_ns":`,
 * `,"seq":`, ..., `}`), a value slot between each two. A field that can hold one value only (the
 * source's literal) is folded into the bytes.
 */
export class RowTemplate {
  /** Per slot, set by a match: whether a measurement's value was null; a measurement's decoded value, until measuredIn reads it. */
  readonly nulls: Uint8Array;
  readonly parsed: unknown[];
  /** Set by a match: the values of the seq and t_mono_ns slots, and process_event's (a string, else null). */
  seq = 0;
  t = 0;
  processEvent: string | null = null;
  /** The slots of seq, t_mono_ns and process_event, or -1. */
  readonly seqSlot: number;
  readonly tSlot: number;
  readonly eventSlot: number;
  /** The template tried next after this one matched (the row that followed it last time). */
  next: RowTemplate | null = null;
  /** The layout as data for matchLayout. */
  private readonly code: LayoutCode;

  constructor(
    readonly source: string,
    readonly shape: number,
    /** The keys of the rows it matches, in order. */
    readonly keys: readonly string[],
    segments: Uint8Array[],
    readonly slots: Slot[],
    /** What the scan derives once per template: the measurement slots, and the rhythm's answer when it is the same for every row. */
    readonly derived: { measured: Array<{ slot: number; rest: readonly string[] }>; rhythm: boolean | undefined },
  ) {
    this.nulls = new Uint8Array(slots.length);
    this.parsed = new Array<unknown>(slots.length).fill(undefined);
    this.seqSlot = slots.findIndex((s) => s.key === 'seq');
    this.tSlot = slots.findIndex((s) => s.key === 't_mono_ns');
    this.eventSlot = slots.findIndex((s) => s.key === 'process_event');
    for (const m of derived.measured) slots[m.slot]!.measured = true;
    this.code = layoutCode(this, segments);
  }

  /** Whether `buf[start, end)` is a row of this layout that passes its shape (view: a DataView of buf's whole ArrayBuffer); sets the fields above. */
  match(buf: Buffer, view: DataView, start: number, end: number): boolean {
    return matchLayout(this.code, buf, view, start, end, this);
  }
}

/** What a scalar token left behind: its number (for seq and t_mono_ns), whether it was null, process_event's string. */
interface Scratch {
  value: number;
  isNull: number;
  str: string | null;
}

/** The scratch scalar() fills in, shared by every match (one thread, one match at a time). */
const S: Scratch = { value: 0, isNull: 0, str: null };

/** A layout's bytes and value plans as data, for the one shared matcher (matchLayout). */
interface LayoutCode {
  /** Per segment: its length, its bytes as little-endian 32-bit words at `wordAt` (the last one overlapping), or its bytes when shorter than 4. */
  segLen: Int32Array;
  words: Uint32Array[];
  wordAt: Int32Array[];
  bytes: Uint8Array[];
  /** Per slot: 0 scalar, 1 scalar that sets seq, 2 t, 3 process_event, 4 anyValue; measured (nulls kept). */
  mode: Int8Array;
  measured: Uint8Array;
  plans: TokenPlan[];
}

/**
 * A layout as data for matchLayout, the one function every layout of every file runs.
 * (A function generated per layout, as before, ran interpreted until V8 optimized each one: on the
 * 300,094-row bench episode that warm-up was ~60-100 ms of CPU over its ~20 layouts.)
 */
function layoutCode(t: RowTemplate, segments: Uint8Array[]): LayoutCode {
  const words: Uint32Array[] = [];
  const wordAt: Int32Array[] = [];
  for (const seg of segments) {
    const view = new DataView(seg.buffer, seg.byteOffset, seg.length);
    const at: number[] = [];
    if (seg.length >= 4) {
      for (let j = 0; j + 4 <= seg.length; j += 4) at.push(j);
      if (seg.length % 4) at.push(seg.length - 4);
    }
    wordAt.push(Int32Array.from(at));
    words.push(Uint32Array.from(at.map((j) => view.getUint32(j, true))));
  }
  const mode = new Int8Array(t.slots.length);
  const measured = new Uint8Array(t.slots.length);
  t.slots.forEach((slot, k) => {
    const decode = ((k === t.seqSlot || k === t.tSlot) && slot.plan.floatFree !== 0) || (k === t.eventSlot && !slot.plan.options);
    mode[k] = slot.plan.generic || decode ? 4 : k === t.seqSlot ? 1 : k === t.tSlot ? 2 : k === t.eventSlot ? 3 : 0;
    measured[k] = slot.measured ? 1 : 0;
  });
  return { segLen: Int32Array.from(segments.map((s) => s.length)), words, wordAt, bytes: segments.map((s) => Uint8Array.from(s)), mode, measured, plans: t.slots.map((s) => s.plan) };
}

/**
 * Whether `buf[start, end)` is a row of the layout: the learned bytes compared 4 at a time, each
 * value by its field's plan (scalar; anyValue for the others), setting the template's values.
 */
function matchLayout(c: LayoutCode, buf: Buffer, view: DataView, start: number, end: number, t: RowTemplate): boolean {
  t.processEvent = null;
  const base = buf.byteOffset;
  const segLen = c.segLen;
  const slots = c.mode.length;
  let p = start;
  for (let k = 0; k < segLen.length; k++) {
    const len = segLen[k]!;
    if (p + len > end) return false;
    if (len >= 4) {
      const w = c.words[k]!;
      const at = c.wordAt[k]!;
      for (let i = 0; i < w.length; i++) if (view.getUint32(base + p + at[i]!, true) !== w[i]) return false;
    } else {
      const b = c.bytes[k]!;
      for (let i = 0; i < len; i++) if (buf[p + i] !== b[i]) return false;
    }
    p += len;
    if (k >= slots) break;
    const m = c.mode[k]!;
    if (m === 4) {
      p = anyValue(t, k, buf, p, end);
      if (p < 0) return false;
      continue;
    }
    p = scalar(buf, p, end, c.plans[k]!, S);
    if (p < 0) return false;
    if (m === 1) t.seq = S.value;
    else if (m === 2) t.t = S.value;
    else if (m === 3) t.processEvent = S.str;
    if (c.measured[k]) t.nulls[k] = S.isNull;
  }
  return p === end;
}

/**
 * The scalar JSON token at `p` if `plan` takes it (a number within its bounds, a string of its
 * options or lengths, null, a boolean): the token's end, or -1. Sets S.value to a number's value
 * (S.value is exact for a number the plan may not need: see floatFits), S.isNull, S.str to a string.
 */
function scalar(buf: Buffer, p: number, end: number, plan: TokenPlan, S: Scratch): number {
  let c = buf[p]!;
  S.isNull = 0;
  S.str = null;
  if (c === MINUS || (c >= ZERO && c <= NINE)) {
    if (!plan.numOk) return -1;
    const neg = c === MINUS;
    let q = neg ? p + 1 : p;
    if (q >= end) return -1;
    c = buf[q]!;
    let v = 0;
    if (c === ZERO) q++;
    else if (c > ZERO && c <= NINE) {
      v = c - ZERO;
      q++;
      while (q < end && (c = buf[q]!) >= ZERO && c <= NINE) {
        v = v * 10 + (c - ZERO);
        q++;
      }
    } else return -1;
    let value: number;
    if (q < end && ((c = buf[q]!) === DOT || c === LOWER_E || c === UPPER_E)) {
      q = fractionEnd(buf, q, end);
      if (q < 0) return -1;
      if (plan.floatFree && floatFits(buf, p, q, plan.floatFree)) {
        // Finite and within the plan's bound whatever its value; computed only for seq and t_mono_ns, which are integers.
        S.value = NaN;
        return q;
      }
      value = Number(latin1(buf, p, q));
      if (!Number.isFinite(value) || (plan.int && !Number.isSafeInteger(value))) return -1;
    } else if (q - p > (neg ? 16 : 15)) {
      value = Number(latin1(buf, p, q));
      if (!Number.isFinite(value) || (plan.int && !Number.isSafeInteger(value))) return -1;
    } else value = neg ? -v : v;
    if (value < plan.min || (value === plan.min && !plan.minIncl) || value > plan.max || (value === plan.max && !plan.maxIncl)) return -1;
    S.value = value;
    return q;
  }
  if (c === QUOTE) {
    let q = p + 1;
    while (q < end && (c = buf[q]!) !== QUOTE) {
      if (c === BACKSLASH || c < 0x20 || c > 0x7e) return -1; // escapes and UTF-8: the parsing way
      q++;
    }
    if (q >= end) return -1;
    const len = q - p - 1;
    const options = plan.options;
    if (options) {
      for (let o = 0; o < options.length; o++) {
        const opt = options[o]!;
        if (opt.length !== len) continue;
        let i = 0;
        while (i < len && opt.charCodeAt(i) === buf[p + 1 + i]) i++;
        if (i === len) {
          S.str = opt;
          return q + 1;
        }
      }
      return -1;
    }
    // ASCII without escapes: its length in UTF-16 units is its byte count.
    if (!plan.strOk || len < plan.minLen || len > plan.maxLen) return -1;
    return q + 1;
  }
  if (c === 0x6e) {
    if (!plan.nullOk || buf[p + 1] !== 0x75 || buf[p + 2] !== 0x6c || buf[p + 3] !== 0x6c) return -1;
    S.isNull = 1;
    return p + 4;
  }
  if (c === 0x74) return plan.boolOk && buf[p + 1] === 0x72 && buf[p + 2] === 0x75 && buf[p + 3] === 0x65 ? p + 4 : -1;
  if (c === 0x66) return plan.boolOk && buf[p + 1] === 0x61 && buf[p + 2] === 0x6c && buf[p + 3] === 0x73 && buf[p + 4] === 0x65 ? p + 5 : -1;
  return -1;
}

/**
 * Any JSON value at `p` checked by the slot's predicate (decoded; an object or array through
 * JSON.parse, or the slot's last one when its bytes are the same): the end of the value, or -1.
 */
function anyValue(t: RowTemplate, k: number, buf: Buffer, p: number, end: number): number {
  const slot = t.slots[k]!;
  const b = buf[p]!;
  let value: unknown;
  let q: number;
  if (b === MINUS || (b >= ZERO && b <= NINE)) {
    q = numberEnd(buf, p, end);
    if (q < 0) return -1;
    value = Number(latin1(buf, p, q));
  } else if (b === QUOTE) {
    q = p + 1;
    for (; q < end; q++) {
      const ch = buf[q]!;
      if (ch === QUOTE) break;
      if (ch === BACKSLASH || ch < 0x20 || ch > 0x7e) return -1; // escapes and UTF-8: the parsing way
    }
    if (q >= end) return -1;
    value = latin1(buf, p + 1, q);
    q++;
  } else if (b === 0x6e || b === 0x74 || b === 0x66) {
    const word = b === 0x6e ? 'null' : b === 0x74 ? 'true' : 'false';
    for (let i = 1; i < word.length; i++) if (buf[p + i] !== word.charCodeAt(i)) return -1;
    q = p + word.length;
    if (q > end) return -1;
    value = b === 0x6e ? null : b === 0x74;
  } else if (b === 0x7b || b === 0x5b) {
    q = containerEnd(buf, p, end);
    if (q < 0) return -1;
    const last = slot.lastBytes;
    if (last && last.length === q - p && last.equals(buf.subarray(p, q))) value = slot.lastParsed;
    else {
      try {
        value = JSON.parse(buf.toString('utf8', p, q));
      } catch {
        return -1;
      }
      if (!slot.check(value)) return -1;
      // Only a small one is kept: a file of many layouts with large objects would keep a line's worth per slot.
      if (q - p <= MAX_KEPT) {
        slot.lastBytes = Buffer.from(buf.subarray(p, q));
        slot.lastParsed = value;
      }
    }
  } else return -1;
  if (!(b === 0x7b || b === 0x5b) && !slot.check(value)) return -1;
  if (k === t.eventSlot) t.processEvent = typeof value === 'string' ? value : null;
  if (k === t.seqSlot) t.seq = value as number;
  else if (k === t.tSlot) t.t = value as number;
  t.nulls[k] = value === null ? 1 : 0;
  if (slot.measured) t.parsed[k] = value; // for measuredIn, which lets go of it
  return q;
}

/** The end of the JSON number at `p` (its grammar exactly), or -1. */
function numberEnd(buf: Uint8Array, p: number, end: number): number {
  let q = p;
  if (buf[q] === MINUS) q++;
  if (q >= end) return -1;
  const first = buf[q]!;
  if (first === ZERO) q++;
  else if (first > ZERO && first <= NINE) {
    q++;
    while (q < end && buf[q]! >= ZERO && buf[q]! <= NINE) q++;
  } else return -1;
  if (q < end && (buf[q] === DOT || buf[q] === LOWER_E || buf[q] === UPPER_E)) return fractionEnd(buf, q, end);
  return q;
}

/**
 * Whether the number token `buf[p, q)` passes a plan of floatFree `kind` without computing it: a
 * decimal without exponent of at most 300 characters is finite and, unless it is 0, at least
 * 1e-299 in size (no underflow to 0); 2 wants no '-', 3 also a digit other than 0.
 */
function floatFits(buf: Uint8Array, p: number, q: number, kind: number): boolean {
  if (q - p > 300) return false;
  let nonzero = false;
  for (let i = p; i < q; i++) {
    const c = buf[i]!;
    if (c === LOWER_E || c === UPPER_E) return false;
    if (c > ZERO && c <= NINE) nonzero = true;
  }
  if (kind === 1) return true;
  if (buf[p] === MINUS) return false;
  return kind === 2 || nonzero;
}

/** The end of a JSON number's fraction and exponent starting at `q` (its grammar exactly), or -1. */
function fractionEnd(buf: Uint8Array, q: number, end: number): number {
  if (buf[q] === DOT) {
    q++;
    const d = q;
    while (q < end && buf[q]! >= ZERO && buf[q]! <= NINE) q++;
    if (q === d) return -1;
  }
  if (q < end && (buf[q] === LOWER_E || buf[q] === UPPER_E)) {
    q++;
    if (q < end && (buf[q] === PLUS || buf[q] === MINUS)) q++;
    const d = q;
    while (q < end && buf[q]! >= ZERO && buf[q]! <= NINE) q++;
    if (q === d) return -1;
  }
  return q;
}
