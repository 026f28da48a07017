// A scriptable fake QMP server on a unix socket, for what no real QEMU will
// do: stay silent, send garbage, oversized lines, floods, replies for ids
// nobody asked about, or hang up mid-command. By default it behaves like the
// QEMU 7.2 recorded in the brief of the qmp collector (greeting, replies in
// QEMU's own spacing, "\r\n" line ends, the request id echoed). Every server
// and socket made here is closed after each test.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach } from 'vitest';
import { EpisodeClock } from '../../src/clock/origin.js';
import { qmpLoop, type QmpLoopOptions, type QmpLoopResult } from '../../src/collectors/qmp/run-loop.js';
import { JsonlWriter } from '../../src/rows/jsonl-writer.js';
import type { QmpClient } from '../../src/qmp/client.js';
import { readJsonl, tmpDir } from './tmp.js';
import { waitFor as waitUntil } from './wait.js';

/** QEMU 7.2's greeting, as recorded. */
export const GREETING =
  '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}\r\n';

/** JSON spaced the way QEMU prints it (`{"a": 1, "b": [1, 2]}`). Keys named __proto__ need raw strings instead. */
export function qemuJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(qemuJson).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${qemuJson(x)}`).join(', ')}}`;
  }
  return JSON.stringify(v);
}

export const okReply = (id: unknown, ret: unknown): string => `{"return": ${qemuJson(ret)}${id === undefined ? '' : `, "id": ${qemuJson(id)}`}}\r\n`;
export const errorReply = (id: unknown, cls: string, desc: string): string =>
  `{${id === undefined ? '' : `"id": ${qemuJson(id)}, `}"error": {"class": ${JSON.stringify(cls)}, "desc": ${JSON.stringify(desc)}}}\r\n`;

/** An event line the way QEMU sends it; `timestamp` replaces QEMU's own (pass a raw JSON string to send anything at all). */
export function eventLine(event: string, data?: unknown, timestamp?: unknown): string {
  const now = Date.now();
  const ts = timestamp === undefined ? { seconds: Math.floor(now / 1000), microseconds: (now % 1000) * 1000 } : timestamp;
  const tsText = typeof ts === 'string' ? ts : qemuJson(ts);
  return `{"timestamp": ${tsText}, "event": ${JSON.stringify(event)}${data === undefined ? '' : `, "data": ${qemuJson(data)}`}}\r\n`;
}

/** A block device as QEMU 7.2 reports it in query-blockstats (a virtio disk that saw some I/O). */
export const BLOCKSTATS = [
  {
    device: 'drive0',
    parent: { stats: { unmap_operations: 0, unmap_merged: 0, flush_total_time_ns: 0, wr_highest_offset: 0, wr_total_time_ns: 0, failed_wr_operations: 0, failed_rd_operations: 0, wr_merged: 0, wr_bytes: 0, failed_unmap_operations: 0, failed_flush_operations: 0, account_invalid: false, rd_total_time_ns: 0, invalid_unmap_operations: 0, flush_operations: 0, wr_operations: 0, unmap_bytes: 0, rd_merged: 0, rd_bytes: 0, unmap_total_time_ns: 0, invalid_flush_operations: 0, account_failed: false, rd_operations: 0, invalid_wr_operations: 0, invalid_rd_operations: 0 }, 'node-name': '#block012' },
    stats: {
      unmap_operations: 0, unmap_merged: 0, flush_total_time_ns: 1234567, wr_highest_offset: 8589930496, wr_total_time_ns: 98765432, failed_wr_operations: 0,
      failed_rd_operations: 0, wr_merged: 0, wr_bytes: 1048576, timed_stats: [], failed_unmap_operations: 0, failed_flush_operations: 0, account_invalid: true,
      rd_total_time_ns: 45678901, invalid_unmap_operations: 0, flush_operations: 12, wr_operations: 256, unmap_bytes: 0, rd_merged: 0, rd_bytes: 20971520,
      unmap_total_time_ns: 0, invalid_flush_operations: 0, account_failed: true, idle_time_ns: 2345678901, rd_operations: 1024, invalid_wr_operations: 0, invalid_rd_operations: 0,
    },
    'node-name': '#block158',
    qdev: '/machine/peripheral-anon/device[0]/virtio-backend',
  },
];

