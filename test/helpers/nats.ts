// Real nats-server processes for the sink tests, on loopback ports only,
// with JetStream stores in temp dirs; killed after each test.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach } from 'vitest';
import { has } from './programs.js';
import { tmpDir } from './tmp.js';

/** Whether nats-server runs here (under CI its absence throws: see programs.ts). */
export const hasNats = (): boolean => has('nats-server');

const started: ChildProcess[] = [];
afterEach(async () => {
  for (const p of started.splice(0)) if (p.exitCode === null && p.signalCode === null) {
    p.kill('SIGKILL');
    await new Promise((r) => p.once('exit', r));
  }
});

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Once nats-server accepts on `port`; fails if it exits first (no deadline: a server that never listens is the test's timeout). */
async function listening(port: number, p: ChildProcess): Promise<void> {
  for (; p.exitCode === null && p.signalCode === null; await sleep(50)) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.createConnection({ port, host: '127.0.0.1' }, () => {
        c.destroy();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
  }
  throw new Error(`nats-server exited (${p.exitCode ?? p.signalCode}) before it listened on ${port}`);
}

export interface NatsServer {
  url: string;
  port: number;
  proc: ChildProcess;
  kill(): Promise<void>;
  /** Starts it again on the same port and store. */
  restart(): Promise<void>;
}

function serve(args: string[], port: number): NatsServer {
  const srv: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    proc: null as unknown as ChildProcess,
    async kill() {
      const p = srv.proc;
      if (p.exitCode !== null || p.signalCode !== null) return;
      p.kill('SIGKILL');
      await new Promise((r) => p.once('exit', r));
    },
    async restart() {
      srv.proc = spawn('nats-server', args, { stdio: 'ignore' });
      started.push(srv.proc);
      await listening(port, srv.proc);
    },
  };
  return srv;
}

/** One JetStream server. */
export async function startNats(): Promise<NatsServer> {
  const port = await freePort();
  const srv = serve(['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', path.join(tmpDir('labtel-nats-'), 'js')], port);
  await srv.restart();
  return srv;
}

/** A three-server JetStream cluster on loopback. */
export async function startNatsCluster(): Promise<NatsServer[]> {
  const ports = await Promise.all([0, 1, 2].map(() => freePort()));
  const routes = await Promise.all([0, 1, 2].map(() => freePort()));
  const servers = ports.map((port, i) =>
    serve(
      ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', path.join(tmpDir('labtel-nats-'), 'js'), '-n', `n${i}`,
        '--cluster_name', 'labtel-test', '--cluster', `nats://127.0.0.1:${routes[i]}`,
        '--routes', routes.filter((_, j) => j !== i).map((r) => `nats://127.0.0.1:${r}`).join(',')],
      port,
    ),
  );
  await Promise.all(servers.map((s) => s.restart()));
  return servers;
}

/** Publishes each [subject, data] to a stream LABTEL over labtel.> (as the forwarder makes it). */
export async function publish(url: string, msgs: Array<[string, string]>): Promise<void> {
  const nc = await connect({ servers: [url] });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'LABTEL', subjects: ['labtel.>'], duplicate_window: nanos(60_000) });
    const js = jetstream(nc);
    for (const [subject, data] of msgs) await js.publish(subject, new TextEncoder().encode(data));
  } finally {
    await nc.drain();
  }
}
