// A value from a row as text, as String() gives it, for values that came
// from a file: an object whose toString is no function (`{"toString":1}`)
// makes String() throw, and one hostile row must not take a command down.

/** String(v); where String() would throw, the name of v's kind (`[object Object]`). */
export function textOf(v: unknown): string {
  try {
    return String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}
