// One line from the guest, judged before anything is built from it: valid
// UTF-8, nested no deeper than MAX_DEPTH (checked by a scan before parsing,
// so a hostile nesting cannot exhaust the parser's stack), JSON, and an
// object (the depth scan is src/util/json-depth.ts, shared with QMP).
// JSON.parse makes `__proto__` and `constructor` plain own keys, and the
// object is only read (guest_t, whether it measures anything): the row
// carries the line's own validated text under `guest`, so it never merges
// into labtel's own objects and cannot set envelope fields or prototypes.
import { jsonDepthExceeds, MAX_JSON_DEPTH } from '../../util/json-depth.js';

export const MAX_DEPTH = MAX_JSON_DEPTH;

export type LineVerdict =
  | {
      ok: true;
      value: Record<string, unknown>;
      guestT: number | string | null;
      /** The line as validated (a final CR cut): valid JSON, an object, no newline; written as is. */
      text: string;
    }
  | { ok: false; why: 'invalid_utf8' | 'too_deep' | 'invalid_json' | 'not_object' };

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** The guest's own timestamp, from the first of these keys it sends. */
const TIME_KEYS = ['t', 'ts', 'time', 'timestamp', 'uptime'] as const;

export function judgeLine(line: Buffer): LineVerdict {
  let text: string;
  try {
    text = utf8.decode(line);
  } catch {
    return { ok: false, why: 'invalid_utf8' };
  }
  if (text.endsWith('\r')) text = text.slice(0, -1);
  if (jsonDepthExceeds(text, MAX_DEPTH)) return { ok: false, why: 'too_deep' };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, why: 'invalid_json' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, why: 'not_object' };
  const o = v as Record<string, unknown>;
  let guestT: number | string | null = null;
  for (const k of TIME_KEYS) {
    const t = Object.hasOwn(o, k) ? o[k] : undefined;
    if ((typeof t === 'number' && Number.isFinite(t)) || (typeof t === 'string' && t.length <= 64)) {
      guestT = t;
      break;
    }
  }
  return { ok: true, value: o, guestT, text };
}
