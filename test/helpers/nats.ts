// Real nats-server processes for the sink tests, on loopback ports only,
// with JetStream stores in temp dirs; killed after each test.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, expect } from 'vitest';
import type { EpisodeSummary } from '../../src/agent/summary.js';
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
async function listening(port: number, p: ChildProcess, log: () => string = () => ''): Promise<void> {
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
  throw new Error(`nats-server exited (${p.exitCode ?? p.signalCode}) before it listened on ${port}: ${log()}`);
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
      let err = '';
      srv.proc = spawn('nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
      srv.proc.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
      started.push(srv.proc);
      await listening(port, srv.proc, () => err);
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

/** nats-server with a config file: listen and jetstream, then `body` (authorization, max_payload, ...), on a free loopback port. */
export async function startNatsWithConfig(body: string): Promise<NatsServer & { dir: string; config: string }> {
  const dir = tmpDir('labtel-nats-');
  const port = await freePort();
  const config = path.join(dir, 'server.conf');
  fs.writeFileSync(config, `listen: 127.0.0.1:${port}\njetstream { store_dir: ${JSON.stringify(path.join(dir, 'js'))} }\n${body}`, { mode: 0o600 });
  const srv = Object.assign(serve(['-c', config], port), { dir, config });
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

/** Per row source, the lines of an episode directory's telemetry files, in file order (absent files: none). */
export function linesBySource(dir: string): Map<string, string[]> {
  const by = new Map<string, string[]>();
  let files: string[] = [];
  try {
    files = fs.readdirSync(dir).filter((f) => /^telemetry-[a-z_]+\.jsonl$/.test(f));
  } catch {
    return by; // nothing pulled
  }
  for (const f of files) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    for (const line of text.split('\n').slice(0, -1)) {
      const source = (JSON.parse(line) as { source: string }).source;
      by.set(source, [...(by.get(source) ?? []), line]);
    }
  }
  return by;
}

/**
 * The guarantee summary.json makes: per source, every row of the local files
 * is either pulled (the first ones, byte for byte) or counted as remaining
 * (pulled + remaining == rows; see below for the one way it may exceed), and
 * forwarded + remaining is the rows in the file. Returns the local summary.
 */
export function expectAccounted(local: string, pulled: string): EpisodeSummary {
  const summary = JSON.parse(fs.readFileSync(path.join(local, 'summary.json'), 'utf8')) as EpisodeSummary;
  const nats = summary.forwarding?.nats;
  expect(nats, 'summary.json has no forwarding.nats section').toBeDefined();
  const have = linesBySource(local);
  const got = linesBySource(pulled);
  expect([...have.keys()].sort()).toEqual(expect.arrayContaining(['agent', 'host_proc']));
  expect(Object.keys(nats!.by_source).sort()).toEqual([...have.keys()].sort());
  for (const [source, rows] of have) {
    const acc = nats!.by_source[source]!;
    const p = got.get(source) ?? [];
    expect(acc.forwarded + acc.remaining, `${source}: forwarded + remaining against the rows in the file`).toBe(rows.length);
    expect(p, `${source}: the pulled rows are the file's first rows`).toEqual(rows.slice(0, p.length));
    const sums = `${source}: ${p.length} pulled + ${acc.remaining} remaining against ${rows.length} rows in the file (forwarded ${acc.forwarded})`;
    if (nats!.complete) expect(p.length + acc.remaining, sums).toBe(rows.length);
    else {
      // A batch JetStream stored whose acknowledgement never came (the last pass cut at its limit) is in the stream and
      // still counted as remaining (labtel forward sends it again; pull writes it once): pulled + remaining may exceed
      // the rows by it, never fall short; and what was acknowledged is all there.
      expect(p.length, `${sums}: acknowledged rows missing from the stream`).toBeGreaterThanOrEqual(acc.forwarded);
      expect(p.length + acc.remaining, `${sums}: rows neither pulled nor counted as remaining`).toBeGreaterThanOrEqual(rows.length);
    }
  }
  expect(nats!.complete).toBe(Object.values(nats!.by_source).every((s) => s.remaining === 0));
  expect(nats!.resume).toBe(`labtel forward ${local}`);
  return summary;
}

/** The stream's state as a server of the cluster reports it (for a failure's message: rows acknowledged and gone, or not pulled). */
export async function streamState(urls: string[], stream = 'LABTEL'): Promise<string> {
  try {
    const nc = await connect({ servers: urls, timeout: 2000 });
    try {
      const info = await (await jetstreamManager(nc, { timeout: 5000 })).streams.info(stream);
      return `stream ${stream}: ${info.state.messages} messages, last seq ${info.state.last_seq}, leader ${info.cluster?.leader ?? '-'}`;
    } finally {
      await nc.close();
    }
  } catch (err) {
    return `stream ${stream}: no answer (${(err as Error).message})`;
  }
}
