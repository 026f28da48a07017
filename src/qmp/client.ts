// A QMP client over a unix socket: greeting, qmp_capabilities, commands
// matched to replies by id with a timeout each, and asynchronous events in a
// bounded queue. QEMU is a peer that may be compromised from inside the
// guest or simply broken, so nothing it sends is trusted: what it sends is
// judged line by line in QmpLineHandler (line-handler.ts: bounded, never
// throws, problems counted by kind); a message over 10 MiB disconnects.
// Nothing here throws at the caller except a failed connect.
import net from 'node:net';
import { QmpLineHandler, QMP_DEFAULTS, type EventLimits, type QmpEvent } from './line-handler.js';
import { QmpProblems, type QmpProblemKind } from './problems.js';

export type { QmpEvent } from './line-handler.js';

/** A carrier of QMP other than a socket (libvirt: src/libvirt/virsh-qmp-link.ts): it sends each command and feeds what comes back into `lines`. */
export interface QmpLink {
  send(msg: { execute: string; arguments?: object; id: string }): void;
  close(): void;
}

/** How to open a QmpLink: `fail` ends the client with why; `commandTimeoutMs` is how long the carrier may hold one command. */
export interface QmpLinkSpec {
  /** What messages name instead of a socket path, e.g. "libvirt domain web1 (qemu:///system)". */
  where: string;
  /** Said when the greeting does not come in time. */
  noGreeting: string;
  open(lines: QmpLineHandler, fail: (why: string) => void, o: { maxMessageBytes: number; commandTimeoutMs: number }): QmpLink;
}

export interface QmpClientOptions {
  /** QEMU's QMP socket; or, with `link`, none. */
  path?: string;
  /** Another carrier than a socket: QMP through libvirt (viaLibvirt() in src/libvirt/virsh-qmp-link.ts). */
  link?: QmpLinkSpec;
  greetingTimeoutMs?: number;
  commandTimeoutMs?: number;
  maxMessageBytes?: number;
  maxQueuedEvents?: number;
  /** Events taken per second, bursts of one second's worth (default 100); the excess is dropped and counted. */
  maxEventsPerS?: number;
  /** Bytes of event rows taken per second (default 256 KiB), bursts of one second's worth; the excess is dropped and counted. */
  maxEventBytesPerS?: number;
  /** Shared rate limit and byte budget (see QmpLineHandlerOptions.eventLimits); replaces maxEventsPerS and maxEventBytesPerS. */
  eventLimits?: EventLimits;
  /** Where problems are counted and the first of each kind reported (a collector shares one over its connections). */
  problems?: QmpProblems;
  /** Without `problems`: the first problem of each kind, in words (the client carries on). */
  onProblem?: (message: string, kind: QmpProblemKind) => void;
  /** Events are ready in takeEvents(). */
  onEvents?: () => void;
}

export class QmpClient {
  /** Resolves with the reason once the connection is gone. */
  readonly closed: Promise<string>;
  /** What QEMU sent, judged line by line (no socket in it: the fuzz target drives it directly). */
  readonly lines: QmpLineHandler;
  private readonly sock: net.Socket | null = null;
  private readonly link: QmpLink | null = null;
  /** What the messages name: the socket, or the domain. */
  readonly where: string;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private nextId = 0;
  private greeted!: (ok: boolean) => void;
  private closeReason: string | null = null;
  private markClosed!: (why: string) => void;
  private readonly commandTimeoutMs: number;

