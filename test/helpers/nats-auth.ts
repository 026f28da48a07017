// A real nats-server with JetStream and per-user permissions (its own
// authorization config, as a lab admin writes it), and the credential files
// labtel reads: each lab host may publish only under <prefix>.<host>.> and
// read only its own replies; a puller may only read (create/read its
// consumer, fetch, ack); an admin creates the stream. Files are 0600 in a
// temp dir; the server is killed after each test (helpers/nats.ts).
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { createAccount, createOperator, createUser, type KeyPair } from '@nats-io/nkeys';
import { jetstreamManager } from '@nats-io/jetstream';
import { credsAuthenticator, nanos } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { startNatsWithConfig, type NatsServer } from './nats.js';
import { tmpDir } from './tmp.js';

export interface LabHost {
  name: string;
  /** 0600 file with the host's nkey seed (sinks.nats.nkey_seed_file). */
  seedFile: string;
  publicKey: string;
  inboxPrefix: string;
}

export interface AuthNats extends NatsServer {
  dir: string;
  config: string;
  hosts: Record<string, LabHost>;
  puller: { user: string; passwordFile: string; password: string; inboxPrefix: string };
  admin: { user: string; password: string };
}

/** A secret file as labtel wants one: 0600, owned by this user. */
export function secretFile(dir: string, name: string, content: string, mode = 0o600): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, content, { mode });
  fs.chmodSync(f, mode);
  return f;
}

const random = (n: number) => Array.from({ length: n }, () => 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789'[Math.floor(Math.random() * 56)]).join('');

/** The stream's JetStream API calls a forwarder makes (the stream exists: the admin made it). */
const forwarderApi = (stream: string) => [`$JS.API.INFO`, `$JS.API.STREAM.INFO.${stream}`];
/** A puller's: read the stream, create and read its consumer, fetch, ack. */
const pullerApi = (stream: string) => [
  `$JS.API.INFO`,
  `$JS.API.STREAM.INFO.${stream}`,
  `$JS.API.CONSUMER.CREATE.${stream}.>`,
  `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.>`,
  `$JS.API.CONSUMER.INFO.${stream}.>`,
  `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
  `$JS.ACK.${stream}.>`,
];

const q = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;

/** The authorization block a lab admin writes (README text): hosts by nkey, the puller and the admin by password. */
export function authorizationConfig(o: { prefix: string; stream: string; hosts: LabHost[]; puller: AuthNats['puller']; admin: AuthNats['admin'] }): string {
  const users = [
    ...o.hosts.map(
      (h) =>
        `    # lab host ${h.name}: its own subjects, and replies on its own inbox prefix only\n` +
        `    { nkey: ${h.publicKey}, permissions: { publish: { allow: ${q([`${o.prefix}.${h.name}.>`, ...forwarderApi(o.stream)])} }, subscribe: { allow: ${q([`${h.inboxPrefix}.>`])} } } }`,
    ),
    `    # a puller: reads the stream through its consumer, publishes nothing else\n` +
      `    { user: ${JSON.stringify(o.puller.user)}, password: ${JSON.stringify(o.puller.password)}, permissions: { publish: { allow: ${q(pullerApi(o.stream))} }, subscribe: { allow: ${q([`${o.puller.inboxPrefix}.>`])} } } }`,
    `    # the admin creates the stream (nats stream add, or a labtel forward run with these credentials)\n` +
      `    { user: ${JSON.stringify(o.admin.user)}, password: ${JSON.stringify(o.admin.password)} }`,
  ];
  return `authorization {\n  users = [\n${users.join('\n')}\n  ]\n}\n`;
}

export { startNatsWithConfig };

