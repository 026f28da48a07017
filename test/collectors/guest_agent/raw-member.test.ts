// rawMember cuts a qga answer's `return` from the answer's own text, so the
// row holds what the agent sent rather than a re-serialization (which made
// `1e20` 21 digits: a row 4-5x its answer). Guards against cutting the
// wrong member (escaped keys, a key inside a string or nested object, the
// first of duplicated keys where JSON.parse keeps the last) or a cut that
// is not the same value.
import { describe, expect, it } from 'vitest';
import { rawMember } from '../../../src/collectors/guest_agent/raw-member.js';

describe('rawMember', () => {
  it.each([
    ['{"return": [1e20, 1e20]}', '[1e20, 1e20]'],
    ['{"return":1e20}', '1e20'],
    ['{"return":-0.5e-3 }', '-0.5e-3'],
    ['{ "id" : "x" , "return" : {"a": "}\\"{"} }', '{"a": "}\\"{"}'],
    ['{"a":{"return":1},"return":2}', '2'],
    ['{"s":"\\"return\\": 9","return":null}', 'null'],
    ['{"return":1,"return":[true]}', '[true]'],
    ['{"retu\\u0072n":"esc"}', '"esc"'],
    ['{"return":"\\u0001\\ud800"}', '"\\u0001\\ud800"'],
    ['\t{"x":[[],{}],"return":false}\r', 'false'],
  ])('%s: %s', (text, want) => {
    expect(rawMember(text, 'return')).toBe(want);
    expect(JSON.parse(rawMember(text, 'return')!)).toStrictEqual((JSON.parse(text) as { return: unknown }).return);
  });

  it('undefined when there is no such member', () => {
    expect(rawMember('{"error":{"class":"x"}}', 'return')).toBeUndefined();
    expect(rawMember('{}', 'return')).toBeUndefined();
  });
});