export const STATUS = { status: 'prelaunch', singlestep: false, running: false };
export const CPUS_FAST = [
  { 'thread-id': 5574, props: { 'core-id': 0, 'thread-id': 0, 'node-id': 0, 'socket-id': 0 }, 'qom-path': '/machine/unattached/device[0]', 'cpu-index': 0, target: 'x86_64' },
];

export interface FakeQmpRequest {
  /** The command name, or null when the line was not a JSON object with `execute`. */
  execute: string | null;
  id: unknown;
  arguments: unknown;
  raw: string;
  /** Which connection it came on (0-based). */
  conn: number;
  /** This command's count over all connections, from 1. */
  n: number;
}

/** The reply QEMU 7.2 (TCG, no balloon device) gives to a request. */
export function defaultReply(req: Pick<FakeQmpRequest, 'execute' | 'id' | 'arguments'>): string {
  switch (req.execute) {
    case 'qmp_capabilities':
      return okReply(req.id, {});
    case 'query-status':
      return okReply(req.id, STATUS);
    case 'query-blockstats':
      return okReply(req.id, BLOCKSTATS);
    case 'query-cpus-fast':
      return okReply(req.id, CPUS_FAST);
    case 'query-stats-schemas':
      return okReply(req.id, []);
    case 'query-stats':
      return okReply(req.id, []);
    case 'query-balloon':
      return errorReply(req.id, 'DeviceNotActive', 'No balloon device has been activated');
    case null:
      return errorReply(req.id, 'GenericError', 'QMP input must be a JSON object');
    default:
      return errorReply(req.id, 'CommandNotFound', `The command ${req.execute} has not been found`);
  }
}

/**
 * What a command handler returns: a string or Buffer is written as given
 * (no line end added), null sends nothing, undefined sends the default reply.
 */
export type FakeReply = string | Buffer | null | undefined | void;
export type FakeHandler = (req: FakeQmpRequest, conn: FakeQmpConn) => FakeReply;

export class FakeQmpConn {
  private buf = '';
  constructor(
    readonly index: number,
    readonly socket: net.Socket,
  ) {}

  /** Writes raw bytes; false once the socket is gone. */
  send(raw: string | Buffer): boolean {
    if (this.socket.destroyed || !this.socket.writable) return false;
    this.socket.write(raw);
    return true;
  }

  sendEvent(event: string, data?: unknown, timestamp?: unknown): boolean {
    return this.send(eventLine(event, data, timestamp));
  }

  close(): void {
    this.socket.destroy();
  }

  /**
   * Tries to send `total` bytes of `fill` with no line end, one chunk at a
   * time, waiting for each to be taken (so the server itself holds at most one
   * chunk). Ends when all was sent or the write fails / the peer goes away.
   * `accepted`: bytes whose write completed (taken by the kernel).
   */
  async pump(total: number, chunkBytes = 1 << 20, fill = 0x61): Promise<{ accepted: number; error: string | null }> {
    const chunk = Buffer.alloc(chunkBytes, fill);
    const gone = new Promise<Error>((resolve) => this.socket.once('close', () => resolve(new Error('socket closed'))));
    let accepted = 0;
    while (accepted < total) {
      if (this.socket.destroyed || !this.socket.writable) return { accepted, error: 'socket closed' };
      const n = Math.min(chunkBytes, total - accepted);
      const written = new Promise<Error | null>((resolve) => this.socket.write(n === chunkBytes ? chunk : chunk.subarray(0, n), (e) => resolve(e ?? null)));
      const err = await Promise.race([written, gone]);
      if (err) return { accepted, error: (err as NodeJS.ErrnoException).code ?? err.message };
      accepted += n;
    }
    return { accepted, error: null };
  }

  /** @internal */
  feed(d: Buffer, onLine: (line: string) => void): void {
    this.buf += d.toString('utf8');
    for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line) onLine(line);
    }
  }
}

export interface FakeQmpOptions {
  /** The first bytes sent on each connection; null: say nothing at all. Default: QEMU 7.2's greeting. */
  greeting?: string | Buffer | null;
}

