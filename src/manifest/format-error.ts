// Turns zod issues into lines a person can act on: the key's path, what was
// expected and the value received, e.g.
//   collectors.proc.interval_ms: expected a positive integer, got "fast"
import type { z } from 'zod';
import { REDACTED, scrubSecrets } from '../util/scrub-secrets.js';

/** A key whose value may be a secret: an unknown key of this shape is named, its value never echoed. */
const SECRET_KEY = /pass|token|secret|seed|cred|key/i;

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return scrubSecrets(s.length > 80 ? s.slice(0, 77) + '...' : s);
}

function pathOf(path: PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : (out ? '.' : '') + String(p);
  return out || '(top level)';
}

export function formatIssue(issue: z.core.$ZodIssue): string {
  const where = pathOf(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const obj = (issue as { input?: Record<string, unknown> }).input ?? {};
    return issue.keys.map((k) => `${where === '(top level)' ? k : `${where}.${k}`}: unknown key, got ${SECRET_KEY.test(k) ? REDACTED : show(obj[k])}`).join('\n');
  }
  const input = (issue as { input?: unknown }).input;
  if (input === undefined) return `${where}: ${issue.message}`;
  return `${where}: ${issue.message}, got ${show(input)}`;
}

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map(formatIssue).join('\n');
}
