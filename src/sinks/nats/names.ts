// Host and episode names on the wire and on disk. A name becomes one NATS
// subject token, one message-id part and one directory of `labtel pull`, so
// the mapping is injective: two different names never share a token. Bytes
// outside [A-Za-z0-9_-] are written %XX (UTF-8, upper-case hex), "%" itself
// included, so "syn.flood", "syn flood" and "syn_flood" stay three names and
// no token is "", "." or "..". A token longer than MAX_TOKEN (a long
// directory name as the episode's name) keeps its first part and ends in
// "~" and 16 hex digits of the name's SHA-256: "~" never appears otherwise.
import { createHash } from 'node:crypto';

const MAX_TOKEN = 200;
const KEEP = /^[A-Za-z0-9_-]$/;

export function nameToken(name: string): string {
  let t = '';
  for (const b of Buffer.from(name, 'utf8')) {
    const c = String.fromCharCode(b);
    t += b < 0x80 && KEEP.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (t.length <= MAX_TOKEN) return t;
  let head = t.slice(0, MAX_TOKEN - 17);
  const pct = head.lastIndexOf('%');
  if (pct >= 0 && pct > head.length - 3) head = head.slice(0, pct); // never half an escape
  return `${head}~${createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 16)}`;
}

const TOKEN = /^(?:[A-Za-z0-9_-]|%[0-9A-F]{2})+(?:~[0-9a-f]{16})?$/;

/**
 * Whether `t` is a token nameToken() makes for some name: what `labtel pull`
 * accepts as a directory name (never "", "." or "..", never a "/").
 */
export function isNameToken(t: string): boolean {
  if (t.length > MAX_TOKEN || !TOKEN.test(t)) return false;
  if (t.includes('~')) {
    // The hash stands for a name not on the wire; what is left is how nameToken() cuts one: the first
    // MAX_TOKEN - 17 characters of its encoding, less at most two so no escape is split, each escape one
    // nameToken() writes (never %41 for "A").
    const head = t.slice(0, -17);
    if (head.length < MAX_TOKEN - 19 || head.length > MAX_TOKEN - 17) return false;
    return [...head.matchAll(/%([0-9A-F]{2})/g)].every((m) => !KEEP.test(String.fromCharCode(parseInt(m[1]!, 16))));
  }
  const bytes = Buffer.from(t.replace(/%([0-9A-F]{2})|./g, (m, h: string | undefined) => (h ? String.fromCharCode(parseInt(h, 16)) : m)), 'latin1');
  const name = bytes.toString('utf8');
  return Buffer.from(name, 'utf8').equals(bytes) && nameToken(name) === t; // canonical: "%41" is not how "A" is written
}