export class FakeQmp {
  readonly path: string;
  /** Sent on each new connection (null: nothing); may be changed between connections. */
  greeting: string | Buffer | null;
  /** Every request received, in order, over all connections. */
  readonly commands: FakeQmpRequest[] = [];
  readonly conns: FakeQmpConn[] = [];
  private readonly handlers = new Map<string, FakeHandler>();
  private readonly closers = new Map<string, { times: number }>();
  private readonly counts = new Map<string, number>();
  private readonly connectListeners: Array<(c: FakeQmpConn) => void> = [];

  /** @internal use fakeQmp() */
  constructor(
    readonly server: net.Server,
    socketPath: string,
    opts: FakeQmpOptions,
  ) {
    this.path = socketPath;
    this.greeting = opts.greeting === undefined ? GREETING : opts.greeting;
    server.on('connection', (s) => this.accept(s));
  }

  /** How many connections were accepted. */
  get connections(): number {
    return this.conns.length;
  }

  /** How many times a command arrived (over all connections, or on one). */
  count(command: string, conn?: number): number {
    return this.commands.filter((c) => c.execute === command && (conn === undefined || c.conn === conn)).length;
  }

  /** Overrides the reply to `command` (see FakeReply); replaces an earlier handler. */
  on(command: string, handler: FakeHandler): this {
    this.handlers.set(command, handler);
    return this;
  }

  /** Hangs up (without replying) the next `times` times `command` arrives. */
  closeOn(command: string, times = Infinity): this {
    this.closers.set(command, { times });
    return this;
  }

  /** Runs for every new connection, after the greeting was sent. */
  onConnect(fn: (c: FakeQmpConn) => void): this {
    this.connectListeners.push(fn);
    return this;
  }

  /** Resolves once `cond` holds (checked every 5 ms); no deadline of its own (see wait.ts). */
  async waitFor(cond: () => boolean, what = 'condition'): Promise<void> {
    await waitUntil(() => cond() || undefined, `fake QMP: ${what}`, 5);
  }

  /** Destroys every connection and closes the server. */
  async close(): Promise<void> {
    for (const c of this.conns) c.socket.destroy();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(s: net.Socket): void {
    const conn = new FakeQmpConn(this.conns.length, s);
    this.conns.push(conn);
    // The client hanging up mid-write (EPIPE, ECONNRESET) is what several tests provoke.
    s.on('error', () => {});
    s.on('data', (d) => conn.feed(d, (line) => this.onRequest(conn, line)));
    if (this.greeting !== null) conn.send(this.greeting);
    for (const fn of this.connectListeners) fn(conn);
  }

  private onRequest(conn: FakeQmpConn, raw: string): void {
    let m: unknown;
    try {
      m = JSON.parse(raw);
    } catch {
      m = null;
    }
    const o = (typeof m === 'object' && m !== null ? m : {}) as { execute?: unknown; id?: unknown; arguments?: unknown };
    const execute = typeof o.execute === 'string' ? o.execute : null;
    const key = execute ?? '';
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    const req: FakeQmpRequest = { execute, id: o.id, arguments: o.arguments, raw, conn: conn.index, n };
    this.commands.push(req);
    const closer = execute !== null ? this.closers.get(execute) : undefined;
    if (closer && closer.times > 0) {
      closer.times--;
      conn.close();
      return;
    }
    const h = execute !== null ? this.handlers.get(execute) : undefined;
    const out = h ? h(req, conn) : undefined;
    if (out === null) return;
    conn.send(out === undefined ? defaultReply(req) : out);
  }
}

const live: FakeQmp[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((f) => f.close()));
});

/** A fake QMP server listening on a fresh socket in a temp dir; closed after the test. */
export async function fakeQmp(opts: FakeQmpOptions = {}): Promise<FakeQmp> {
  const socketPath = path.join(tmpDir('labtel-qmp-'), 'qmp.sock');
  const server = net.createServer();
  const fake = new FakeQmp(server, socketPath, opts);
  live.push(fake);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return fake;
}

type Row = Record<string, unknown>;

