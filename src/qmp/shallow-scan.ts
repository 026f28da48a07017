// The top-level keys of a JSON object, and its "id" when that is a string,
// read without parsing what is nested: for a message too deep to parse, so a
// reply that is too deep can still fail the command it answers at once.

export interface ShallowMembers {
  /** Top-level keys (at most 16, each at most 64 characters). */
  keys: Set<string>;
  /** The top-level "id" when it is a string of at most 256 characters, else null. */
  id: string | null;
}

const parseToken = (tok: string): string | null => {
  try {
    const v: unknown = JSON.parse(tok);
    return typeof v === 'string' ? v : null;
  } catch {
    return null;
  }
};

export function shallowMembers(text: string): ShallowMembers {
  const out: ShallowMembers = { keys: new Set(), id: null };
  let d = 0;
  let inString = false;
  let start = -1; // where a string that matters (a key, or the id's value) began
  let expectKey = false;
  let wantId = false; // the last top-level key was "id" and its value has not begun
  let sawColon = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) {
        inString = false;
        if (start >= 0) {
          const tok = text.slice(start, i + 1);
          start = -1;
          if (expectKey) {
            expectKey = false;
            const key = tok.length <= 66 ? parseToken(tok) : null;
            if (key !== null && out.keys.size < 16) out.keys.add(key);
            wantId = key === 'id';
            sawColon = false;
          } else if (wantId) {
            wantId = false;
            out.id = tok.length <= 258 ? parseToken(tok) : null;
          }
        }
      }
      continue;
    }
    if (c === 32 || c === 9 || c === 10 || c === 13) continue;
    if (c === 34) {
      inString = true;
      if (d === 1 && (expectKey || (wantId && sawColon))) start = i;
      continue;
    }
    if (d === 1 && wantId) {
      if (c === 58 && !sawColon) {
        sawColon = true;
        continue;
      }
      wantId = false; // the id's value is not a string
    }
    if (c === 123 || c === 91) {
      d++;
      if (d === 1 && c === 123) expectKey = true;
    } else if (c === 125 || c === 93) {
      if (d > 0) d--;
    } else if (c === 44 && d === 1) expectKey = true;
  }
  return out;
}
