// Review of issue 18 point 2 (nothing unaccounted for) against hostile or
// failing NATS servers: `labtel run` (the CLI, from the source tree) must
// exit by itself, and summary.json's forwarding section must be true —
// forwarded + remaining == the rows of each source — in every ending.
// The servers here are fakes on purpose: hostile peers no real nats-server
// can be made to play (one that accepts and never answers, one that
// completes the handshake and then answers nothing).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runEpisode } from '../../src/agent/run-episode.js';
import type { EpisodeSummary } from '../../src/agent/summary.js';
import { parseManifest } from '../../src/manifest/load.js';
import { ROOT } from '../helpers/cli.js';
import { hasNats, linesBySource } from '../helpers/nats.js';
import { startAuthNats } from '../helpers/nats-auth.js';
import { abortWhenLines, tmpDir } from '../helpers/tmp.js';

interface Fake {
  url: string;
  /** Connections accepted so far, and how many of them are still open. */
  accepted: () => number;
  open: () => number;
  close: () => Promise<void>;
}

const fakes: Fake[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const f of fakes.splice(0)) await f.close();
});

/**
 * A hostile NATS server on loopback. 'blackhole': accepts and never sends a
 * byte. 'mute': sends INFO and answers PING (the client connects), then never
 * answers anything else (no JetStream API reply, no publish ack).
 */
async function fakeNats(mode: 'blackhole' | 'mute'): Promise<Fake> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((c) => {
    accepted++;
    sockets.add(c);
    c.on('close', () => sockets.delete(c));
    c.on('error', () => {});
    if (mode === 'blackhole') return;
    c.write(`INFO ${JSON.stringify({ server_id: 'FAKE', server_name: 'fake', version: '2.10.0', proto: 1, host: '127.0.0.1', port: 0, headers: true, max_payload: 1 << 20, jetstream: true })}\r\n`);
    let text = '';
    c.on('data', (d) => {
      text += d.toString('latin1');
      for (let i = text.indexOf('\r\n'); i >= 0; i = text.indexOf('\r\n')) {
        if (text.slice(0, i) === 'PING') c.write('PONG\r\n');
        text = text.slice(i + 2);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const fake: Fake = {
    url: `nats://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    accepted: () => accepted,
    open: () => sockets.size,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
  fakes.push(fake);
  return fake;
}

/** `labtel run` from the source tree on a proc-only episode forwarding to `servers`; its stderr lines as they come. */
function labtelRun(servers: string[], name: string, extra: object = {}) {
  const root = tmpDir();
  const dir = path.join(root, name);
  const manifest = path.join(root, 'm.json');
  fs.writeFileSync(manifest, JSON.stringify({ output_dir: dir, episode: name, target: { pid: process.pid }, collectors: { proc: { interval_ms: 20 } }, sinks: { nats: { servers, host: 'lab-a' } }, ...extra }));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'run', manifest], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const waiters: Array<[RegExp, () => void]> = [];
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    for (const w of waiters.splice(0)) if (w[0].test(err)) w[1]();
    else waiters.push(w);
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    dir,
    child,
    exited,
    out: () => out,
    err: () => err,
    /** Until stderr has matched `re`. */
    said: (re: RegExp) => new Promise<void>((resolve) => (re.test(err) ? resolve() : waiters.push([re, resolve]))),
  };
}

/** summary.json's forwarding section against the files: present, incomplete, nothing forwarded, every row remaining, per source. */
function expectNothingForwarded(dir: string): EpisodeSummary {
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as EpisodeSummary;
  const nats = summary.forwarding?.nats;
  expect(nats, 'summary.json has a forwarding.nats section').toBeDefined();
  expect(nats!.complete).toBe(false);
  expect(nats!.error).toEqual(expect.any(String));
  const rows = linesBySource(dir);
  expect([...rows.keys()].sort()).toEqual(['agent', 'host_cgroup', 'host_proc']); // (host_cgroup: proc's second source, in its file)
  expect(Object.keys(nats!.by_source).sort()).toEqual([...rows.keys()].sort());
  expect(rows.size).toBe(3);
  for (const [source, lines] of rows) {
    expect(nats!.by_source[source], source).toEqual({ forwarded: 0, stubs: 0, remaining: lines.length });
  }
  return summary;
}

describe('the agent at the end of an episode whose NATS server fails or lies', () => {
  // regression for: a server that accepts TCP and never answers: every connect attempt timed out and left its socket open
  // (nats.js closes a transport only once it has connected), so `labtel run` printed its summary and never exited.
  it('a blackholed server (accepts, never answers): labtel run exits by itself, every row counted as remaining', async () => {
    const fake = await fakeNats('blackhole');
    const run = labtelRun([fake.url], 'bh', { duration_s: 1 });
    const end = await run.exited;
    expect(end, run.err()).toEqual({ code: 0, signal: null });
    expect(fake.accepted(), 'the agent tried the server').toBeGreaterThan(0);
    const summary = expectNothingForwarded(run.dir);
    expect(summary.forwarding!.nats!.error).toMatch(/timeout/i);
    expect(run.out()).toMatch(/forwarding: nats: INCOMPLETE, 0 rows forwarded to LABTEL; remaining: \d+ agent, \d+ host_cgroup, \d+ host_proc/);
  }, 150_000);

  // The last pass cut at its limit (the server takes the handshake and then answers nothing), with a SIGTERM during that
  // pass and a second one after it: the agent still writes a true summary.json and exits.
  it('a mute server, SIGTERM twice during the last pass: summary.json says the pass was cut and counts every row as remaining', async () => {
    const fake = await fakeNats('mute');
    const run = labtelRun([fake.url], 'mute');
    await new Promise((resolve) => abortWhenLines(path.join(run.dir, 'telemetry-proc.jsonl'), 30).addEventListener('abort', resolve, { once: true }));
    run.child.kill('SIGTERM');
    await run.said(/stopping: SIGTERM/);
    await run.said(/proc: ended/);
    run.child.kill('SIGTERM'); // during the last pass
    run.child.kill('SIGTERM');
    const end = await run.exited;
    expect(end, run.err()).toEqual({ code: 0, signal: null });
    const summary = expectNothingForwarded(run.dir);
    expect(summary.exit_reason).toBe('SIGTERM');
    expect(summary.forwarding!.nats!.error).toMatch(/the last pass did not finish within 15 s of the episode's end/);
    expect(fake.open(), 'connections the agent left open').toBe(0);
  }, 150_000);
});

describe.skipIf(!hasNats())('the agent at the end of an episode whose stream refuses its rows', () => {
  // A real nats-server with per-host permissions: lab-a's credentials used under the host name lab-b publish nothing.
  it('a permission error on every publish: nothing forwarded, every row remaining, and the error says why', async () => {
    const nats = await startAuthNats(['lab-a']);
    const dir = path.join(tmpDir(), 'perm');
    const lab = nats.hosts['lab-a']!;
    const manifest = parseManifest({
      output_dir: dir,
      episode: 'perm',
      target: { pid: process.pid },
      collectors: { proc: { interval_ms: 20 } },
      sinks: { nats: { servers: [nats.url], host: 'lab-b', nkey_seed_file: lab.seedFile, inbox_prefix: lab.inboxPrefix } },
    });
    const log: string[] = [];
    const stop = abortWhenLines(path.join(dir, 'telemetry-proc.jsonl'), 30);
    await runEpisode({ manifest, stop, log: (l) => log.push(l) });
    const summary = expectNothingForwarded(dir);
    expect(summary.forwarding!.nats!.error, log.join('\n')).toMatch(/permission/i);
  }, 150_000);
});
