// NATS credentials, read at connect time from the files the manifest or the
// flags name (never inlined), or from the environment: a .creds file (user
// JWT + nkey seed), an nkey seed file, a token file, or a user with a
// password file. A file is refused, as ssh refuses a private key, when group
// or others may access it or it is owned by someone else than labtel's user
// or root. Every secret read is registered with the scrubber, so no message
// labtel prints or records carries it.
import fs from 'node:fs';
import { jwtAuthenticator, nkeyAuthenticator, type Authenticator } from '@nats-io/nats-core';
import { fromSeed } from '@nats-io/nkeys';
import { registerSecret } from '../../util/scrub-secrets.js';

/** The credential keys of sinks.nats (and pull's flags); at most one kind is given. */
export interface NatsCredentialPaths {
  credentials?: string;
  nkey_seed_file?: string;
  token_file?: string;
  user?: string;
  password_file?: string;
}

/** The environment variables labtel reads when the manifest and flags name no credential. */
export const CREDENTIAL_ENV = {
  creds: 'LABTEL_NATS_CREDS',
  nkey: 'LABTEL_NATS_NKEY',
  token: 'LABTEL_NATS_TOKEN',
  user: 'LABTEL_NATS_USER',
  password: 'LABTEL_NATS_PASSWORD',
} as const;

export interface NatsAuth {
  /** What was used, for messages: e.g. `credentials file /etc/labtel/lab-a.creds`, never a secret. */
  what: string;
  authenticator: Authenticator;
}

const MAX_BYTES = 64 << 10;

