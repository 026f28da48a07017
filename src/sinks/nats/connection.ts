// The one place labtel opens a NATS connection (the forwarder, `labtel
// forward` and `labtel pull`), with the @nats-io v3 Node transport. The
// credentials the endpoint names (or the LABTEL_NATS_* environment) are read
// here, at connect time; a failure to connect is said without any secret.
import net from 'node:net';
import type { ConnectionOptions, NatsConnection } from '@nats-io/nats-core';
import { NatsConnectionImpl, setTransportFactory } from '@nats-io/nats-core/internal';
import { NodeTransport, nodeResolveHost } from '@nats-io/transport-node/lib/node_transport.js';
import { loadNatsAuth, type NatsCredentialPaths } from './credentials.js';
import { hasUserinfo } from './config.js';
import { scrubSecrets } from '../../util/scrub-secrets.js';

/** Where to connect and as whom (the manifest's sinks.nats, or pull's flags). */
export interface NatsEndpoint extends NatsCredentialPaths {
  servers: string[];
  /** The prefix of reply subjects (default _INBOX): a per-host prefix lets the server's permissions keep hosts from reading each other's replies. */
  inbox_prefix?: string;
}

/**
 * The Node transport, closing a socket that never finished connecting: nats.js
 * (3.4) closes a transport only once it has connected, so each attempt that
 * timed out against a server that accepts and never answers (or never
 * completes the TCP handshake) left its socket open, one more per attempt,
 * and the agent never exited. (nats-io/nats.js#64 and #76 closed the
 * timeout case for a socket that connects late; one still dialing, or waiting
 * for the server's INFO, is left open in transport-node 3.4.0.)
 * This subclasses the library's own transport (internal paths), so
 * package.json pins @nats-io/transport-node and nats-core to 3.4.0 exactly.
 */
class ClosingTransport extends NodeTransport {
  private dialing: net.Socket | undefined;

  override dial(hp: { hostname: string; port: number }): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      let dialError: Error | undefined;
      const socket = net.createConnection(hp.port, hp.hostname, () => {
        socket.removeAllListeners();
        resolve(socket);
      });
      this.dialing = socket;
      socket.on('error', (err) => (dialError = err));
      socket.on('close', () => {
        socket.removeAllListeners();
        reject(dialError ?? new Error('connection closed while connecting'));
      });
      socket.setNoDelay(true);
    });
  }

  override close(err?: Error): Promise<void> {
    if (!this.connected) {
      this.done = true;
      this.dialing?.destroy();
      this.socket?.destroy();
    }
    return super.close(err);
  }
}

/** transport-node's connect(), with ClosingTransport. */
function connect(opts: ConnectionOptions): Promise<NatsConnection> {
  setTransportFactory({ factory: () => new ClosingTransport(), dnsResolveFn: nodeResolveHost });
  return NatsConnectionImpl.connect(opts);
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
