// judgeLine against lines a hostile guest writes: bytes that are not UTF-8
// (overlong forms, encoded surrogates, truncated sequences), nesting meant to
// exhaust the parser's stack (and brackets hidden in strings meant to fool the
// depth scan), text that is not JSON or not an object, keys meant to reach
// prototypes, and time keys with values no timestamp can have.
import { describe, expect, it } from 'vitest';
import { MAX_DEPTH, judgeLine, type LineVerdict } from '../../../src/collectors/guest_agent/guest-line.js';

const judge = (s: string | Buffer): LineVerdict => judgeLine(typeof s === 'string' ? Buffer.from(s, 'utf8') : s);
const why = (s: string | Buffer) => {
  const v = judge(s);
  return v.ok ? 'ok' : v.why;
};
/** `{"s":"<bytes>"}`: the bytes inside an otherwise valid JSON string. */
const inString = (bytes: number[]) => Buffer.concat([Buffer.from('{"s":"'), Buffer.from(bytes), Buffer.from('"}')]);

/** An object nested `levels` deep: `{"a":{"a":...{}...}}` (levels counts every `{`). */
const nestedObjects = (levels: number) => '{"a":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1);
/** An object holding arrays so that the deepest point is `levels` deep. */
const nestedArrays = (levels: number) => '{"a":' + '['.repeat(levels - 1) + ']'.repeat(levels - 1) + '}';

describe('judgeLine: UTF-8', () => {
  // Guards against: bytes that a lenient decoder turns into U+FFFD or into a
  // different character (overlong "/" or NUL: the classic filter bypass) being
  // accepted, and a CESU-8 / encoded lone surrogate reaching the row file.
  it.each([
    ['overlong NUL (C0 80)', [0xc0, 0x80]],
    ['overlong "/" in 2 bytes (C0 AF)', [0xc0, 0xaf]],
    ['overlong "/" in 3 bytes (E0 80 AF)', [0xe0, 0x80, 0xaf]],
    ['overlong "/" in 4 bytes (F0 80 80 AF)', [0xf0, 0x80, 0x80, 0xaf]],
    ['overlong U+07FF in 3 bytes (E0 9F BF)', [0xe0, 0x9f, 0xbf]],
    ['lone high surrogate U+D800 (ED A0 80)', [0xed, 0xa0, 0x80]],
    ['lone low surrogate U+DFFF (ED BF BF)', [0xed, 0xbf, 0xbf]],
    ['surrogate pair as CESU-8 (ED A0 BD ED B8 80)', [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]],
    ['past U+10FFFF (F4 90 80 80)', [0xf4, 0x90, 0x80, 0x80]],
    ['5-byte form (F8 88 80 80 80)', [0xf8, 0x88, 0x80, 0x80, 0x80]],
    ['a lone continuation byte (80)', [0x80]],
    ['a truncated sequence (E2 82) then ASCII', [0xe2, 0x82, 0x41]],
    ['FF', [0xff]],
    ['FE', [0xfe]],
    ['Latin-1 "é" (E9)', [0xe9]],
  ])('%s is invalid_utf8', (_what, bytes) => {
    expect(why(inString(bytes))).toBe('invalid_utf8');
  });

  it('invalid bytes outside strings, and at the very end of the line, are invalid_utf8 too', () => {
    expect(why(Buffer.from([0xc0, 0x80, 0x7b, 0x7d]))).toBe('invalid_utf8');
    expect(why(Buffer.concat([Buffer.from('{"a":1}'), Buffer.from([0xed, 0xa0, 0x80])]))).toBe('invalid_utf8');
    expect(why(Buffer.concat([Buffer.from('{"a":1}'), Buffer.from([0xf0, 0x9f])]))).toBe('invalid_utf8'); // cut mid-character
  });

  // Guards against: the check refusing real UTF-8 (2-, 3- and 4-byte forms at
  // their boundaries) or a JSON-escaped surrogate, which is valid JSON text.
  it('valid UTF-8 of every length is accepted and decoded exactly', () => {
    const text = 'é ߿ ࠀ € ￿ 𐀀 😀 \u{10FFFF}';
    const v = judge(JSON.stringify({ s: text }));
    expect(v).toEqual({ ok: true, value: { s: text }, guestT: null, text: JSON.stringify({ s: text }) });
    const esc = judge('{"s":"\\ud800 \\udfff"}');
    expect(esc.ok && esc.value.s).toBe('\ud800 \udfff');
  });
});

