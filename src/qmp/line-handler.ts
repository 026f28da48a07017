// Everything the QMP client does with the bytes QEMU sends, without the
// socket: splitting lines, judging each (length, depth, JSON, object),
// the greeting, replies matched to waiting commands, and events through a
// rate limit and a byte budget into a bounded queue. QEMU is a peer that may be compromised, so
// feed() never throws, every bad line is one count of a fixed kind of
// problem, and what is held is bounded: a partial line of at most
// maxMessageBytes, at most maxQueuedEvents events of at most
// maxQueuedEventBytes together (each event's data at most maxEventDataBytes).
import { jsonDepthExceeds, MAX_JSON_DEPTH } from '../util/json-depth.js';
import { QapiError } from '../util/qapi-error.js';
import { QmpProblems } from './problems.js';
import { shallowMembers } from './shallow-scan.js';
import { TokenBucket } from './token-bucket.js';

export interface QmpEvent {
  /** QEMU's event name, at most MAX_EVENT_NAME characters. */
  event: string;
  /** Its data; null when it had none or when it was larger than maxEventDataBytes (see dataBytes). */
  data: unknown;
  /** The size of QEMU's data as JSON, UTF-8 bytes (0 without data). */
  dataBytes: number;
  /** QEMU's host wall-clock time of the event, ns since the epoch; null when absent or malformed. */
  wallNs: bigint | null;
  /** The episode-independent monotonic time it was received (process.hrtime), ns. */
  receivedMonoNs: bigint;
}

export interface QmpLineHandlerOptions {
  maxMessageBytes?: number;
  maxQueuedEvents?: number;
  maxQueuedEventBytes?: number;
  maxEventDataBytes?: number;
  /** Events taken per second (bursts of one second's worth); the excess is dropped and counted. */
  maxEventsPerS?: number;
  /** Bytes of event rows taken per second (bursts of one second's worth; see eventRowBytes); the excess is dropped and counted. */
  maxEventBytesPerS?: number;
  /** Where problems are counted (a collector shares one over its connections); by default one of its own. */
  problems?: QmpProblems;
  /**
   * The rate limit and byte budget (a collector shares them over its connections, so a QEMU that hangs up
   * does not get a fresh burst on each new one); by default its own, from maxEventsPerS and maxEventBytesPerS.
   */
  eventLimits?: EventLimits;
  /** The clock of the rate limit, ms (tests and the fuzz target may pass their own). */
  nowMs?: () => number;
  /** The greeting came. */
  onGreeting?: () => void;
  /** Events are ready in takeEvents() (called when the queue becomes non-empty). */
  onEvents?: () => void;
  /** The connection cannot go on (a message too long, no greeting): the owner hangs up with this reason. */
  onFatal?: (why: string) => void;
}

export const QMP_DEFAULTS = {
  maxMessageBytes: 10 << 20,
  maxQueuedEvents: 10_000,
  maxQueuedEventBytes: 8 << 20,
  maxEventDataBytes: 64 << 10,
  maxEventsPerS: 100,
  maxEventBytesPerS: 256 << 10,
} as const;

export const MAX_EVENT_NAME = 256;
/** Distinct event names whose drops are counted by name; the rest are counted under "(other)". */
export const MAX_DROPPED_NAMES = 16;
const MAX_DROP_NAME = 64;
const EVENT_OVERHEAD = 128; // what a queued event holds besides its name and data, roughly
/** What a qmp_event row holds besides its name and data: the envelope, qemu_wall_ns, time_source, a null_reason (about 200-450 bytes). */
export const EVENT_ROW_OVERHEAD = 512;

/** What an event's row costs the byte budget: its name and kept data as written (UTF-8 JSON), and the rest of the row. */
export const eventRowBytes = (name: string, keptDataBytes: number): number => EVENT_ROW_OVERHEAD + Buffer.byteLength(JSON.stringify(name), 'utf8') + keptDataBytes;

/** The token buckets events pass: one by count, one by the bytes of their rows. */
export interface EventLimits {
  count: TokenBucket;
  bytes: TokenBucket;
}

export const eventLimits = (perS: number = QMP_DEFAULTS.maxEventsPerS, bytesPerS: number = QMP_DEFAULTS.maxEventBytesPerS, nowMs?: () => number): EventLimits => ({
  count: new TokenBucket(perS, nowMs),
  bytes: new TokenBucket(bytesPerS, nowMs),
});

const EMPTY = Buffer.alloc(0);
/** A partial-line buffer up to this size is kept for the next line; a larger one is let go once its line ends. */
const SMALL_PARTIAL = 64 << 10;

