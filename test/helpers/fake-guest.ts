// A scriptable in-guest agent at the host end of a virtio-serial channel (a
// unix socket), for what no well-behaved guest does: oversize and endless
// lines, floods, bytes that are not UTF-8, stalls mid-line, reconnect storms.
// In connect mode labtel is the client, so the fake guest is the server
// (fakeGuestServer); in listen mode labtel listens and the test connects the
// way QEMU would (connectAsQemu). Every server and socket made here is
// closed after each test.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach } from 'vitest';
import { tmpDir } from './tmp.js';
import { waitFor as waitUntil } from './wait.js';

/** Resolves once `cond` holds (checked every 10 ms); no deadline of its own (see wait.ts). */
export async function waitFor(cond: () => boolean, what = 'condition'): Promise<void> {
  await waitUntil(() => cond() || undefined, what);
}

/** One end of the channel as the guest (or QEMU) holds it. */
export class GuestConn {
  /** Resolves when the socket is closed, by either side. */
  readonly closed: Promise<void>;
  private isClosed = false;

  constructor(readonly socket: net.Socket) {
    // labtel hanging up mid-write (EPIPE, ECONNRESET) is what several tests provoke.
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
  }

  get gone(): boolean {
    return this.isClosed;
  }

  /** Writes raw bytes and resolves once the kernel took them (false if the socket is gone). */
  send(raw: string | Buffer): Promise<boolean> {
    if (this.socket.destroyed || !this.socket.writable) return Promise.resolve(false);
    return new Promise((resolve) => this.socket.write(raw, (e) => resolve(!e)));
  }

