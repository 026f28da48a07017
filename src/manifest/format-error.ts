// Turns zod issues into lines a person can act on: the key's path, what was
// expected and the value received, e.g.
//   collectors.proc.interval_ms: expected a positive integer, got "fast"
import type { z } from 'zod';
import { REDACTED, scrubSecrets } from '../util/scrub-secrets.js';

/** A key whose value may be a secret: named, its value never echoed (also nested in a value that is shown). */
const SECRET_KEY = /pass|pw|token|secret|seed|cred|key|auth|jwt|cookie|session|private|sig/i;

/** `v` with the value of every secret-shaped key, at any depth, replaced by [redacted]. */
function withoutSecretKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutSecretKeys);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, SECRET_KEY.test(k) ? REDACTED : withoutSecretKeys(x)]));
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(withoutSecretKeys(v));
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
  // A wrongly typed value of a secret-shaped key (a password where password_file's path goes) is not echoed either.
  const last = issue.path.findLast((p) => typeof p === 'string');
  return `${where}: ${issue.message}, got ${last !== undefined && SECRET_KEY.test(last) ? REDACTED : show(input)}`;
}

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map(formatIssue).join('\n');
}