interface Waiter {
  command: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

const show = (s: string) => JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);
const has = (o: object, k: string) => Object.hasOwn(o, k);

export class QmpLineHandler {
  /** QEMU's version from the greeting, e.g. "7.2.0". */
  version: string | null = null;
  greeted = false;
  /** Why the connection cannot go on, once it cannot; nothing more is handled. */
  dead: string | null = null;
  /** Lines that were not a usable message (not JSON, not an object, too deep, neither event nor reply). */
  badLines = 0;
  eventsRateLimited = 0;
  eventsQueueFull = 0;
  /** Events dropped because their rows would pass maxEventBytesPerS. */
  eventsOverBytes = 0;
  /** Dropped events by name (at most MAX_DROPPED_NAMES names, the rest under "(other)"). */
  readonly droppedByName = new Map<string, number>();
  readonly problems: QmpProblems;
  private readonly o: Required<Pick<QmpLineHandlerOptions, 'maxMessageBytes' | 'maxQueuedEvents' | 'maxQueuedEventBytes' | 'maxEventDataBytes'>> & QmpLineHandlerOptions;
  private readonly bucket: TokenBucket;
  private readonly byteBucket: TokenBucket;
  private readonly pending = new Map<string, Waiter>();
  private events: QmpEvent[] = [];
  private eventBytes = 0;
  /** The line not yet ended: its bytes are partial[0, partialBytes), in one buffer that grows by doubling. */
  private partial: Buffer = EMPTY;
  private partialBytes = 0;

  constructor(opts: QmpLineHandlerOptions = {}) {
    this.o = { ...QMP_DEFAULTS, ...dropUndefined(opts) };
    this.problems = opts.problems ?? new QmpProblems();
    const limits = opts.eventLimits ?? eventLimits(opts.maxEventsPerS, opts.maxEventBytesPerS, opts.nowMs);
    this.bucket = limits.count;
    this.byteBucket = limits.bytes;
  }

  get droppedEvents(): number {
    return this.eventsRateLimited + this.eventsQueueFull + this.eventsOverBytes;
  }

  /** Bytes of a line not yet ended. */
  get bufferedBytes(): number {
    return this.partialBytes;
  }

  get queuedEvents(): number {
    return this.events.length;
  }

  /** What the queued events hold, roughly (names, data as JSON, overhead). */
  get queuedEventBytes(): number {
    return this.eventBytes;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Waits for the reply with this id. */
  expect(id: string, command: string, resolve: (v: unknown) => void, reject: (e: Error) => void): void {
    if (this.dead) {
      reject(new Error(`${command}: ${this.dead}`));
      return;
    }
    this.pending.set(id, { command, resolve, reject });
  }

  /** Stops waiting for `id` (its command timed out); a late reply is then an unknown id. */
  forget(id: string): void {
    this.pending.delete(id);
  }

  /** Events received since the last call, oldest first. */
  takeEvents(): QmpEvent[] {
    const e = this.events;
    this.events = [];
    this.eventBytes = 0;
    return e;
  }

  /** Ends the connection's handling: every waiting command is rejected with `why`. */
  fail(why: string): void {
    if (!this.dead) this.dead = why;
    this.partial = EMPTY;
    this.partialBytes = 0;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const w of waiting) settle(() => w.reject(new Error(`${w.command}: ${why}`)));
  }

  /**
   * A reply that came by another way than the stream, matched to `id` by its
   * carrier (libvirt relays one command at a time and answers with its own id):
   * judged as a line is, and answered as the reply with `id`. What does not
   * settle the command (not a reply, not parsed) fails it at once. Never throws.
   */
  feedReply(text: string, id: string): void {
    if (this.dead) return;
    try {
      if (Buffer.byteLength(text, 'utf8') > this.o.maxMessageBytes) return this.tooLong(Buffer.byteLength(text, 'utf8'));
      this.onLine(text, id);
    } catch (err) {
      this.internal(err);
    }
    const w = this.pending.get(id);
    if (w) {
      this.pending.delete(id);
      settle(() => w.reject(new Error(`${w.command}: the reply libvirt relayed was no usable QMP reply (see problems)`)));
    }
  }

  /** Fails the command waiting for `id` with `err` (its carrier could not deliver it). */
  rejectPending(id: string, err: Error): void {
    const w = this.pending.get(id);
    if (!w) return;
    this.pending.delete(id);
    settle(() => w.reject(err));
  }