  /**
   * Sends `total` bytes of `fill` one chunk at a time, waiting for each to be
   * taken, so the fake itself holds at most one chunk whatever `total` is.
   */
  async pump(total: number, chunkBytes = 1 << 20, fill = 0x61): Promise<{ accepted: number; error: string | null }> {
    const chunk = Buffer.alloc(chunkBytes, fill);
    let accepted = 0;
    while (accepted < total) {
      const n = Math.min(chunkBytes, total - accepted);
      const ok = await Promise.race([this.send(n === chunkBytes ? chunk : chunk.subarray(0, n)), this.closed.then(() => false)]);
      if (!ok) return { accepted, error: 'socket closed' };
      accepted += n;
    }
    return { accepted, error: null };
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The guest end when QEMU is the socket server (chardev server=on): labtel connects to it. */
export class FakeGuestServer {
  readonly conns: GuestConn[] = [];
  private server: net.Server | null = null;

  constructor(readonly path: string) {}

  /** The newest connection. */
  get last(): GuestConn | undefined {
    return this.conns.at(-1);
  }

  /** Starts (or restarts, after down()) listening at `path`. */
  async up(): Promise<void> {
    const server = net.createServer((s) => this.conns.push(new GuestConn(s)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** The guest goes away: every connection is cut and the socket disappears. */
  async down(): Promise<void> {
    for (const c of this.conns) c.close();
    const s = this.server;
    this.server = null;
    if (s?.listening) await new Promise<void>((resolve) => s.close(() => resolve()));
    fs.rmSync(this.path, { force: true });
  }

  /** Resolves with connection number `n` (0-based) once labtel made it. */
  async connection(n: number): Promise<GuestConn> {
    await waitFor(() => this.conns.length > n, `labtel's connection #${n + 1} to the fake guest`);
    return this.conns[n]!;
  }
}

const live: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const x of live.splice(0)) await x.close();
});

/** A fake guest listening on a fresh socket in a temp dir; closed after the test. */
export async function fakeGuestServer(): Promise<FakeGuestServer> {
  const g = new FakeGuestServer(path.join(tmpDir('labtel-guest-'), 'guest.sock'));
  live.push({ close: () => g.down() });
  await g.up();
  return g;
}

/** Connects to labtel's listening socket as QEMU would (chardev server=off), waiting (with no deadline) for it to exist. */
export async function connectAsQemu(socketPath: string): Promise<GuestConn> {
  for (;;) {
    const s = net.createConnection({ path: socketPath });
    const err = await new Promise<Error | null>((resolve) => {
      s.once('connect', () => resolve(null));
      s.once('error', (e) => resolve(e));
    });
    if (!err) {
      const c = new GuestConn(s);
      live.push(c);
      return c;
    }
    s.destroy();
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw err;
    await sleep(10);
  }
}

/** What a flooding guest sends, as fast as the channel takes it. */
export type FloodKind =
  /** `{` without end: one line that never finishes. */
  | 'no-newline'
  /** `{"a":"aaa…"}` lines of `lineBytes` bytes (newline not counted). */
  | 'lines'
  /** `{"i":N}`: the smallest lines there are. */
  | 'tiny'
  /** Lines of `lineBytes` bytes full of escaped control characters (`\u0001`). */
  | 'control'
  /** Lines of `lineBytes` bytes of `1e20`: 4 bytes JSON.stringify writes as 21. */
  | 'numbers';

/** One line of `kind` (without its newline), `lineBytes` long (for lines, control, numbers). */
export function floodLine(kind: FloodKind, lineBytes: number, i = 0): string {
  const fill = (head: string, unit: string, tail: string) => head + unit.repeat(Math.max(0, Math.floor((lineBytes - head.length - tail.length) / unit.length))) + tail;
  if (kind === 'tiny') return `{"i":${i}}`;
  if (kind === 'control') return fill('{"c":"', '\\u0001', '"}');
  if (kind === 'numbers') return fill('{"n":[1e20', ',1e20', ']}');
  return fill('{"a":"', 'a', '"}');
}

const FLOOD_SCRIPT = `
const net = require('net');
const [role, p, kind, totalS, lineS] = process.argv.slice(1);
const total = Number(totalS), lineBytes = Number(lineS);
const chunk = require('fs').readFileSync(process.env.FLOOD_CHUNK);
const pump = (s) => {
  let sent = 0;
  const go = () => {
    while (sent < total) {
      const b = total - sent >= chunk.length ? chunk : chunk.subarray(0, total - sent);
      sent += b.length;
      if (!s.write(b)) return void s.once('drain', go);
    }
    process.stdout.write(JSON.stringify({ sent }) + '\\n');
    process.stdin.on('data', (d) => s.write(d)); // then what the test sends, on the same connection
  };
  s.on('error', () => process.stdout.write(JSON.stringify({ sent, error: 'socket closed' }) + '\\n'));
  go();
};
if (role === 'connect') { const s = net.connect(p); s.on('connect', () => pump(s)); }
else net.createServer((s) => pump(s)).listen(p, () => process.stdout.write('listening\\n'));
setInterval(() => {}, 1000);
`;

/**
 * A guest in a process of its own (so that what it holds is not in the
 * test's RSS) sending about `totalBytes` of `kind` (`total`: whole lines) as fast as the channel takes
 * them: `role` connect dials labtel's listening socket as QEMU would; serve
 * listens at `socketPath` for labtel to connect. Killed after the test.
 */
export async function floodingGuest(
  role: 'connect' | 'serve',
  socketPath: string,
  kind: FloodKind,
  totalBytes: number,
  lineBytes = 1 << 20,
): Promise<{ done: Promise<{ sent: number; error?: string }>; total: number; lines: number; send: (text: string) => void }> {
  const { spawn } = await import('node:child_process');
  let body = '';
  let lines = 0;
  if (kind === 'no-newline') body = '{'.repeat(1 << 20);
  else if (kind === 'tiny') {
    for (let i = 0; body.length < 1 << 20; i++, lines++) body += floodLine('tiny', 0, i % 10) + '\n';
  } else {
    const line = floodLine(kind, lineBytes) + '\n';
    const k = Math.max(1, Math.floor((1 << 20) / line.length));
    body = line.repeat(k);
    lines = k;
  }
  const chunk = Buffer.from(body);
  const chunkFile = path.join(tmpDir('labtel-flood-'), 'chunk');
  fs.writeFileSync(chunkFile, chunk);
  const total = Math.max(1, Math.round(totalBytes / chunk.length)) * chunk.length; // whole chunks: whole lines
  const proc = spawn(process.execPath, ['-e', FLOOD_SCRIPT, role, socketPath, kind, String(total), String(lineBytes)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, FLOOD_CHUNK: chunkFile },
  });
  live.push({ close: () => proc.kill('SIGKILL') });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  if (role === 'serve') await waitFor(() => out.includes('listening'), 'the flooding guest to listen');
  const done = (async () => {
    await waitFor(() => out.includes('"sent"'), 'the flooding guest to finish sending');
    return JSON.parse(out.split('\n').find((l) => l.includes('"sent"'))!) as { sent: number; error?: string };
  })();
  return { done, total, lines: kind === 'no-newline' ? 0 : (total / chunk.length) * lines, send: (text) => void proc.stdin!.write(text) };
}