describe('judgeLine: nesting', () => {
  // Guards against: an off-by-one in the depth bound.
  it(`accepts nesting of exactly ${MAX_DEPTH} and refuses ${MAX_DEPTH + 1} as too_deep, for objects and for arrays`, () => {
    expect(MAX_DEPTH).toBe(64);
    expect(why(nestedObjects(64))).toBe('ok');
    expect(why(nestedObjects(65))).toBe('too_deep');
    expect(why(nestedArrays(64))).toBe('ok');
    expect(why(nestedArrays(65))).toBe('too_deep');
    // Depth is the deepest point, not the number of brackets: many siblings at depth 2 are fine.
    expect(why(`{"a":[${'[],'.repeat(10_000)}[]]}`)).toBe('ok');
  });

  // Guards against: brackets inside strings being counted (a legitimate line
  // refused), and escaped quotes ending the string in the scan (so brackets
  // the scan thinks are outside a string are counted, or real ones are not).
  it('brackets inside strings do not count, including after escaped quotes and backslashes', () => {
    const brackets = '[[[[{{{{'.repeat(50);
    expect(why(`{"s":"${brackets}","b":${nestedObjects(63)}}`)).toBe('ok');
    // An escaped quote does not end the string: the brackets after it are still inside.
    expect(why(`{"s":"\\"${brackets}\\"","b":${nestedObjects(63)}}`)).toBe('ok');
    expect(why(`{"s":"\\\\\\"${brackets}","b":${nestedObjects(63)}}`)).toBe('ok'); // \\ then \" : still inside
    // Brackets in keys do not count either.
    expect(why(`{"${brackets}":${nestedObjects(63)}}`)).toBe('ok');
    // A string ending in an escaped backslash does end: real nesting after it counts.
    expect(why(`{"s":"\\\\","b":${nestedObjects(64)}}`)).toBe('too_deep');
    expect(why(`{"s":"\\\\","b":${nestedObjects(63)}}`)).toBe('ok');
    // Closing brackets in a string do not lower the depth the scan sees.
    expect(why(`{"s":"${']]]]}}}}'.repeat(50)}","b":${nestedObjects(64)}}`)).toBe('too_deep');
  });

  // Guards against: a hostile nesting overflowing the stack of the parser (or
  // of the scan), which would throw a RangeError in a root process.
  it('a 1,000,000-deep nesting is refused as too_deep without a stack overflow, closed or not', () => {
    const deep = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
    expect(judge(deep)).toEqual({ ok: false, why: 'too_deep' });
    expect(judge('{"a":'.repeat(1_000_000) + '1' + '}'.repeat(1_000_000))).toEqual({ ok: false, why: 'too_deep' });
    expect(judge('{"a":'.repeat(1_000_000))).toEqual({ ok: false, why: 'too_deep' }); // never closed
  });

  // Guards against: closing brackets before any opening one driving the scan's
  // depth negative so that deep nesting after them passes unnoticed into the parser.
  it('stray closing brackets before a deep nesting do not get it past the check into an accepted value', () => {
    const v = judge(']'.repeat(100) + '['.repeat(100_000) + ']'.repeat(100_000));
    expect(v.ok).toBe(false);
  });
});

