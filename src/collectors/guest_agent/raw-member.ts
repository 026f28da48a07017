// The text of one member of a JSON object, cut from the object's own text
// rather than serialized again: a qga answer's `return` is written as the
// agent sent it, so the row is never larger than the answer plus its
// envelope (JSON.stringify can make a number 5x longer: 1e20 is 21 digits).
// Only for text JSON.parse has accepted as an object: no validation here.

/** The raw text of `key`'s value in the object `text` (the last one, as JSON.parse keeps), or undefined. */
export function rawMember(text: string, key: string): string | undefined {
  let i = ws(text, 0) + 1; // past '{'
  let found: string | undefined;
  for (;;) {
    i = ws(text, i);
    if (text.charCodeAt(i) !== 34) break; // '}' (or anything unexpected): done
    const ks = i;
    i = stringEnd(text, i);
    const k = JSON.parse(text.slice(ks, i)) as string;
    i = ws(text, ws(text, i) + 1); // past ':'
    const vs = i;
    i = valueEnd(text, i);
    if (k === key) found = text.slice(vs, i);
    i = ws(text, i);
    if (text.charCodeAt(i) === 44) i++; // ','
  }
  return found;
}

function ws(s: string, i: number): number {
  for (let c = s.charCodeAt(i); c === 32 || c === 9 || c === 10 || c === 13; c = s.charCodeAt(++i));
  return i;
}

/** `s[i]` is the opening quote: the index past the closing one. */
function stringEnd(s: string, i: number): number {
  for (i++; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 34) return i + 1;
  }
  return i;
}

function valueEnd(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === 34) return stringEnd(s, i);
  if (c === 123 || c === 91) {
    let d = 0;
    for (; i < s.length; i++) {
      const x = s.charCodeAt(i);
      if (x === 34) i = stringEnd(s, i) - 1;
      else if (x === 123 || x === 91) d++;
      else if ((x === 125 || x === 93) && --d === 0) return i + 1;
    }
    return i;
  }
  // a number, true, false or null: up to the next delimiter
  for (; i < s.length; i++) {
    const x = s.charCodeAt(i);
    if (x === 44 || x === 125 || x === 93 || x === 32 || x === 9 || x === 10 || x === 13) break;
  }
  return i;
}
