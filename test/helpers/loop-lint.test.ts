// Every assertion inside a loop first asserts the loop is not empty: a loop
// over an empty list asserts nothing and passes. This lint (loop-lint.ts)
// holds every test file to that, and is itself tested on the shapes it must
// catch and the proofs it must accept.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './cli.js';
import { lintLoops } from './loop-lint.js';

/** Test files under test/, relative to the repository. */
function testFiles(dir = path.join(ROOT, 'test')): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return d.name === 'fixtures' ? [] : testFiles(p);
    return /\.test\.ts$/.test(d.name) ? [path.relative(ROOT, p)] : [];
  });
}

const lint = (body: string) => lintLoops('x.test.ts', `it('t', () => {\n${body}\n});\n`).map((f) => `${f.kind} ${f.walks}`);

describe('assertions in loops', () => {
  it('no test file asserts inside a loop that nothing proves non-empty', () => {
    const files = testFiles();
    expect(files.length).toBeGreaterThan(30);
    const found = files.flatMap((f) => lintLoops(path.join(ROOT, f)).map((x) => `${f}:${x.line}: ${x.kind} over ${x.walks}`));
    expect(found, 'add expect(list.length).toBeGreaterThan(0) (or a stronger count) before each').toEqual([]);
  });

  // Regression for the field's loops over rows that an empty file passed.
  it.each([
    ['for (const r of rows) expect(r.seq).toBe(1);', 'for-of rows'],
    ['for (const [k, v] of Object.entries(row)) expect(v).not.toBeNull();', 'for-of Object.entries(row)'],
    ['for (const k in row) expect(k).toBeTruthy();', 'for-in row'],
    ['rows.forEach((r) => expect(r).toBeTruthy());', 'forEach rows'],
    ['expect(rows.every((r) => r.ok)).toBe(true);', 'every rows'],
    ['for (let i = 0; i < rows.length; i++) expect(rows[i]).toBeTruthy();', 'for for (let i = 0; i < rows.length; i++) expect(rows[i]).toBeTruthy();'],
    ['expect(other.length).toBeGreaterThan(0);\nfor (const r of rows) expect(r).toBeTruthy();', 'for-of rows'],
    ['expect(rows.length).toBeGreaterThanOrEqual(0);\nfor (const r of rows) expect(r).toBeTruthy();', 'for-of rows'],
    ['expect(rows).toHaveLength(0);\nfor (const r of rows) expect(r).toBeTruthy();', 'for-of rows'],
    ['for (const r of rows) expect(r).toBeTruthy();\nexpect(rows.length).toBeGreaterThan(0);', 'for-of rows'],
  ])('catches %j', (body, finding) => {
    expect(lint(body)).toEqual([finding]);
  });

  it.each([
    'expect(rows.length).toBeGreaterThan(0);\nfor (const r of rows) expect(r).toBeTruthy();',
    'expect(rows.length).toBeGreaterThanOrEqual(3);\nfor (const [i, r] of rows.entries()) expect(r.seq).toBe(i);',
    'expect(rows).toHaveLength(n);\nrows.forEach((r) => expect(r).toBeTruthy());',
    "expect(rows).toContain('a');\nexpect(rows.every((r) => r !== 'b')).toBe(true);",
    "expect(rows.map((r) => r.k)).toEqual(['a', 'b']);\nfor (const r of rows) expect(r).toBeTruthy();",
    'expect(Object.keys(row).length).toBeGreaterThan(0);\nfor (const [k, v] of Object.entries(row)) expect(v).toBeDefined();',
    "for (const kind of ['native', 'ts']) expect(kind).toBeTruthy();",
    'for (let i = 0; i < 3; i++) expect(i).toBeLessThan(3);',
    'for (;;) { expect(1).toBe(1); break; }',
    "for (const part of s.split('.')) expect(part).toBeDefined();",
    'for (const r of rows) if (r) log(r);',
  ])('accepts %j', (body) => {
    expect(lint(body)).toEqual([]);
  });

  it('accepts a const array literal named at module level', () => {
    expect(lintLoops('x.test.ts', "const KINDS = ['a', 'b'] as const;\nit('t', () => { for (const k of KINDS) expect(k).toBeTruthy(); });\n")).toEqual([]);
  });
});
