// Removes what could carry a credential from text labtel prints or records
// (error messages, collector messages, episode.json): bearer tokens and
// Authorization values, user:password@ in URLs, password=/token=/secret=
// pairs, nkey seeds, JWTs, PEM private keys and NATS credential blocks, and
// the exact values of the credentials this process loaded (registered when
// read, so a server or library that echoes one is still scrubbed).
//
// The registry is per thread: credentials are loaded on the agent's main
// thread, where NATS connects; collector workers get the patterns only.

export const REDACTED = '[redacted]';

/** A registered value shorter than this is not scrubbed word by word (it would mangle every message); the patterns still apply. */
export const MIN_REGISTERED_CHARS = 4;

const registered = new Set<string>();

/** Scrubs `value` (and its URL- and JSON-escaped forms) from everything scrubSecrets sees from now on in this thread. */
export function registerSecret(value: string): void {
  if (value.length < MIN_REGISTERED_CHARS) return;
  registered.add(value);
  const url = encodeURIComponent(value);
  if (url !== value) registered.add(url);
  const json = JSON.stringify(value).slice(1, -1);
  if (json !== value) registered.add(json);
}

/** For tests: forgets the registered values. */
export function clearRegisteredSecrets(): void {
  registered.clear();
}

const PATTERNS: Array<[RegExp, string | ((...m: string[]) => string)]> = [
  // PEM private keys and NATS .creds blocks (JWT, NKEY SEED), to their END line or the end of the text.
  // Every pattern runs on text a hostile peer may shape (a collector's message): none may backtrack over it
  // from every position (a run of a million '-' took minutes), so a run of dashes is entered at its first one only.
  [/(?<!-)-{3,}\s*BEGIN [A-Z0-9 ]*(?:PRIVATE KEY|SEED|JWT)\s*-{3,}[\s\S]*?(?:(?<!-)-{3,}\s*END [A-Z0-9 ]*-{3,}|$)/g, REDACTED],
  // JWTs (header.payload[.signature], base64url; a JSON header starts eyJ).
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)?/g, REDACTED],
  // nkey seeds: S, the key type, 56 base32 characters.
  [/\bS[UAONCPX][A-Z2-7]{56}\b/g, REDACTED],
  // user:password@ (or a bare token@) in a URL, to the last '@' before a space or quote (a password may hold '@' or '/').
  // A scheme starts where a run of scheme characters does; userinfo is bounded (a.a.a.… and a://a://… were quadratic).
  [/(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,31}:\/\/)[^\s'"<>]{0,512}@/gi, `$1${REDACTED}@`],
  // Authorization headers, to the end of the line or the value's quote.
  [/\b(authorization["']?\s*[:=]\s*["']?)[^\r\n"']+/gi, `$1${REDACTED}`],
  // Bearer / Basic tokens outside a header line.
  [/\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{6,}/gi, `$1$2${REDACTED}`],
  // A quoted value of a secret key, whole (spaces and all): "password":"a b", and NATS's CONNECT fields "pass" and "auth_token".
  [/(["'](?:password|passwd|pwd|pass|token|auth_token|secret|client_secret|api[_-]?key|access[_-]?key|seed|jwt|sig)["']\s*:\s*)"(?:[^"\\]|\\.)*"/gi, `$1"${REDACTED}"`],
  // password=..., token: ..., "secret":"..." (not password_file or token_file: those name paths).
  // Not after / . or - : a path such as /etc/labtel/token, quoted in a message, is not a key.
  [/(?<![\w/.-])(password|passwd|pwd|token|auth_token|secret|client_secret|api[_-]?key|access[_-]?key|seed)(["']?\s*[=:]\s*["']?)([^\s"'&;,}]+)/gi, `$1$2${REDACTED}`],
];

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `text` with anything that looks like, or is, a credential replaced by [redacted]. */
export function scrubSecrets(text: string): string {
  let s = String(text);
  if (registered.size > 0) {
    // Longest first, so a value containing another is removed whole.
    const values = [...registered].sort((a, b) => b.length - a.length);
    s = s.replace(new RegExp(values.map(escapeRegExp).join('|'), 'g'), REDACTED);
  }
  for (const [re, to] of PATTERNS) s = s.replace(re, to as string);
  return s;
}

/** A copy of a JSON-like value with every string (keys included) scrubbed; anything else is kept. */
export function scrubDeep<T>(value: T): T {
  if (typeof value === 'string') return scrubSecrets(value) as T;
  if (Array.isArray(value)) return value.map((v) => scrubDeep(v)) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[scrubSecrets(k)] = scrubDeep(v);
    return out as T;
  }
  return value;
}

/** An error's message (and its causes', which fs and NATS errors carry), scrubbed, for printing. */
export function scrubbedMessage(err: unknown): string {
  return scrubSecrets(err instanceof Error ? err.message : String(err));
}
