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