/** The contents of a credentials file, or an error naming the key, the path and what is wrong. */
export function readSecretFile(file: string, key: string): string {
  const fail = (why: string, cause?: unknown): never => {
    throw new Error(`${key}: ${file}: ${why}`, cause === undefined ? undefined : { cause });
  };
  let fd: number;
  try {
    // Followed like ssh follows one (mounted secrets are often symlinks); the checks below are on what it points at.
    // O_NONBLOCK: a fifo is refused below instead of waited on.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return fail(e.code === 'ENOENT' ? 'no such file (ENOENT)' : e.code === 'EACCES' ? 'labtel may not read it (EACCES)' : `cannot open it (${e.code ?? e.message})`, err);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) fail('not a regular file');
    const uid = process.getuid?.() ?? 0;
    if (st.uid !== uid && st.uid !== 0) fail(`owned by uid ${st.uid}, not by labtel's user (uid ${uid}) or root; refusing it, as ssh refuses such a private key`);
    if ((st.mode & 0o077) !== 0)
      fail(`mode ${(st.mode & 0o777).toString(8).padStart(4, '0')} lets group or others access it; refusing it, as ssh refuses such a private key (chmod 600 ${file})`);
    if (st.size > MAX_BYTES) fail(`${st.size} bytes, more than the ${MAX_BYTES} a credentials file may have`);
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** The line of a file that holds one secret (a trailing newline, as editors write, is not part of it). */
function oneLine(text: string, file: string, key: string): string {
  const v = text.replace(/\r?\n$/, '');
  if (v.length === 0) throw new Error(`${key}: ${file}: the file is empty`);
  if (/[\r\n]/.test(v)) throw new Error(`${key}: ${file}: expected one line, found several`);
  return v;
}

const CREDS_BLOCK = /\s*(?:(?:-{3,}[^\n]*-{3,}\r?\n)([\s\S]+?)(?:\r?\n\s*-{3,}[^\n]*-{3,}\r?\n?))/g;

function nkeySeed(seed: string, where: string): Uint8Array {
  const bytes = new TextEncoder().encode(seed);
  try {
    fromSeed(bytes);
  } catch (err) {
    // The library's message does not echo the seed; ours names only where it came from.
    throw new Error(`${where}: not an nkey seed (${(err as Error).message})`, { cause: err });
  }
  return bytes;
}

function fromCredsFile(file: string, key: string): NatsAuth {
  const text = readSecretFile(file, key);
  CREDS_BLOCK.lastIndex = 0;
  const jwt = CREDS_BLOCK.exec(text)?.[1]?.trim();
  const seed = CREDS_BLOCK.exec(text)?.[1]?.trim();
  if (seed) registerSecret(seed);
  if (jwt) registerSecret(jwt);
  if (!jwt || !seed) throw new Error(`${key}: ${file}: not a NATS credentials file (expected a USER JWT block and a USER NKEY SEED block, as nsc writes)`);
  const bytes = nkeySeed(seed, `${key}: ${file}`);
  return { what: `credentials file ${file}`, authenticator: jwtAuthenticator(jwt, bytes) };
}

function fromSeedText(seed: string, what: string): NatsAuth {
  registerSecret(seed);
  return { what, authenticator: nkeyAuthenticator(nkeySeed(seed, what)) };
}

function tokenAuth(token: string, what: string): NatsAuth {
  registerSecret(token);
  return { what, authenticator: () => ({ auth_token: token }) };
}

function userAuth(user: string, pass: string, what: string): NatsAuth {
  registerSecret(pass);
  return { what, authenticator: () => ({ user, pass }) };
}

/**
 * The authenticator for `p` (the manifest's or the flags' paths), else for
 * the environment's LABTEL_NATS_* variables, else null (no credentials).
 * Throws naming the key or variable and the path, never the secret.
 */
export function loadNatsAuth(p: NatsCredentialPaths, env: NodeJS.ProcessEnv = process.env): NatsAuth | null {
  const given = (['credentials', 'nkey_seed_file', 'token_file', 'password_file'] as const).filter((k) => p[k] !== undefined);
  if (given.length > 1) throw new Error(`sinks.nats: ${given.join(' and ')} are given; name one kind of credential`);
  if (p.credentials !== undefined) return fromCredsFile(p.credentials, 'sinks.nats.credentials');
  if (p.nkey_seed_file !== undefined) {
    const k = 'sinks.nats.nkey_seed_file';
    return fromSeedText(oneLine(readSecretFile(p.nkey_seed_file, k), p.nkey_seed_file, k).trim(), `${k}: ${p.nkey_seed_file}`);
  }
  if (p.token_file !== undefined) {
    const k = 'sinks.nats.token_file';
    return tokenAuth(oneLine(readSecretFile(p.token_file, k), p.token_file, k), `token file ${p.token_file}`);
  }
  if (p.password_file !== undefined || p.user !== undefined) {
    if (p.password_file === undefined || p.user === undefined) throw new Error('sinks.nats: user and password_file go together');
    const k = 'sinks.nats.password_file';
    return userAuth(p.user, oneLine(readSecretFile(p.password_file, k), p.password_file, k), `user ${p.user} with password file ${p.password_file}`);
  }

  const e = CREDENTIAL_ENV;
  const set = Object.values(e).filter((v) => env[v] !== undefined && env[v] !== '');
  const kinds = [e.creds, e.nkey, e.token, e.user].filter((v) => set.includes(v) || (v === e.user && set.includes(e.password)));
  if (kinds.length > 1) throw new Error(`${set.join(' and ')} are set; set one kind of NATS credential`);
  if (env[e.creds]) return fromCredsFile(env[e.creds]!, e.creds);
  if (env[e.nkey]) return fromSeedText(oneLine(readSecretFile(env[e.nkey]!, e.nkey), env[e.nkey]!, e.nkey).trim(), `${e.nkey}: ${env[e.nkey]}`);
  if (env[e.token]) return tokenAuth(env[e.token]!, e.token);
  if (env[e.user] || env[e.password]) {
    if (env[e.password]) registerSecret(env[e.password]!);
    if (!env[e.user] || !env[e.password]) throw new Error(`${e.user} and ${e.password} go together`);
    return userAuth(env[e.user]!, env[e.password]!, `${e.user}=${env[e.user]} with ${e.password}`);
  }
  return null;
}