/** A server whose users are `hostNames` (nkeys), a puller and an admin, with a stream `stream` over `<prefix>.>` made by the admin. */
export async function startAuthNats(hostNames: string[], o: { prefix?: string; stream?: string } = {}): Promise<AuthNats> {
  const prefix = o.prefix ?? 'labtel';
  const stream = o.stream ?? 'LABTEL';
  const keys = tmpDir('labtel-nats-keys-');
  const hosts: Record<string, LabHost> = {};
  for (const name of hostNames) {
    const kp = createUser();
    hosts[name] = { name, publicKey: kp.getPublicKey(), seedFile: secretFile(keys, `${name}.nk`, new TextDecoder().decode(kp.getSeed()) + '\n'), inboxPrefix: `_INBOX_${name}` };
  }
  const password = `pw-${random(24)}`;
  const puller = { user: 'puller', password, passwordFile: secretFile(keys, 'puller.pw', `${password}\n`), inboxPrefix: '_INBOX_puller' };
  const admin = { user: 'admin', password: `adm-${random(24)}` };
  const srv = await startNatsWithConfig(authorizationConfig({ prefix, stream, hosts: Object.values(hosts), puller, admin }));
  const nc = await connect({ servers: [srv.url], user: admin.user, pass: admin.password });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`], duplicate_window: nanos(60_000) });
  } finally {
    await nc.drain();
  }
  return { ...srv, hosts, puller, admin };
}

/** Every message in the stream, as [subject, data] (read by the admin: user/password or .creds file; no consumer left behind). */
export async function storedMessages(url: string, admin: AuthNats['admin'] | { credsFile: string }, stream = 'LABTEL'): Promise<Array<[string, string]>> {
  const auth = 'credsFile' in admin ? { authenticator: credsAuthenticator(fs.readFileSync(admin.credsFile)) } : { user: admin.user, pass: admin.password };
  const nc = await connect({ servers: [url], ...auth });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const out: Array<[string, string]> = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
      if (m) out.push([m.subject, new TextDecoder().decode(m.data)]);
    }
    return out;
  } finally {
    await nc.drain();
  }
}

/**
 * A NATS JWT as nsc signs one (header, claims with jti, iat, iss, sub, name,
 * nats {type, version 2}, signed by the issuer's nkey): for the
 * decentralized-auth server below, where users come as .creds files.
 */
function signJwt(issuer: KeyPair, sub: string, name: string, nats: object): string {
  const claims: Record<string, unknown> = { iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), name, sub, nats: { ...nats, version: 2 } };
  claims.jti = createHash('sha256').update(JSON.stringify(claims)).digest('hex').toUpperCase();
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const signed = `${b64({ typ: 'JWT', alg: 'ed25519-nkey' })}.${b64(claims)}`;
  return `${signed}.${Buffer.from(issuer.sign(new TextEncoder().encode(signed))).toString('base64url')}`;
}

/** A .creds file as nsc writes it (0600). */
function credsFile(dir: string, name: string, jwt: string, user: KeyPair): string {
  const seed = new TextDecoder().decode(user.getSeed());
  return secretFile(
    dir,
    `${name}.creds`,
    `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n************************* IMPORTANT *************************\nNKEY Seed printed below can be used to sign and prove identity.\nNKEYs are sensitive and should be treated as secrets.\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n\n*************************************************************\n`,
  );
}

export interface OperatorNats extends NatsServer {
  /** Per lab host, its .creds file (sinks.nats.credentials) and inbox prefix; also 'puller' and 'admin'. */
  creds: Record<string, { file: string; inboxPrefix: string }>;
}

/**
 * nats-server in operator mode (decentralized auth, as nsc sets it up): one
 * account with JetStream, a user per lab host whose JWT allows publishing
 * only under <prefix>.<host>.>, a puller that only reads, an admin that made
 * the stream. Each user is a .creds file.
 */
export async function startOperatorNats(hostNames: string[], o: { prefix?: string; stream?: string } = {}): Promise<OperatorNats> {
  const prefix = o.prefix ?? 'labtel';
  const stream = o.stream ?? 'LABTEL';
  const keys = tmpDir('labtel-nats-creds-');
  const op = createOperator();
  const acc = createAccount();
  const sys = createAccount();
  const base = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
  const opJwt = signJwt(op, op.getPublicKey(), 'lab-operator', { type: 'operator', system_account: sys.getPublicKey() });
  const accJwt = signJwt(op, acc.getPublicKey(), 'lab', { type: 'account', limits: { ...base, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 } });
  const sysJwt = signJwt(op, sys.getPublicKey(), 'SYS', { type: 'account', limits: base });
  const user = (name: string, pub: string[] | null, sub: string[] | null) => {
    const kp = createUser();
    const perms = { ...(pub ? { pub: { allow: pub } } : {}), ...(sub ? { sub: { allow: sub } } : {}) };
    return credsFile(keys, name, signJwt(acc, kp.getPublicKey(), name, { type: 'user', ...perms, subs: -1, data: -1, payload: -1 }), kp);
  };
  const creds: OperatorNats['creds'] = {};
  for (const h of hostNames) creds[h] = { file: user(h, [`${prefix}.${h}.>`, ...forwarderApi(stream)], [`_INBOX_${h}.>`]), inboxPrefix: `_INBOX_${h}` };
  creds.puller = { file: user('puller', pullerApi(stream), ['_INBOX_puller.>']), inboxPrefix: '_INBOX_puller' };
  creds.admin = { file: user('admin', null, null), inboxPrefix: '_INBOX' };
  const dir = tmpDir('labtel-nats-op-');
  const opFile = path.join(dir, 'operator.jwt');
  fs.writeFileSync(opFile, opJwt);
  const srv = await startNatsWithConfig(
    `operator: ${JSON.stringify(opFile)}\nsystem_account: ${sys.getPublicKey()}\nresolver: MEMORY\nresolver_preload: {\n  ${acc.getPublicKey()}: ${JSON.stringify(accJwt)}\n  ${sys.getPublicKey()}: ${JSON.stringify(sysJwt)}\n}\n`,
  );
  const nc = await connect({ servers: [srv.url], authenticator: credsAuthenticator(fs.readFileSync(creds.admin.file)) });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`], duplicate_window: nanos(60_000) });
  } finally {
    await nc.drain();
  }
  return { ...srv, creds };
}
