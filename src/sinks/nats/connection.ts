// The one place labtel opens a NATS connection (the forwarder, `labtel
// forward` and `labtel pull`), with the @nats-io v3 Node transport. The
// credentials the endpoint names (or the LABTEL_NATS_* environment) are read
// here, at connect time; a failure to connect is said without any secret.
import type { ConnectionOptions, NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { loadNatsAuth, type NatsCredentialPaths } from './credentials.js';
import { hasUserinfo } from './config.js';
import { scrubSecrets } from '../../util/scrub-secrets.js';

/** Where to connect and as whom (the manifest's sinks.nats, or pull's flags). */
export interface NatsEndpoint extends NatsCredentialPaths {
  servers: string[];
  /** The prefix of reply subjects (default _INBOX): a per-host prefix lets the server's permissions keep hosts from reading each other's replies. */
  inbox_prefix?: string;
}

export async function connectNats(
  endpoint: NatsEndpoint,
  opts: Omit<ConnectionOptions, 'servers' | 'authenticator' | 'user' | 'pass' | 'token'>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<NatsConnection> {
  const bad = endpoint.servers.findIndex(hasUserinfo);
  if (bad >= 0) throw new Error(`NATS server ${bad + 1} carries a user or password in its URL; labtel refuses it: name a credentials, nkey_seed_file, token_file or user + password_file (or set LABTEL_NATS_CREDS)`);
  const auth = loadNatsAuth(endpoint, env);
  try {
    return await connect({
      ...opts,
      servers: endpoint.servers,
      ...(auth ? { authenticator: auth.authenticator } : {}),
      ...(endpoint.inbox_prefix ? { inboxPrefix: endpoint.inbox_prefix } : {}),
    });
  } catch (err) {
    const why = scrubSecrets((err as Error).message);
    throw new Error(`connecting to NATS (${scrubSecrets(endpoint.servers.join(', '))}) ${auth ? `with ${auth.what}` : 'without credentials'}: ${why}`, { cause: err });
  }
}