  /** Takes bytes as they came off the socket. Never throws. */
  feed(d: Buffer): void {
    if (this.dead) return;
    let start = 0;
    try {
      for (let nl = d.indexOf(10); nl >= 0 && !this.dead; nl = d.indexOf(10, start)) {
        const part = d.subarray(start, nl);
        start = nl + 1;
        if (this.partialBytes + part.length > this.o.maxMessageBytes) return this.tooLong(this.partialBytes + part.length);
        let line = part;
        if (this.partialBytes) {
          this.append(part);
          line = this.partial.subarray(0, this.partialBytes);
          // The next line starts afresh: a buffer grown for one long line is not held after it.
          this.partial = this.partial.length > SMALL_PARTIAL ? EMPTY : this.partial;
          this.partialBytes = 0;
        }
        try {
          this.onLine(line.toString('utf8'));
        } catch (err) {
          this.internal(err);
        }
      }
      if (start < d.length && !this.dead) {
        const rest = d.length - start;
        if (this.partialBytes + rest > this.o.maxMessageBytes) return this.tooLong(this.partialBytes + rest);
        this.append(d.subarray(start));
      }
    } catch (err) {
      this.internal(err);
    }
  }

  /**
   * Adds to the partial line. One buffer, not one per read: a QEMU writing a byte per read made each read a
   * Buffer of ~150 bytes of heap, so 10 MiB of line held ~1.5 GiB. At most twice the line's bytes are held.
   */
  private append(b: Buffer): void {
    const need = this.partialBytes + b.length;
    if (need > this.partial.length) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(need, this.partial.length * 2, 256), this.o.maxMessageBytes));
      this.partial.copy(grown, 0, 0, this.partialBytes);
      this.partial = grown;
    }
    b.copy(this.partial, this.partialBytes);
    this.partialBytes = need;
  }

  private internal(err: unknown): void {
    this.problems.add('internal', () => `labtel failed on a QMP message: ${String((err as Error)?.stack ?? err).slice(0, 500)}`);
  }

  private tooLong(bytes: number): void {
    const why = `QEMU sent a QMP message of more than ${this.o.maxMessageBytes} bytes (${bytes} without a line end); disconnected`;
    this.problems.add('too_long', () => why);
    this.die(why);
  }

  private die(why: string): void {
    this.fail(why);
    try {
      this.o.onFatal?.(why);
    } catch (err) {
      this.internal(err);
    }
  }

  private onLine(raw: string, replyTo?: string): void {
    const line = raw.trim();
    if (!line) return;
    if (jsonDepthExceeds(line, MAX_JSON_DEPTH)) return this.tooDeep(line, replyTo);
    let m: unknown;
    try {
      m = JSON.parse(line);
    } catch {
      this.badLines++;
      this.problems.add('not_json', () => `QMP sent a line that is not JSON: ${show(line)}`);
      return;
    }
    if (typeof m !== 'object' || m === null || Array.isArray(m)) {
      this.badLines++;
      this.problems.add('not_object', () => `QMP sent JSON that is not an object: ${show(line)}`);
      return;
    }
    const o = m as Record<string, unknown>;
    if (replyTo === undefined && !this.greeted) return this.onGreeting(o, line);
    if (replyTo === undefined && has(o, 'event') && typeof o.event === 'string') return this.onEvent(o);
    if (has(o, 'return') || has(o, 'error')) return this.onReply(o, replyTo);
    this.badLines++;
    this.problems.add('neither_event_nor_reply', () => `QMP sent a message that is neither an event nor a reply: ${show(line)}`);
  }

  private tooDeep(line: string, replyTo?: string): void {
    this.badLines++;
    const top = shallowMembers(line);
    if (replyTo !== undefined) top.id = replyTo;
    const w = top.id !== null ? this.pending.get(top.id) : undefined;
    const what = `QMP sent a message nested deeper than ${MAX_JSON_DEPTH} levels (${line.length} characters, ${top.keys.has('event') ? 'an event' : top.keys.has('return') || top.keys.has('error') ? 'a reply' : 'neither event nor reply'}); not parsed`;
    this.problems.add('too_deep', () => (w ? `${what}: ${w.command} failed at once` : what));
    if (w) {
      this.pending.delete(top.id!);
      settle(() => w.reject(new Error(`${w.command}: QEMU's reply is nested deeper than ${MAX_JSON_DEPTH} levels (not parsed)`)));
    }
  }

  private onGreeting(o: Record<string, unknown>, line: string): void {
    const qmp = has(o, 'QMP') ? o.QMP : undefined;
    if (typeof qmp !== 'object' || qmp === null || Array.isArray(qmp)) {
      this.problems.add('bad_greeting', () => `QMP's first message is not a greeting: ${show(line)}`);
      this.die('QEMU sent something other than a QMP greeting first');
      return;
    }
    const v = (qmp as { version?: { qemu?: { major?: unknown; minor?: unknown; micro?: unknown } } }).version?.qemu;
    this.version = v && [v.major, v.minor, v.micro].every((x) => Number.isSafeInteger(x)) ? `${v.major}.${v.minor}.${v.micro}` : null;
    this.greeted = true;
    this.o.onGreeting?.();
  }

  private onReply(o: Record<string, unknown>, replyTo?: string): void {
    const id = replyTo ?? (has(o, 'id') ? o.id : undefined);
    const w = typeof id === 'string' ? this.pending.get(id) : undefined;
    if (!w) {
      const kind = id === undefined ? 'no_id' : 'unknown_id';
      this.problems.add(kind, () => {
        const err = o.error as { desc?: unknown } | undefined;
        const desc = typeof err === 'object' && err !== null ? err.desc : undefined;
        const what = has(o, 'error') ? `an error (${show(typeof desc === 'string' ? desc : (JSON.stringify(desc) ?? ''))})` : 'a reply';
        return id === undefined ? `QMP sent ${what} without an id` : `QMP sent ${what} for an unknown id ${(JSON.stringify(id) ?? '').slice(0, 80)}`;
      });
      return;
    }
    this.pending.delete(id as string);
    if (has(o, 'error')) {
      const err = qapiError(w.command, o.error);
      settle(() => w.reject(err));
    }
    else settle(() => w.resolve(o.return));
  }

  private onEvent(o: Record<string, unknown>): void {
    const name = (o.event as string).slice(0, MAX_EVENT_NAME);
    if (this.events.length >= this.o.maxQueuedEvents || this.eventBytes >= this.o.maxQueuedEventBytes) {
      this.eventsQueueFull++;
      return this.noteDrop(name);
    }
    if (!this.bucket.take()) {
      this.eventsRateLimited++;
      return this.noteDrop(name);
    }
    let data = has(o, 'data') ? (o.data ?? null) : null;
    // Bytes as written (UTF-8): counted in characters, 64 Ki of '€' were 192 KiB in the row.
    const dataBytes = data === null ? 0 : Buffer.byteLength(JSON.stringify(data) ?? '', 'utf8');
    if (dataBytes > this.o.maxEventDataBytes) data = null;
    if (!this.byteBucket.take(eventRowBytes(name, data === null ? 0 : dataBytes))) {
      this.eventsOverBytes++;
      return this.noteDrop(name);
    }
    const ts = (has(o, 'timestamp') ? o.timestamp : undefined) as { seconds?: unknown; microseconds?: unknown } | undefined | null;
    const ok =
      typeof ts === 'object' && ts !== null && Number.isSafeInteger(ts.seconds) && Number.isSafeInteger(ts.microseconds) &&
      (ts.seconds as number) >= 0 && (ts.microseconds as number) >= 0 && (ts.microseconds as number) < 1e6;
    this.events.push({
      event: name,
      data,
      dataBytes,
      wallNs: ok ? BigInt(ts.seconds as number) * 1_000_000_000n + BigInt(ts.microseconds as number) * 1000n : null,
      receivedMonoNs: process.hrtime.bigint(),
    });
    this.eventBytes += EVENT_OVERHEAD + name.length + (data === null ? 0 : dataBytes);
    if (this.events.length === 1) this.o.onEvents?.();
  }

  private noteDrop(name: string): void {
    let k = name.slice(0, MAX_DROP_NAME);
    if (!this.droppedByName.has(k) && this.droppedByName.size >= MAX_DROPPED_NAMES) k = '(other)';
    this.droppedByName.set(k, (this.droppedByName.get(k) ?? 0) + 1);
  }
}

/**
 * QEMU's error as a QapiError. Its class and desc are read as text here: String() of an object whose
 * "toString" is not a function throws, and thrown inside settle() it left the command unsettled.
 */
function qapiError(command: string, error: unknown): QapiError {
  const e = typeof error === 'object' && error !== null && !Array.isArray(error) ? (error as { class?: unknown; desc?: unknown }) : {};
  const text = (v: unknown) => (v === undefined || v === null ? undefined : typeof v === 'string' ? v : (JSON.stringify(v) ?? undefined));
  return QapiError.fromReply(command, { class: text(e.class), desc: text(e.desc) }, 500);
}

/** Runs a promise's resolve/reject: a throwing callback (there should be none) is not QEMU's doing and must not stop the line loop. */
function settle(f: () => void): void {
  try {
    f();
  } catch {
    // resolve/reject of a native promise do not throw
  }
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
