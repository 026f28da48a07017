// A scan of JSON text for its nesting depth, run before JSON.parse: V8's
// JSON.parse recurses once per array/object level, so a hostile peer's
// 100,000-deep `[[[[...` would exhaust the stack (RangeError) or, caught,
// still cost the parse. Shared by the QMP client and the guest channel.

/** Deepest nesting labtel parses from a peer (QMP, the guest). */
export const MAX_JSON_DEPTH = 64;

/**
 * True when arrays/objects outside strings nest deeper than `max` anywhere in
 * `text`. Stops scanning as soon as it knows. A closing bracket never takes the
 * depth below 0, so `]]]][[[[` cannot hide its opening run.
 */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let d = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++d > max) return true;
    } else if ((c === 125 || c === 93) && d > 0) d--;
  }
  return false;
}
