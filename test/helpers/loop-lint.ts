// Finds assertions inside loops that nothing proves non-empty: `for (const r of
// rows) expect(r)...`, `rows.forEach((r) => expect(r)...)` and
// `expect(rows.every(...)).toBe(true)` all pass on an empty list. A loop is
// proven non-empty by an array literal with elements (inline, or a const it
// names), a counted `for` with literal bounds, or an earlier expect() on the
// very expression it walks (`.length`, `.size`, toHaveLength(n), ...).
import fs from 'node:fs';
import ts from 'typescript';

export interface LoopFinding {
  file: string;
  line: number;
  /** What the loop walks, as written. */
  walks: string;
  kind: 'for-of' | 'for-in' | 'for' | 'forEach' | 'every';
}

/** `x.entries()`, `Object.values(x)`, `[...x]` walk x: the non-empty proof is about x. */
function subjectOf(e: ts.Expression): ts.Expression {
  for (;;) {
    if (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isNonNullExpression(e)) e = e.expression;
    else if (ts.isCallExpression(e) && ts.isPropertyAccessExpression(e.expression) && ['entries', 'keys', 'values'].includes(e.expression.name.text) && e.arguments.length === 0) e = e.expression.expression;
    else if (ts.isCallExpression(e) && ts.isPropertyAccessExpression(e.expression) && /^Object\.(entries|keys|values)$/.test(e.expression.getText()) && e.arguments.length === 1) e = e.arguments[0]!;
    else if (ts.isArrayLiteralExpression(e) && e.elements.length === 1 && ts.isSpreadElement(e.elements[0]!)) e = e.elements[0]!.expression;
    else return e;
  }
}

const literalNonEmpty = (e: ts.Expression): boolean =>
  (ts.isArrayLiteralExpression(e) && e.elements.length > 0 && !e.elements.every(ts.isSpreadElement)) ||
  // s.split(sep) has at least one element, whatever s is
  (ts.isCallExpression(e) && ts.isPropertyAccessExpression(e.expression) && e.expression.name.text === 'split') ||
  (ts.isObjectLiteralExpression(e) && e.properties.length > 0) ||
  (ts.isCallExpression(e) && ts.isPropertyAccessExpression(e.expression) && e.expression.name.text === 'map' && literalNonEmpty(subjectOf(e.expression.expression)));

