// The one place labtel opens a NATS connection (the forwarder, `labtel
// forward` and `labtel pull`), with the @nats-io v3 Node transport.
import type { ConnectionOptions, NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

/** Where to connect (the manifest's sinks.nats, or pull's flags). */
export interface NatsEndpoint {
  servers: string[];
}

export function connectNats(endpoint: NatsEndpoint, opts: Omit<ConnectionOptions, 'servers'>): Promise<NatsConnection> {
  return connect({ ...opts, servers: endpoint.servers });
}