describe('judgeLine: JSON and objects', () => {
  // Guards against: text that is not one JSON value (JavaScript literals,
  // trailing data, two objects on a line) being accepted.
  it.each([
    [''],
    [' '],
    ['{'],
    ['}'],
    ['{"a":1,}'],
    ["{'a':1}"],
    ['{a:1}'],
    ['{"a":NaN}'],
    ['{"a":Infinity}'],
    ['{"a":undefined}'],
    ['{"a":1}{"b":2}'],
    ['{"a":1} x'],
    ['{"a":01}'],
    ['{"a":"\u0001"}'], // a raw control character in a string
    ['{"a":"\\x41"}'],
    ['\r'],
  ])('%j is invalid_json', (line) => {
    expect(why(line)).toBe('invalid_json');
  });

  // Guards against: a JSON value that is not an object becoming a row (the
  // row's `guest` is an object; arrays and scalars have no field names).
  it.each([['[]'], ['[{"a":1}]'], ['"x"'], ['42'], ['-0.5e3'], ['true'], ['false'], ['null'], [' null \r']])('%j is not_object', (line) => {
    expect(why(line)).toBe('not_object');
  });

  it('an object line is accepted with its \\r\\n line end and surrounding blanks, its value exact', () => {
    const sent = { n: 1.5, neg: -0.25, big: 1e21, s: 'a\n"b"\\', z: null, b: [true, false, {}], o: { x: [] } };
    // text: the line as written to the row (only a final CR cut), never serialized again.
    expect(judge(JSON.stringify(sent) + '\r')).toEqual({ ok: true, value: sent, guestT: null, text: JSON.stringify(sent) });
    expect(judge(` \t${JSON.stringify(sent)} `)).toEqual({ ok: true, value: sent, guestT: null, text: ` \t${JSON.stringify(sent)} ` });
    expect(judge('{}')).toEqual({ ok: true, value: {}, guestT: null, text: '{}' });
  });

  // Guards against: guest keys reaching Object.prototype, or becoming the
  // value's prototype instead of plain data that is written back out.
  it('__proto__, constructor and prototype keys are plain own data, and nothing is polluted', () => {
    const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort();
    const line = '{"__proto__":{"polluted":"yes","t":5},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"polluted":"yes"},"hasOwnProperty":1,"toString":"x","toJSON":"y"}';
    const v = judge(line);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    const o = v.value;
    expect(Object.keys(o)).toEqual(['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'toJSON']);
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(o, '__proto__')?.value).toEqual({ polluted: 'yes', t: 5 });
    expect((o as { polluted?: unknown }).polluted).toBeUndefined();
    // An inherited "t" (had __proto__ become the prototype) must not be taken as the guest's time.
    expect(v.guestT).toBeNull();
    // Written back out (as the row writer does), the keys survive as data.
    expect(JSON.parse(JSON.stringify(o))).toEqual(JSON.parse(line));
    expect(JSON.stringify(o)).toBe(line);
    const nullProto = judge('{"__proto__":null}');
    expect(nullProto.ok && Object.getPrototypeOf(nullProto.value)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect({}.constructor).toBe(Object);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoBefore);
  });
});

describe('judgeLine: guest_t', () => {
  const t = (line: string) => {
    const v = judge(line);
    if (!v.ok) throw new Error(`${line} refused: ${v.why}`);
    return v.guestT;
  };

  // Guards against: the guest's time coming from a key other than the first of
  // t, ts, time, timestamp, uptime that holds a usable value, or from a value
  // no row can carry (Infinity from 1e999 serializes as null) or that is of
  // any size (a megabyte "timestamp" copied into every row).
  it('is taken from the first of t, ts, time, timestamp, uptime, in that order of keys, not of the object', () => {
    expect(t('{"t":1.5}')).toBe(1.5);
    expect(t('{"ts":"2024-01-01T00:00:00Z"}')).toBe('2024-01-01T00:00:00Z');
    expect(t('{"time":0}')).toBe(0);
    expect(t('{"timestamp":-3}')).toBe(-3);
    expect(t('{"uptime":12345.678}')).toBe(12345.678);
    expect(t('{"uptime":3,"timestamp":4,"time":5,"ts":6,"t":7}')).toBe(7);
    expect(t('{"uptime":3,"timestamp":4,"time":5,"ts":6}')).toBe(6);
    expect(t('{"uptime":3,"timestamp":4}')).toBe(4);
    expect(t('{"a":1}')).toBeNull();
    expect(t('{"T":1,"Time":2,"tS":3}')).toBeNull(); // keys are case-sensitive
    expect(t('{"inner":{"t":1}}')).toBeNull(); // only top-level keys
  });

  it('skips non-finite numbers, strings over 64 characters, and values of other types, for the next key', () => {
    expect(t('{"t":1e999,"ts":2}')).toBe(2);
    expect(t('{"t":-1e999,"uptime":9}')).toBe(9);
    expect(t('{"t":1e999}')).toBeNull();
    expect(t(`{"t":"${'x'.repeat(65)}","time":7}`)).toBe(7);
    expect(t(`{"t":"${'x'.repeat(1 << 16)}"}`)).toBeNull();
    expect(t(`{"t":"${'x'.repeat(64)}"}`)).toBe('x'.repeat(64));
    expect(t('{"t":"","ts":1}')).toBe(''); // an empty string is a (short) string
    expect(t('{"t":null,"ts":true,"time":{},"timestamp":[1],"uptime":"u"}')).toBe('u');
    expect(t('{"t":null,"ts":true,"time":{"a":1},"timestamp":[1]}')).toBeNull();
  });
});