/** A module- or block-level `const NAME = [literal, ...]`. */
function constLiteral(sf: ts.SourceFile, name: string): ts.Expression | undefined {
  let found: ts.Expression | undefined;
  const visit = (n: ts.Node) => {
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === name && n.initializer && ts.getCombinedNodeFlags(n) & ts.NodeFlags.Const) found = n.initializer;
    if (!found) ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

function provenByConstruction(sf: ts.SourceFile, e: ts.Expression): boolean {
  const s = subjectOf(e);
  if (literalNonEmpty(s)) return true;
  if (ts.isIdentifier(s)) {
    const init = constLiteral(sf, s.text);
    if (init && literalNonEmpty(subjectOf(init))) return true;
  }
  return false;
}

/**
 * A counted `for` that takes at least one turn: `for (;;)`, literal bounds
 * (`i = 0; i < 3`), or `i = 0; i < xs.length` with xs proven non-empty.
 */
function countedLoop(sf: ts.SourceFile, f: ts.ForStatement): boolean {
  const c = f.condition;
  if (!c) return true;
  const init = f.initializer && ts.isVariableDeclarationList(f.initializer) ? f.initializer.declarations[0]?.initializer : undefined;
  if (!init || !ts.isBinaryExpression(c) || !ts.isNumericLiteral(init)) return false;
  const op = c.operatorToken.kind;
  const bound = c.right;
  if (ts.isNumericLiteral(bound)) return (op === ts.SyntaxKind.LessThanToken && Number(init.text) < Number(bound.text)) || (op === ts.SyntaxKind.LessThanEqualsToken && Number(init.text) <= Number(bound.text));
  if (!ts.isPropertyAccessExpression(bound) || bound.name.text !== 'length' || Number(init.text) > (op === ts.SyntaxKind.LessThanEqualsToken ? 1 : 0)) return false;
  const xs = bound.expression;
  if (ts.isIdentifier(xs)) {
    const lit = constLiteral(sf, xs.text);
    if (lit && (literalNonEmpty(lit) || (ts.isStringLiteralLike(lit) && lit.text.length > 0))) return true;
  }
  return proven(f, xs);
}

const isExpectCall = (n: ts.Node): boolean => ts.isCallExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'expect';

function containsExpect(n: ts.Node): boolean {
  let yes = false;
  const visit = (c: ts.Node) => {
    if (yes) return;
    if (isExpectCall(c)) yes = true;
    else ts.forEachChild(c, visit);
  };
  visit(n);
  return yes;
}

const norm = (s: string) => s.replace(/\s+/g, '');
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether `stmtText` (an expect chain) asserts that `subject` has at least one element. */
function assertsNonEmpty(stmtText: string, subject: string): boolean {
  const t = norm(stmtText);
  const s = escape(norm(subject));
  const positive = '(toBeGreaterThan\\((?!-)|toBeGreaterThanOrEqual\\((?!0\\))|toBe\\((?!0\\))[^)]|toEqual\\((?!0\\))[^)])';
  const of = `(${s}|Object\\.(keys|values|entries)\\(${s}\\))`;
  return (
    new RegExp(`expect\\(${of}\\.(length|size)(,[^)]*)?\\)\\.${positive}`).test(t) ||
    new RegExp(`expect\\(${s}(,[^)]*)?\\)\\.(toHaveLength\\((?!0\\))|toEqual\\(\\[[^\\]]|toStrictEqual\\(\\[[^\\]]|toContain\\(|toContainEqual\\(|not\\.toEqual\\(\\[\\]\\))`).test(t) ||
    // expect(xs.map(f)).toEqual([a, ...]): as many elements as the literal
    new RegExp(`^expect\\(${s}\\.map\\(.*\\)\\)\\.(toEqual|toStrictEqual)\\(\\[[^\\]]`).test(t)
  );
}

/** Statements before `node` in every block that encloses it: where a proof may stand. */
function precedingStatements(node: ts.Node): ts.Node[] {
  const out: ts.Node[] = [];
  let child: ts.Node = node;
  for (let p = node.parent; p; child = p, p = p.parent) {
    const list = ts.isBlock(p) || ts.isSourceFile(p) ? p.statements : undefined;
    if (!list) continue;
    for (const s of list) {
      if (s.pos >= child.pos) break;
      out.push(s);
    }
  }
  return out;
}

function proven(node: ts.Node, subject: ts.Expression): boolean {
  const text = subjectOf(subject).getText();
  return precedingStatements(node).some((s) => {
    let yes = false;
    const visit = (c: ts.Node) => {
      if (yes) return;
      if (ts.isExpressionStatement(c) && containsExpect(c) && assertsNonEmpty(c.getText(), text)) yes = true;
      else ts.forEachChild(c, visit);
    };
    visit(s);
    return yes;
  });
}

export function lintLoops(file: string, text = fs.readFileSync(file, 'utf8')): LoopFinding[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: LoopFinding[] = [];
  const report = (n: ts.Node, walks: ts.Expression | undefined, kind: LoopFinding['kind']) =>
    out.push({ file, line: sf.getLineAndCharacterOfPosition(n.getStart()).line + 1, walks: walks ? walks.getText() : n.getText().split('\n')[0]!, kind });
  const visit = (n: ts.Node) => {
    if ((ts.isForOfStatement(n) || ts.isForInStatement(n)) && containsExpect(n.statement)) {
      if (!provenByConstruction(sf, n.expression) && !proven(n, n.expression)) report(n, n.expression, ts.isForOfStatement(n) ? 'for-of' : 'for-in');
    } else if (ts.isForStatement(n) && containsExpect(n.statement)) {
      if (!countedLoop(sf, n)) report(n, undefined, 'for');
    } else if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression)) {
      const name = n.expression.name.text;
      const recv = n.expression.expression;
      const cb = n.arguments[0];
      if (name === 'forEach' && cb && containsExpect(cb) && !provenByConstruction(sf, recv) && !proven(n, recv)) report(n, recv, 'forEach');
      // expect(xs.every(...)).toBe(true): true for an empty xs.
      if (name === 'every' && n.parent && isExpectCall(n.parent) && /^\s*\.toBe\(true\)/.test(text.slice(n.parent.end)) && !provenByConstruction(sf, recv) && !proven(n, recv)) report(n, recv, 'every');
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}