  private constructor(o: QmpClientOptions) {
    this.commandTimeoutMs = o.commandTimeoutMs ?? 5000;
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
    const problems = o.problems ?? new QmpProblems((kind, m) => o.onProblem?.(m, kind));
    this.lines = new QmpLineHandler({
      maxMessageBytes: o.maxMessageBytes ?? QMP_DEFAULTS.maxMessageBytes,
      maxQueuedEvents: o.maxQueuedEvents ?? QMP_DEFAULTS.maxQueuedEvents,
      maxEventsPerS: o.maxEventsPerS ?? QMP_DEFAULTS.maxEventsPerS,
      maxEventBytesPerS: o.maxEventBytesPerS ?? QMP_DEFAULTS.maxEventBytesPerS,
      eventLimits: o.eventLimits,
      problems,
      onGreeting: () => this.greeted?.(true),
      onEvents: o.onEvents,
      onFatal: (why) => this.fail(why),
    });
    if (o.link) {
      this.where = o.link.where;
      this.link = o.link.open(this.lines, (why) => this.fail(why), {
        maxMessageBytes: o.maxMessageBytes ?? QMP_DEFAULTS.maxMessageBytes,
        // The carrier gets a second more than the command: the caller's timeout, with its own message, comes first.
        commandTimeoutMs: this.commandTimeoutMs + 1000,
      });
      return;
    }
    if (o.path === undefined) throw new Error('QmpClient: neither a socket path nor a link');
    this.where = o.path;
    const sock = (this.sock = net.createConnection({ path: o.path }));
    sock.on('data', (d) => this.lines.feed(d));
    sock.on('error', (err) => this.fail(`connection error ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    sock.on('close', () => this.fail(this.lines.greeted ? 'QEMU closed the QMP connection' : 'QEMU closed the QMP connection before its greeting'));
  }

  /** QEMU's version from the greeting, e.g. "7.2.0". */
  get version(): string | null {
    return this.lines.version;
  }

  /** Events dropped on this connection (rate limit, byte budget and full queue). */
  get droppedEvents(): number {
    return this.lines.droppedEvents;
  }

  /** Lines on this connection that were no usable message. */
  get badLines(): number {
    return this.lines.badLines;
  }

  get problems(): QmpProblems {
    return this.lines.problems;
  }

  /** Connects, waits for the greeting and negotiates capabilities; rejects with why it could not. */
  static async connect(opts: QmpClientOptions): Promise<QmpClient> {
    const c = new QmpClient(opts);
    const greetingMs = opts.greetingTimeoutMs ?? 5000;
    const greeted = new Promise<boolean>((resolve) => (c.greeted = resolve));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), greetingMs)));
    const first = await Promise.race([greeted, c.closed, timeout]);
    clearTimeout(timer);
    if (first === 'timeout') {
      c.close(`no QMP greeting within ${greetingMs} ms`);
      if (opts.link) throw new Error(`${c.where}: ${opts.link.noGreeting} within ${greetingMs} ms`);
      throw new Error(`${opts.path}: no QMP greeting within ${greetingMs} ms (QEMU serves one client per QMP socket: is another client connected?)`);
    }
    if (first !== true) {
      const why = typeof first === 'string' ? first : await c.closed;
      throw new Error(why.startsWith(c.where) ? why : `${c.where}: ${why}`);
    }
    try {
      await c.execute('qmp_capabilities');
    } catch (err) {
      c.close('qmp_capabilities failed');
      throw new Error(`${c.where}: qmp_capabilities failed: ${(err as Error).message}`, { cause: err });
    }
    return c;
  }

  /**
   * Runs one command; rejects with a QapiError, a timeout, the reply being
   * unreadable, or the connection closing. `timeout` replaces the client's
   * command timeout for this call (and the message it rejects with).
   */
  execute<T = unknown>(command: string, args?: object, timeout?: { ms: number; message: string }): Promise<T> {
    if (this.closeReason) return Promise.reject(new Error(`${command}: ${this.closeReason}`));
    const id = `labtel-${++this.nextId}`;
    const ms = timeout ? Math.max(0, timeout.ms) : this.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.timers.delete(id);
        this.lines.forget(id);
        reject(new Error(timeout ? timeout.message : `${command}: no reply within ${ms} ms`));
      }, ms);
      this.timers.set(id, timer);
      const done = () => {
        clearTimeout(timer);
        this.timers.delete(id);
      };
      this.lines.expect(
        id,
        command,
        (v) => {
          done();
          resolve(v as T);
        },
        (e) => {
          done();
          reject(e);
        },
      );
      if (this.link) this.link.send(args ? { execute: command, arguments: args, id } : { execute: command, id });
      else this.sock!.write(JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id }) + '\n');
    });
  }

  /** The connection's file descriptor (for its peer's credentials), or null once closed. */
  get fd(): number | null {
    const fd = (this.sock as unknown as { _handle?: { fd?: unknown } } | null)?._handle?.fd;
    return typeof fd === 'number' && fd >= 0 ? fd : null;
  }

  /** Events received since the last call, oldest first. */
  takeEvents(): QmpEvent[] {
    return this.lines.takeEvents();
  }

  close(why = 'closed by labtel'): void {
    this.fail(why);
  }

  private fail(why: string): void {
    if (this.closeReason) return;
    this.closeReason = why;
    this.greeted?.(false);
    this.lines.fail(why); // rejects every waiting command (their timers are cleared as they settle)
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.sock?.destroy();
    this.link?.close();
    this.markClosed(why);
  }
}
