// A QMP client over a unix socket: greeting, qmp_capabilities, commands
// matched to replies by id with a timeout each, and asynchronous events in a
// bounded queue. QEMU is a peer that may be compromised from inside the
// guest or simply broken, so nothing it sends is trusted: a message is at
// most 10 MiB (more: disconnect), every line that is not a JSON object is
// counted and reported, and replies with no or unknown ids are reported and
// dropped. Nothing here throws at the caller except a failed connect.
import net from 'node:net';
import { QapiError } from '../util/qapi-error.js';

export interface QmpEvent {
  event: string;
  data: unknown;
  /** QEMU's host wall-clock time of the event, ns since the epoch; null when absent or malformed. */
  wallNs: bigint | null;
  /** The episode-independent monotonic time it was received (process.hrtime), ns. */
  receivedMonoNs: bigint;
}

export interface QmpClientOptions {
  path: string;
  greetingTimeoutMs?: number;
  commandTimeoutMs?: number;
  maxMessageBytes?: number;
  maxQueuedEvents?: number;
  /** Something wrong in what QEMU sent (the client carries on). */
  onProblem?: (message: string) => void;
  /** Events are ready in takeEvents(). */
  onEvents?: () => void;
}

interface Pending {
  command: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const show = (s: string) => JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);

export class QmpClient {
  /** QEMU's version from the greeting, e.g. "7.2.0". */
  version: string | null = null;
  droppedEvents = 0;
  badLines = 0;
  /** Resolves with the reason once the connection is gone. */
  readonly closed: Promise<string>;
  private readonly sock: net.Socket;
  private readonly pending = new Map<string, Pending>();
  private events: QmpEvent[] = [];
  private nextId = 0;
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  private greeted!: (ok: boolean) => void;
  private closeReason: string | null = null;
  private markClosed!: (why: string) => void;

