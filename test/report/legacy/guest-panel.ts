// Frozen copy of src/report/guest-panel.ts as of da5b2d9 (before the one-pass report): the old path, kept only for
// test/report/one-pass.test.ts, which holds the new report to its bytes. Do not edit.
// guest: the numbers its agent sends (first levels of each line), as sent:
// a key a line does not have is null there (a gap), never 0. The channel
// going down or coming back cuts the lines and is marked: the values on
// either side are not known to belong to one run of the guest's agent.
import { num, rowsOf } from './episode-rows.js';
import { Marks } from './marks.js';
import { Series } from './series.js';
import type { Marker, Panel } from './types.js';

const MAX_SERIES = 8;
/** Names of keys not drawn kept for the notes (a guest can send a new key on every line). */
const NAMES_KEPT = 1000;

export function guestPanel(dir: string): { panels: Panel[]; markers: Marker[] } {
  const marks = new Marks('guest', ['guest']);
  const guest = new Series();
  let connections: number | null = null;
  let connected = true;
  let lastSeq: number | null = null;
  /** Keys not drawn, said in the notes: past MAX_SERIES, not numbers, nested deeper than 3 levels (each held to NAMES_KEPT). */
  const left = new Set<string>();
  const text = new Set<string>();
  const deep = new Set<string>();
  const note = (set: Set<string>, key: string) => set.size < NAMES_KEPT && set.add(key);
  for (const r of rowsOf(dir, 'guest_agent')) {
    const x = (r.t_mono_ns as number) / 1e9;
    const seq = num(r.seq);
    if (lastSeq !== null && seq !== null && seq !== lastSeq + 1) {
      marks.add(x, 'break', seq > lastSeq ? `${seq - lastSeq - 1} rows missing (seq ${lastSeq}→${seq})` : `rows out of order (seq ${lastSeq}→${seq})`, 'rows missing or out of order');
      guest.breakBefore(x);
    }
    lastSeq = seq ?? lastSeq;
    if (r.kind === 'channel') {
      const n = num(r.connections);
      if (r.connected === false && connected) {
        marks.add(x, 'break', 'channel disconnected', 'disconnects');
        guest.breakBefore(x);
      } else if (n !== null && connections !== null && connections > 0 && n > connections) {
        marks.add(x, 'break', 'channel reconnected', 'reconnects');
        guest.breakBefore(x);
      }
      connected = r.connected !== false;
      if (n !== null) connections = n;
      continue;
    }
    if (r.kind !== 'line') continue;
    // (no prototype: a guest key named __proto__ is a key like any other)
    const values = Object.create(null) as Record<string, number | null>;
    const walk = (o: unknown, prefix: string, depth: number) => {
      if (depth > 2 || typeof o !== 'object' || o === null) return;
      for (const [k, v] of Object.entries(o)) {
        if (k === 'seq') continue;
        const key = `${prefix}${k}`;
        if (typeof v === 'number' && Number.isFinite(v)) {
          if (guest.has(key) || guest.size + Object.keys(values).filter((k) => !guest.has(k)).length < MAX_SERIES) values[key] = v;
          else note(left, key);
        } else if (typeof v === 'object' && v !== null) {
          if (depth < 2) walk(v, `${key}.`, depth + 1);
          else note(deep, key);
        } else if (v !== null) note(text, key); // a string or a flag: not a number to draw
      }
    };
    walk(r.guest, '', 0);
    guest.point(x, values);
  }
  const said = (set: Set<string>, what: string) => {
    if (!set.size) return [];
    const names = [...set];
    return [`${set.size >= NAMES_KEPT ? `at least ${NAMES_KEPT}` : set.size} ${what}: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', ...' : ''}`];
  };
  const notes = [
    'values as the guest sent them; a key a line lacks is a gap, and so are the channel going down or coming back and lost rows',
    ...said(left, `more keys not drawn (the first ${MAX_SERIES} the guest sent are)`),
    ...said(text, 'keys whose values are not numbers, not drawn'),
    ...said(deep, 'keys nested deeper than 3 levels, not drawn'),
    ...marks.notes('guest'),
  ];
  const p = guest.panel('guest', 'Guest telemetry (as the guest sent it)', 'value', notes, undefined, marks.on('guest'));
  return { panels: p ? [p] : [], markers: marks.list };
}
