import { z } from 'zod';
import { expected, nonEmptyString, safeName } from '../../schema/common.js';

/**
 * A server URL carrying user:password@ (or token@) before its host. Any '@'
 * counts: a NATS URL has no path for one to belong to, and a password with a
 * '/' in it (base64 passwords often have one) ends the authority early.
 */
export function hasUserinfo(url: string): boolean {
  return url.includes('@');
}

const CREDENTIAL_KEYS = 'sinks.nats.credentials, nkey_seed_file, token_file or user + password_file (or LABTEL_NATS_CREDS)';

const serverUrl = nonEmptyString('a NATS server URL').superRefine((url, ctx) => {
  if (!hasUserinfo(url)) return;
  // The value shown is the URL with its userinfo removed: the password is never echoed.
  const shown = url.trim().replace(/^([a-z][a-z0-9+.-]*:\/\/)?.*@/is, (_m, scheme: string | undefined) => `${scheme ?? ''}[redacted]@`);
  ctx.addIssue({ code: 'custom', message: `expected a NATS server URL without a user or password in it (put them in a credentials file: ${CREDENTIAL_KEYS})`, input: shown });
});

const path = (what: string) => nonEmptyString(`the path of ${what}`);

/** A key that would hold a secret inline: refused, without echoing the value. */
const inlineSecret = (instead: string) =>
  z
    .unknown()
    .optional()
    .superRefine((v, ctx) => {
      if (v !== undefined) ctx.addIssue({ code: 'custom', message: `a secret is never written in the manifest (episode.json records it and travels to every puller); name a file instead: ${instead}`, input: '[redacted]' });
    });


export const natsSinkConfig = z
  .strictObject({
    servers: z
      .array(serverUrl, { error: expected('a list of NATS server URLs') })
      .min(1, { error: expected('at least one NATS server URL') })
      .describe('NATS servers, e.g. ["nats://10.0.0.5:4222"]; the client fails over between them.'),
    stream: nonEmptyString('a JetStream stream name').default('LABTEL').describe('The JetStream stream (created if absent, for subjects <subject_prefix>.>).'),
    subject_prefix: z
      .string({ error: expected('a subject prefix') })
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, { error: expected('a subject prefix of tokens A-Z a-z 0-9 _ - joined by dots') })
      .default('labtel')
      .describe('Rows go to <subject_prefix>.<host>.<episode>.<source>.'),
    replicas: z
      .number({ error: expected('1 to 5 replicas') })
      .int({ error: expected('1 to 5 replicas') })
      .min(1, { error: expected('1 to 5 replicas') })
      .max(5, { error: expected('1 to 5 replicas') })
      .default(1)
      .describe('Replicas of the stream when labtel creates it (a JetStream cluster keeps the rows when a server dies).'),
    credentials: path('a .creds file')
      .optional()
      .describe(
        "A NATS credentials file (user JWT and nkey seed, as nsc writes). Read at connect time; refused, as ssh refuses a private key, when group or others may access it or it is owned by another user than labtel's or root. Without any credential key labtel reads the environment: LABTEL_NATS_CREDS (a .creds path), LABTEL_NATS_NKEY (a seed file path), LABTEL_NATS_TOKEN, or LABTEL_NATS_USER with LABTEL_NATS_PASSWORD.",
      ),
    nkey_seed_file: path('an nkey seed file').optional().describe('A file holding an nkey user seed (SU...), for a server that lists the user by its public nkey. Same checks as credentials.'),
    token_file: path('a token file').optional().describe("A file holding the server's authorization token (one line). Same checks as credentials."),
    user: nonEmptyString('a NATS user name').optional().describe('A NATS user name, with password_file.'),
    password_file: path('a password file').optional().describe("A file holding user's password (one line). Same checks as credentials."),
    inbox_prefix: z
      .string({ error: expected('an inbox prefix') })
      .regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, { error: expected('an inbox prefix of tokens A-Z a-z 0-9 _ $ - joined by dots') })
      .optional()
      .describe("The prefix of the connection's reply subjects (default _INBOX). With one per host (e.g. _INBOX_lab-a), the server's permissions can let each host subscribe only to its own replies."),
    password: inlineSecret('password_file (with user)').describe('Refused: a password is never inlined; use user + password_file.'),
    token: inlineSecret('token_file').describe('Refused: a token is never inlined; use token_file.'),
    host: safeName('a host name').optional().describe("This lab host's name in subjects and message ids (default: the host name). Names map to subject tokens one to one: a character outside A-Z a-z 0-9 _ - is written %XX."),
  })
  .superRefine((c, ctx) => {
    const kinds = (['credentials', 'nkey_seed_file', 'token_file', 'password_file'] as const).filter((k) => c[k] !== undefined);
    if (kinds.length > 1) ctx.addIssue({ code: 'custom', message: `expected one kind of credential, got ${kinds.join(' and ')}`, input: undefined });
    if ((c.user === undefined) !== (c.password_file === undefined))
      ctx.addIssue({ code: 'custom', path: [c.user === undefined ? 'user' : 'password_file'], message: 'expected user and password_file together', input: undefined });
  })
  .describe('Forward rows to NATS JetStream as they are written; the JSONL files stay the source of truth.');

export const sinksConfig = z
  .strictObject({ nats: natsSinkConfig.optional() }, { error: expected('an object of sinks') })
  .describe('Where rows are forwarded besides the episode directory.');
export type NatsSinkConfig = z.output<typeof natsSinkConfig>;