export interface LoopRun {
  result: QmpLoopResult;
  rows: Row[];
  qmp: Row[];
  events: Row[];
  reports: string[];
  /** Whether `until` was seen (rather than the loop ending by itself). */
  met: boolean;
  /** The rows file: its size and each line's size, bytes (line end included). */
  fileBytes: number;
  lineBytes: number[];
  /** Peak RSS growth while the loop ran (sampled every 5 ms), bytes. */
  rssGrowth: number;
  /** Uncaught exceptions while the loop ran (in the agent each would end the collector's worker). */
  uncaught: unknown[];
  /** From the loop's start until it resolved, ms (to bound what a rate limit let through; never asserted as a time). */
  elapsedMs: number;
}

/**
 * Runs qmpLoop against `fake` until `until` holds (or the loop ends by
 * itself), then aborts it; the loop must then resolve, not throw. No clock:
 * a condition never met, or a loop that hangs, is the test's timeout.
 */
export async function runQmpLoop(
  fake: FakeQmp,
  until: (reports: readonly string[]) => boolean,
  opts: Partial<Pick<QmpLoopOptions, 'intervalMs' | 'greetingTimeoutMs' | 'commandTimeoutMs' | 'restartDelayMs' | 'maxEventsPerS' | 'maxEventBytesPerS' | 'nowMs' | 'clock'>> = {},
): Promise<LoopRun> {
  const out = path.join(tmpDir(), 'telemetry-qmp.jsonl');
  const writer = new JsonlWriter(out, { availableInDeployment: true });
  const clock = new EpisodeClock(process.hrtime.bigint(), BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint());
  const ac = new AbortController();
  const reports: string[] = [];
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown) => uncaught.push(e);
  process.on('uncaughtException', onUncaught);
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const t0 = performance.now();
  let settled = false;
  let met = false;
  let result: QmpLoopResult;
  try {
    const loop = qmpLoop({
      socket: fake.path,
      intervalMs: 50,
      pid: null,
      writer,
      clock,
      signal: ac.signal,
      reportError: (m) => reports.push(m),
      restartDelayMs: 50,
      greetingTimeoutMs: 300,
      commandTimeoutMs: 500,
      ...opts,
    });
    void loop.then(
      () => (settled = true),
      () => (settled = true),
    );
    while (!settled) {
      if (until(reports)) {
        met = true;
        break;
      }
      await sleep(10);
    }
    ac.abort();
    result = await loop;
  } finally {
    clearInterval(sampler);
    process.off('uncaughtException', onUncaught);
    writer.close();
  }
  const elapsedMs = performance.now() - t0;
  peak = Math.max(peak, process.memoryUsage().rss);
  const raw = fs.readFileSync(out);
  const lineBytes: number[] = [];
  for (let start = 0, nl = raw.indexOf(10); nl >= 0; start = nl + 1, nl = raw.indexOf(10, start)) lineBytes.push(nl + 1 - start);
  const rows = readJsonl(out);
  return {
    result,
    rows,
    qmp: rows.filter((r) => r.source === 'qmp'),
    events: rows.filter((r) => r.source === 'qmp_event'),
    reports,
    met,
    fileBytes: raw.length,
    lineBytes,
    rssGrowth: peak - rss0,
    uncaught,
    elapsedMs,
  };
}

/** What a stub QEMU answers each command with (throwing is refusing). */
export type StubAnswers = Record<string, (args?: Record<string, unknown>) => unknown>;

/**
 * A QmpClient stand-in without the socket, for polls against a hostile peer: each command is answered with what
 * `answers` gives; query-stats-schemas names the vm and vcpu targets, query-status says running, anything else is [].
 * Every command sent is pushed on `sent`.
 */
export const stubQmp = (answers: StubAnswers, sent: Array<[string, unknown]> = []): QmpClient =>
  ({
    execute: async (command: string, args?: Record<string, unknown>) => {
      sent.push([command, args]);
      const a = answers[command];
      if (a) return a(args);
      if (command === 'query-stats-schemas') return [{ target: 'vm' }, { target: 'vcpu' }];
      if (command === 'query-status') return { status: 'running', running: true };
      return [];
    },
  }) as unknown as QmpClient;