  private constructor(private readonly o: QmpClientOptions & Required<Pick<QmpClientOptions, 'commandTimeoutMs' | 'maxMessageBytes' | 'maxQueuedEvents'>>) {
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    this.sock = net.createConnection({ path: o.path });
    this.sock.on('data', (d) => this.onData(d));
    this.sock.on('error', (err) => this.fail(`connection error ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    this.sock.on('close', () => this.fail(this.greeting ? 'QEMU closed the QMP connection' : 'QEMU closed the QMP connection before its greeting'));
  }

  private greeting = false;

  /** Connects, waits for the greeting and negotiates capabilities; rejects with why it could not. */
  static async connect(opts: QmpClientOptions): Promise<QmpClient> {
    const c = new QmpClient({
      ...opts,
      commandTimeoutMs: opts.commandTimeoutMs ?? 5000,
      maxMessageBytes: opts.maxMessageBytes ?? 10 << 20,
      maxQueuedEvents: opts.maxQueuedEvents ?? 10_000,
    });
    const greetingMs = opts.greetingTimeoutMs ?? 5000;
    const greeted = new Promise<boolean>((resolve) => (c.greeted = resolve));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), greetingMs)));
    const first = await Promise.race([greeted, c.closed, timeout]);
    clearTimeout(timer);
    if (first === 'timeout') {
      c.close(`no QMP greeting within ${greetingMs} ms`);
      throw new Error(`${opts.path}: no QMP greeting within ${greetingMs} ms (QEMU serves one client per QMP socket: is another client connected?)`);
    }
    if (first !== true) throw new Error(`${opts.path}: ${typeof first === 'string' ? first : await c.closed}`);
    try {
      await c.execute('qmp_capabilities');
    } catch (err) {
      c.close('qmp_capabilities failed');
      throw new Error(`${opts.path}: qmp_capabilities failed: ${(err as Error).message}`, { cause: err });
    }
    return c;
  }

  /** Runs one command; rejects with a QapiError, a timeout, or the connection closing. */
  execute<T = unknown>(command: string, args?: object): Promise<T> {
    if (this.closeReason) return Promise.reject(new Error(`${command}: ${this.closeReason}`));
    const id = `labtel-${++this.nextId}`;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${command}: no reply within ${this.o.commandTimeoutMs} ms`));
      }, this.o.commandTimeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.sock.write(JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id }) + '\n');
    });
  }

  /** The connection's file descriptor (for its peer's credentials), or null once closed. */
  get fd(): number | null {
    const fd = (this.sock as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
    return typeof fd === 'number' && fd >= 0 ? fd : null;
  }

  /** Events received since the last call, oldest first. */
  takeEvents(): QmpEvent[] {
    const e = this.events;
    this.events = [];
    return e;
  }

  close(why = 'closed by labtel'): void {
    this.fail(why);
  }

  private fail(why: string): void {
    if (this.closeReason) return;
    this.closeReason = why;
    this.greeted?.(false);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`${p.command}: ${why}`));
      this.pending.delete(id);
    }
    this.chunks = [];
    this.sock.destroy();
    this.markClosed(why);
  }

  private onData(d: Buffer): void {
    let start = 0;
    for (let nl = d.indexOf(10); nl >= 0; nl = d.indexOf(10, start)) {
      const part = d.subarray(start, nl);
      const line = this.chunks.length ? Buffer.concat([...this.chunks, part]) : part;
      this.chunks = [];
      this.chunkBytes = 0;
      start = nl + 1;
      if (line.length > this.o.maxMessageBytes) return this.tooLong(line.length);
      this.onLine(line.toString('utf8'));
      if (this.closeReason) return;
    }
    if (start < d.length) {
      this.chunkBytes += d.length - start;
      if (this.chunkBytes > this.o.maxMessageBytes) return this.tooLong(this.chunkBytes);
      this.chunks.push(Buffer.from(d.subarray(start)));
    }
  }

  private tooLong(bytes: number): void {
    const why = `QEMU sent a QMP message of more than ${this.o.maxMessageBytes} bytes (${bytes} without a line end); disconnected`;
    this.o.onProblem?.(why);
    this.fail(why);
  }

  private onLine(raw: string): void {
    const line = raw.trim();
    if (!line) return;
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(line) as Record<string, unknown>;
    } catch {
      m = null as never;
    }
    if (typeof m !== 'object' || m === null || Array.isArray(m)) {
      this.badLines++;
      this.o.onProblem?.(`QMP sent a line that is not a JSON object: ${show(line)}`);
      return;
    }
    if (!this.greeting) {
      const qmp = m.QMP as { version?: { qemu?: { major?: unknown; minor?: unknown; micro?: unknown } } } | undefined;
      if (typeof qmp !== 'object' || qmp === null) {
        this.o.onProblem?.(`QMP's first message is not a greeting: ${show(line)}`);
        this.fail('QEMU sent something other than a QMP greeting first');
        return;
      }
      const v = qmp.version?.qemu;
      this.version = v && [v.major, v.minor, v.micro].every((x) => typeof x === 'number') ? `${v.major}.${v.minor}.${v.micro}` : null;
      this.greeting = true;
      this.greeted(true);
      return;
    }
    if (typeof m.event === 'string') return this.onEvent(m);
    const id = m.id;
    if ('return' in m || 'error' in m) {
      const p = typeof id === 'string' ? this.pending.get(id) : undefined;
      if (!p) {
        const err = m.error as { desc?: unknown } | undefined;
        const what = err ? `an error (${show(String(err.desc ?? ''))})` : 'a reply';
        this.o.onProblem?.(id === undefined ? `QMP sent ${what} without an id` : `QMP sent ${what} for an unknown id ${(JSON.stringify(id) ?? '').slice(0, 80)}`);
        return;
      }
      this.pending.delete(id as string);
      clearTimeout(p.timer);
      if ('error' in m) {
        p.reject(QapiError.fromReply(p.command, m.error));
      } else p.resolve(m.return);
      return;
    }
    this.badLines++;
    this.o.onProblem?.(`QMP sent a message that is neither an event nor a reply: ${show(line)}`);
  }

  private onEvent(m: Record<string, unknown>): void {
    if (this.events.length >= this.o.maxQueuedEvents) {
      this.droppedEvents++;
      return;
    }
    const ts = m.timestamp as { seconds?: unknown; microseconds?: unknown } | undefined;
    const ok = ts && Number.isSafeInteger(ts.seconds) && Number.isSafeInteger(ts.microseconds) && (ts.seconds as number) >= 0 && (ts.microseconds as number) >= 0 && (ts.microseconds as number) < 1e6;
    this.events.push({
      event: m.event as string,
      data: m.data ?? null,
      wallNs: ok ? BigInt(ts.seconds as number) * 1_000_000_000n + BigInt(ts.microseconds as number) * 1000n : null,
      receivedMonoNs: process.hrtime.bigint(),
    });
    if (this.events.length === 1) this.o.onEvents?.();
  }
}
