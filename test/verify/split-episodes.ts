// Episodes for the split scan's differential tests (split-scan.test.ts, and
// the CLI's in test/cli/verify-split.test.ts): a generated episode with every
// collector and copies of it with their proc lines mutated.
import fs from 'node:fs';
import path from 'node:path';
import { generateEpisode } from '../../scripts/bench/gen-episode.js';

/** A fresh directory holding `clean/`, a generated 60 s episode (about 6,500 rows, 2.3 MB). */
export function cleanBase(): string {
  const base = fs.mkdtempSync('/tmp/labtel-split-scan-');
  fs.mkdirSync(path.join(base, 'clean'));
  generateEpisode(path.join(base, 'clean'), 60);
  return base;
}

/** A copy of `base`'s clean episode with its proc lines edited (line i of n; null drops it) and `tail` appended. */
export function mutated(base: string, name: string, edit: (line: string, i: number, n: number) => string | null, tail = ''): string {
  const dir = path.join(base, `m-${name.replace(/\W+/g, '-')}`);
  fs.cpSync(path.join(base, 'clean'), dir, { recursive: true });
  const file = path.join(dir, 'telemetry-proc.jsonl');
  const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
  const out = lines.map((l, i) => edit(l, i, lines.length)).filter((l) => l !== null);
  fs.writeFileSync(file, out.join('\n') + '\n' + tail);
  return dir;
}

const every = (k: number, f: (l: string) => string) => (l: string, i: number) => (i % k === k - 1 ? f(l) : l);

/** Mutations of the proc file: each a name, an edit of each line, and what is appended after the last. */
export const MUTATIONS: Array<[string, (line: string, i: number, n: number) => string | null, string?]> = [
  ['clean', (l) => l],
  ['gap in the very last row', (l, i, n) => (i === n - 2 ? null : l)],
  ['time going back', every(997, (l) => l.replace(/"t_mono_ns":\d+/, '"t_mono_ns":5'))],
  ['a field only zod rejects', every(1201, (l) => l.replace(/"pid":\d+/, '"pid":-1'))],
  ['unicode', every(301, (l) => l.replace(/"comm":"[^"]*"/, '"comm":"qému 🚀 \\u00e9"'))],
  ['huge numbers', every(499, (l) => l.replace(/"minflt":\d+/, '"minflt":9007199254740993').replace(/"majflt":\d+/, '"majflt":1e400'))],
  ['duplicate keys', every(401, (l) => l.replace(/"pid":(\d+)/, '"pid":1,"pid":$1'))],
  ['keys reordered', every(203, (l) => l.replace(/"seq":(\d+),"available_in_deployment":true/, '"available_in_deployment":true,"seq":$1'))],
  ['a __proto__ key in the last rhythm row', (l, i, n) => (i >= n - 9 && !l.includes('"tid"') ? l.replace('{', '{"__proto__":{"x":1},') : l)],
  ['stubs', every(777, (l) => l.replace(/,"pid".*/, ',"stub":"row of 2 MB"}'))],
  ['bad lines and a partial last line', every(1003, () => 'not json'), '{"source":"host_proc","t_mono'],
];
