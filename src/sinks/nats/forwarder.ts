// Forwards an episode's rows to NATS JetStream by reading its JSONL files,
// the source of truth: collectors never wait on NATS.
//
// A message is a BATCH: consecutive rows of one source, the file's exact
// bytes (a slice of the read window, never copied row by row), published to
// <prefix>.<host>.<episode>.<source> with the message id
// <host>/<episode>/<source>/<firstSeq>-<lastSeq>. A batch ends where the
// source changes (the qmp file interleaves qmp and qmp_event), where a seq
// does not follow the last, at BATCH_BYTES (kept under what the server's
// max_payload leaves after the headers), or at the end of what is written.
//
// Progress is a cursor in the episode directory (forward-cursor.json, tmp +
// rename): per source the last seq JetStream acknowledged, per file the byte
// offset of the lines done, and per source the rows forwarded and how many
// of those went as stubs. A forwarder restarted on the same directory (the
// agent again, or `labtel forward`) resumes there; JetStream's duplicate
// window drops an exact replay and pull drops seqs it already wrote.
//
// No row blocks another: each telemetry-*.jsonl file is forwarded on its own
// (one that cannot be read is named in the error and the others go on); a
// line that is no labtel row is counted and passed over; a row larger than a
// message may carry goes as a stub line keeping its envelope and saying why
// (stub.ts); a line longer than the read window is read on to find its end
// (its head gives the envelope), never skipped. A partial last line waits.
//
// Order: a window's messages are published one after another, each once
// JetStream acknowledged the one before (a refused batch is never overtaken
// by a later one of its source: pull, which drops a seq at or below the last
// it wrote, would drop the refused rows when they came again). A line of one
// file claiming another file's source is no row of it (passed over).
//
// Bounds: one read window (WINDOW_BYTES) per forwarder; in flight one
// message of that window (the next window is read once all are
// acknowledged), plus one row read whole or one stub. After a failed window
// the window is replaced by a fresh one, since the client may still hold
// slices of it for a reconnect.
import fs from 'node:fs';
import path from 'node:path';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/nats-core';
import { connectNats } from './connection.js';
import { replaceFileNoFollow } from '../../util/safe-file.js';
import type { NatsSinkConfig } from './config.js';
import { RowHead } from './row-head.js';
import { fileStub, rowTooLarge, stubLine } from './stub.js';
import { batchMsgId, fileMsgId, fileOfSource, fileSubject, headerRoom, ID_NONCE_CHARS, rowSubject, type EpisodeKey } from './subjects.js';
import { randomBytes } from 'node:crypto';
import { scrubSecrets } from '../../util/scrub-secrets.js';
import { setTimeout as sleep } from 'node:timers/promises';

export const CURSOR_FILE = 'forward-cursor.json';

const isNonce = (v: unknown): v is string => typeof v === 'string' && v.length === ID_NONCE_CHARS && /^[A-Za-z0-9_-]+$/.test(v);

/** episode.json's run_id (src/agent/run-episode.ts), or undefined (a hand-made episode, or none yet). */
function runIdOf(dir: string): unknown {
  try {
    const fd = openNoFollowForRead(path.join(dir, 'episode.json'));
    try {
      return (JSON.parse(fs.readFileSync(fd, 'utf8')) as { run_id?: unknown } | null)?.run_id;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}
/** The one read window: a batch is a slice of it. */
export const WINDOW_BYTES = 4 << 20;
/** A batch's bytes at most (lower when the server's max_payload is): the size `npm run bench:nats` found best. */
export const BATCH_BYTES = 256 << 10;
/** max_payload before the server said (nats-server's default). */
const DEFAULT_MAX_PAYLOAD = 1 << 20;
/** The cursor is saved at least this often during a pass (each save is an fsync), and at its end. */
const SAVE_MS = 250;
const DUPLICATE_WINDOW_MS = 30 * 60_000;
/** How long close() lets a drain take before it closes the connection (a server that no longer answers must not hold the agent). */
const CLOSE_MS = 5000;
const ROWS_FILE = /^telemetry-[a-z_]+\.jsonl$/;

type Counts = Record<string, number>;

/** Non-negative integer entries only (a negative offset made its file unreadable at every pass), in an object without a prototype (a source named "constructor" is a name like any other). */
function counts(o: unknown): Counts {
  const r = Object.create(null) as Counts;
  if (o && typeof o === 'object') for (const [k, v] of Object.entries(o)) if (Number.isSafeInteger(v) && (v as number) >= 0) r[k] = v as number;
  return r;
}

interface Cursor {
  /** Per source, the last seq JetStream acknowledged. */
  acked: Counts;
  /** Per file, the bytes of whole lines done (acknowledged or passed over). */
  offsets: Counts;
  files: { episode?: boolean; summary?: boolean };
  /** Per source, rows acknowledged over the episode (across restarts), and of those how many as stubs. */
  forwarded: Counts;
  stubs: Counts;
  /** The episode's message-id nonce (subjects.ts): random, kept so a resumed forwarder's replays are dropped as duplicates. */
  id_nonce: string;
}

export interface ForwardProgress {
  /** Rows acknowledged by JetStream in this process (stubs included). */
  published: number;
  /** Rows past the file offset the cursor already had as acknowledged. */
  skipped: number;
  /** Rows sent as a stub (larger than a message may carry). */
  stubs: number;
  /** Lines that are no labtel row, passed over. */
  corrupt: number;
  /** The last error, when a pass could not finish. */
  error: string | null;
}

export interface ForwardAccounting {
  by_source: Record<string, { forwarded: number; stubs: number; remaining: number }>;
  files: { episode: boolean; summary: boolean };
  error: string | null;
}

/** One message of a window, or a line passed over (no ack): the cursor advances to `end` once it is done. */
interface Piece {
  end: number;
  source: string;
  first: number;
  last: number;
  rows: number;
  stub: boolean;
  ack: Promise<unknown> | null;
}

/** A file that cannot be forwarded: named, and the other files go on. */
class FileError extends Error {}

/**
 * Opens a file of the episode for reading, refusing a symlink: what is read
 * is published (a symlink at episode.json would publish whatever it points
 * at) or decides what is (the cursor).
 */
function openNoFollowForRead(file: string): number {
  let fd: number;
  try {
    // O_NONBLOCK: a fifo planted there is not waited on (it would stop the agent's main thread); only a regular file is read.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new FileError(`${file} is a symlink; labtel does not read through one (ELOOP)`, { cause: err });
    throw new FileError(`${file}: ${(err as Error).message}`, { cause: err });
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new FileError(`${file} is not a regular file; labtel reads only one`);
  }
  return fd;
}

/** The cursor's offset in `file`, refused when the file is shorter: it was cut or replaced, and what it holds past there is not known. */
function offsetIn(fd: number, file: string, at: number): number {
  const size = fs.fstatSync(fd).size;
  if (at > size) throw new FileError(`${file} is ${size} bytes, shorter than the ${at} the forwarder's cursor (${CURSOR_FILE}) has as done: it was cut or replaced since; labtel forwards it no further (remove ${CURSOR_FILE} to send the episode again)`);
  return at;
}

function readAt(fd: number, file: string, buf: Buffer, pos: number, len = buf.length): number {
  try {
    return fs.readSync(fd, buf, 0, len, pos);
  } catch (err) {
    throw new FileError(`${file}: reading at byte ${pos}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Whether the line buf[at, nl) ends as a JSON object does ("}", or "}\r"): a line cut short after its envelope
 * (a torn write) is no row. Its envelope reads, but pull parses every line and would set its whole batch aside.
 */
function endsObject(buf: Buffer, at: number, nl: number): boolean {
  let e = nl - 1;
  if (e > at && buf[e] === 0x0d) e--;
  return e > at && buf[e] === 0x7d;
}

/** The offset of the first newline at or after `pos` (reading on through `buf`), or -1 at the end of the file. */
function findNewline(fd: number, file: string, buf: Buffer, pos: number): number {
  for (;;) {
    const n = readAt(fd, file, buf, pos);
    if (n === 0) return -1;
    const i = buf.subarray(0, n).indexOf(10);
    if (i >= 0) return pos + i;
    pos += n;
  }
}

export class NatsForwarder {
  private nc: NatsConnection | null = null;
  private js: JetStreamClient | null = null;
  private readonly cursor: Cursor;
  private readonly cursorPath: string;
  /** The cursor as last saved: an unchanged cursor is not rewritten (each save is an fsync). */
  private savedCursor = '';
  private savedAt = 0;
  private buf = Buffer.allocUnsafe(WINDOW_BYTES);
  /** The stream's max_msg_size when it has one. */
  private streamMaxMsg: number | null = null;
  private readonly head = new RowHead();
  /** The rows file being forwarded (telemetry-<fileBase>.jsonl), and whether the last source seen is one of its (see ofFile()). */
  private fileBase = '';
  private srcSeen = '';
  private srcOfFile = false;
  /** The window's last publish: the next goes once it is acknowledged (see send()). */
  private chain: Promise<unknown> = Promise.resolve();
  /** Where the first line passed over as no labtel row was (by this process), for the accounting. */
  private firstCorrupt: string | null = null;
  readonly progress: ForwardProgress = { published: 0, skipped: 0, stubs: 0, corrupt: 0, error: null };

  constructor(
    private readonly dir: string,
    private readonly cfg: NatsSinkConfig,
    private readonly key: EpisodeKey,
    /** batchBytes: the batch size to aim at (BATCH_BYTES; the benchmark tries others). */
    private readonly opts: { batchBytes?: number } = {},
  ) {
    this.cursorPath = path.join(dir, CURSOR_FILE);
    let c: Partial<Record<keyof Cursor, unknown>> = {};
    try {
      const fd = openNoFollowForRead(this.cursorPath);
      try {
        c = (JSON.parse(fs.readFileSync(fd, 'utf8')) as typeof c | null) ?? {};
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      // a first run (or a symlink planted in its place: not read, and replaced at the first save)
    }
    const files = (c.files ?? {}) as Cursor['files'];
    // The nonce is the run's: episode.json's run_id (the agent's, so even a forwarder that lost its cursor repeats its ids), else the cursor's, else a new one.
    const nonce = [runIdOf(dir), c.id_nonce].find(isNonce) ?? randomBytes(16).toString('base64url');
    this.cursor = { acked: counts(c.acked), offsets: counts(c.offsets), files: { episode: files.episode === true, summary: files.summary === true }, forwarded: counts(c.forwarded), stubs: counts(c.stubs), id_nonce: nonce };
    // A cursor from before the counts: every seq up to the acknowledged one was forwarded.
    for (const s of Object.keys(this.cursor.acked)) this.cursor.forwarded[s] ??= this.cursor.acked[s]! + 1;
  }

  /** Connects (retrying in the background while the servers are down) and makes sure the stream exists. */
  async connect(): Promise<void> {
    if (this.js) return;
    // A first connect that fails throws (the next pass tries again); once connected, the client reconnects by itself.
    this.nc ??= await connectNats(this.cfg, { timeout: 2000, maxReconnectAttempts: -1, reconnectTimeWait: 500, name: `labtel ${this.key.host}` });
    const jsm = await jetstreamManager(this.nc, { timeout: 5000 });
    let max: number | undefined;
    try {
      max = (await jsm.streams.info(this.cfg.stream)).config.max_msg_size;
    } catch (infoErr) {
      try {
        await jsm.streams.add({ name: this.cfg.stream, subjects: [`${this.key.prefix}.>`], duplicate_window: nanos(DUPLICATE_WINDOW_MS), num_replicas: this.cfg.replicas });
      } catch (err) {
        // A host with per-host credentials may not create streams: say so instead of a bare permission error.
        if (/permission|authoriz/i.test(String((err as Error).message)))
          throw new Error(`stream ${this.cfg.stream} could not be read (${(infoErr as Error).message}) and these credentials may not create it: the lab's NATS admin creates it`, { cause: err });
        throw err;
      }
    }
    // A stream made elsewhere may take smaller messages than the server: its bound is the one a batch must keep.
    this.streamMaxMsg = max !== undefined && max > 0 ? max : null;
    this.js = jetstream(this.nc, { timeout: 5000 });
    // The id nonce is on disk before any message carries it: a crash cannot leave stored ids a restart would not repeat.
    this.saveCursor();
  }

  /** The most payload bytes one message may carry now: the server's max_payload (or the stream's max_msg_size, when smaller) less the headers. */
  messageLimit(): number {
    const server = this.nc?.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
    return Math.min(server, this.streamMaxMsg ?? server) - headerRoom(this.key);
  }

  /**
   * One pass over the episode's rows files: publishes what is new. False when
   * it could not finish: NATS failed it (the pass stops), or a file could not
   * be read (named in progress.error; the other files went on).
   */
  pass(): Promise<boolean> {
    return this.attempt(async () => {
      const failed: string[] = [];
      for (const f of fs.readdirSync(this.dir).filter((x) => ROWS_FILE.test(x)).sort()) {
        try {
          await this.forwardFile(f);
        } catch (err) {
          if (!(err instanceof FileError)) throw failed.length ? new Error(`${failed.join('; ')}; ${(err as Error).message}`, { cause: err }) : err;
          failed.push(err.message);
        }
      }
      if (failed.length) throw new Error(failed.join('; '));
    });
  }

  /**
   * episode.json and summary.json (once each, when present), whatever
   * happened to the rows: callers call it whether or not pass() finished.
   * One too large for a message goes as {"stub": why}.
   */
  forwardEpisodeFiles(): Promise<boolean> {
    return this.attempt(async () => {
      const failed: string[] = [];
      for (const f of ['episode', 'summary'] as const) {
        if (this.cursor.files[f]) continue;
        let data: Buffer | null;
        try {
          data = this.readEpisodeFile(f);
        } catch (err) {
          if (!(err instanceof FileError)) throw err;
          failed.push(err.message);
          continue;
        }
        if (!data) continue;
        await this.js!.publish(fileSubject(this.key, f), data, { msgID: fileMsgId(this.key, f, this.cursor.id_nonce) });
        this.cursor.files[f] = true;
      }
      if (failed.length) throw new Error(failed.join('; '));
    });
  }

  /**
   * Per source, the rows JetStream acknowledged over the episode (from the
   * cursor, across restarts), how many of them went as stubs, and the whole
   * rows in the files not acknowledged yet (read from the files past the
   * cursor: call it once, at the end).
   */
  accounting(): ForwardAccounting {
    const remaining = new Map<string, number>();
    const errors: string[] = [];
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.dir).filter((x) => ROWS_FILE.test(x)).sort();
    } catch (err) {
      errors.push(`${this.dir}: ${(err as Error).message}`);
    }
    for (const name of names) {
      try {
        this.countRemaining(name, remaining);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    const sources = new Set([...Object.keys(this.cursor.forwarded), ...remaining.keys()]);
    const by_source = Object.fromEntries(
      [...sources].sort().map((s) => [s, { forwarded: this.cursor.forwarded[s] ?? 0, stubs: this.cursor.stubs[s] ?? 0, remaining: remaining.get(s) ?? 0 }]),
    );
    if (this.progress.error) errors.unshift(this.progress.error);
    if (this.firstCorrupt) errors.push(`passed over ${this.progress.corrupt} line(s) that are no labtel row, the first ${this.firstCorrupt}`);
    return { by_source, files: { episode: this.cursor.files.episode === true, summary: this.cursor.files.summary === true }, error: errors.length ? errors.join('; ') : null };
  }

  /** Connected, runs `work`; false (with the reason in progress.error) when it failed. The cursor is saved either way. */
  private async attempt(work: () => Promise<void>): Promise<boolean> {
    try {
      await this.connect();
      await work();
      this.progress.error = null;
      return true;
    } catch (err) {
      this.progress.error = scrubSecrets((err as Error).message);
      return false;
    } finally {
      this.saveCursor();
    }
  }

  async close(): Promise<void> {
    const nc = this.nc;
    this.nc = null;
    this.js = null;
    if (!nc) return;
    // A drain waits on the server; one that no longer answers must not hold the agent's exit.
    const drained = await Promise.race([nc.drain().then(() => true, () => false), sleep(CLOSE_MS).then(() => false)]);
    if (!drained) await nc.close().catch(() => {});
  }

  private readEpisodeFile(f: 'episode' | 'summary'): Buffer | null {
    const file = path.join(this.dir, `${f}.json`);
    let fd: number;
    try {
      fd = openNoFollowForRead(file);
    } catch (err) {
      if (((err as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return null;
      throw err;
    }
    try {
      const size = fs.fstatSync(fd).size;
      const limit = this.messageLimit();
      if (size > limit) return fileStub(`${f}.json`, size, limit, this.key.host);
      return fs.readFileSync(fd);
    } catch (err) {
      if (err instanceof FileError) throw err;
      throw new FileError(`${file}: ${(err as Error).message}`, { cause: err });
    } finally {
      fs.closeSync(fd);
    }
  }

  private async forwardFile(name: string): Promise<void> {
    const file = path.join(this.dir, name);
    const fd = openNoFollowForRead(file);
    this.fileBase = name.slice('telemetry-'.length, -'.jsonl'.length);
    this.srcSeen = '';
    try {
      offsetIn(fd, file, this.cursor.offsets[name] ?? 0);
      for (;;) {
        const from = this.cursor.offsets[name] ?? 0;
        const n = readAt(fd, file, this.buf, from);
        if (n === 0) return;
        const pieces = this.cut(name, file, fd, from, n);
        if (pieces.length === 0) return; // only a line still being written
        await this.settle(name, pieces);
        if (Date.now() - this.savedAt >= SAVE_MS) this.saveCursor();
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** The window buf[0, n) read at `from`, cut into batches (each published in turn: send()) and lines passed over. */
  private cut(name: string, file: string, fd: number, from: number, n: number): Piece[] {
    const pieces: Piece[] = [];
    this.chain = Promise.resolve();
    try {
      return this.cutInto(pieces, name, file, fd, from, n);
    } catch (err) {
      // Batches already handed to the client are slices of this window: the next read must not overwrite them.
      if (pieces.some((p) => p.ack)) this.buf = Buffer.allocUnsafe(WINDOW_BYTES);
      throw err;
    }
  }

  private cutInto(pieces: Piece[], name: string, file: string, fd: number, from: number, n: number): Piece[] {
    const buf = this.buf;
    const head = this.head;
    const acked = this.cursor.acked;
    const limit = this.messageLimit();
    const batchMax = Math.min(this.opts.batchBytes ?? BATCH_BYTES, limit);
    let b: Piece | null = null;
    let bStart = 0;
    let start = 0;
    while (start < n) {
      const nl = buf.indexOf(10, start);
      if (nl < 0 || nl >= n) {
        // No newline in the rest of the window: the next window starts at this line, or it is still being
        // written, or (alone in a full window) it is longer than the window.
        if (start === 0 && n === buf.length) {
          const p = this.longLine(name, file, fd, from, n, limit);
          if (p) pieces.push(p);
        }
        break;
      }
      const at = start;
      start = nl + 1;
      const ok = endsObject(buf, at, nl) && head.read(buf, at, nl) && this.ofFile(head.source);
      const source = head.source;
      const seq = head.seq;
      const passOver = !ok || seq <= (acked[source] ?? -1);
      const tooLarge = !passOver && start - at > limit;
      if (b && (passOver || tooLarge || b.source !== source || seq !== b.last + 1 || from + start - bStart > batchMax)) {
        b.ack = this.send(b.source, b.first, b.last, buf.subarray(bStart - from, b.end - from));
        pieces.push(b);
        b = null;
      }
      if (passOver) {
        if (ok) this.progress.skipped++;
        else this.corruptLine(name, from + at);
        // Lines passed over in a row are one piece (a window of 4 MiB of empty lines was 4M pieces: gigabytes).
        const prev = pieces.length ? pieces[pieces.length - 1]! : null;
        if (prev && prev.ack === null) prev.end = from + start;
        else pieces.push({ end: from + start, source, first: seq, last: seq, rows: 0, stub: false, ack: null });
      } else if (tooLarge) {
        pieces.push(this.stub(name, from + start, nl - at, limit));
      } else {
        if (!b) {
          b = { end: 0, source, first: seq, last: seq, rows: 0, stub: false, ack: null };
          bStart = from + at;
        }
        b.last = seq;
        b.rows++;
        b.end = from + start;
      }
    }
    if (b) {
      b.ack = this.send(b.source, b.first, b.last, buf.subarray(bStart - from, b.end - from));
      pieces.push(b);
    }
    return pieces;
  }

  /**
   * A line at `from` longer than the window buf[0, n): its head gives the
   * envelope, its end is found by reading on. Sent whole when a message may
   * carry it, else as a stub; null while its end is not written yet.
   */
  private longLine(name: string, file: string, fd: number, from: number, n: number, limit: number): Piece | null {
    const head = this.head;
    const ok = head.read(this.buf, 0, n, false) && this.ofFile(head.source);
    const { source, seq } = head;
    const t = ok ? head.tMonoNs : ''; // before the window is reused to read on
    const nl = findNewline(fd, file, this.buf, from + n);
    if (nl < 0) return null;
    const end = nl + 1;
    if (!ok) {
      this.corruptLine(name, from);
      return { end, source, first: seq, last: seq, rows: 0, stub: false, ack: null };
    }
    if (seq <= (this.cursor.acked[source] ?? -1)) {
      this.progress.skipped++;
      return { end, source, first: seq, last: seq, rows: 0, stub: false, ack: null };
    }
    const bytes = nl - from;
    if (bytes + 1 > limit) {
      const line = stubLine(source, t, seq, rowTooLarge(bytes, limit, name, this.key.host));
      return { end, source, first: seq, last: seq, rows: 1, stub: true, ack: this.send(source, seq, seq, line) };
    }
    // A server whose max_payload is over the window carries it whole: read into its own buffer.
    const whole = Buffer.allocUnsafe(bytes + 1);
    if (readAt(fd, file, whole, from) !== whole.length) throw new FileError(`${file}: the line at byte ${from} changed while it was read`);
    return { end, source, first: seq, last: seq, rows: 1, stub: false, ack: this.send(source, seq, seq, whole) };
  }

  /** The row the head just read (`bytes` long, ending before `end`) as a stub line in its place. */
  private stub(name: string, end: number, bytes: number, limit: number): Piece {
    const { source, seq } = this.head;
    const line = stubLine(source, this.head.tMonoNs, seq, rowTooLarge(bytes, limit, name, this.key.host));
    return { end, source, first: seq, last: seq, rows: 1, stub: true, ack: this.send(source, seq, seq, line) };
  }

  /** Whether `source` is one of the file being forwarded (the same string object while it does not change: compared once). */
  private ofFile(source: string): boolean {
    if (source !== this.srcSeen) {
      this.srcSeen = source;
      this.srcOfFile = fileOfSource(source) === this.fileBase;
    }
    return this.srcOfFile;
  }

  private corruptLine(name: string, at: number): void {
    this.progress.corrupt++;
    this.firstCorrupt ??= `at byte ${at} of ${name}`;
  }

  /** Publishes once the window's previous message is acknowledged; refused (unsent) when that one failed. */
  private send(source: string, first: number, last: number, data: Uint8Array): Promise<unknown> {
    const js = this.js!;
    const nonce = this.cursor.id_nonce;
    const p = this.chain.then(() => js.publish(rowSubject(this.key, source), data, { msgID: batchMsgId(this.key, source, first, last, nonce) }));
    p.catch(() => {}); // judged in settle(), in order
    this.chain = p;
    return p;
  }

  /** Waits for the window's acknowledgements; advances the cursor over the pieces done in order, up to the first that failed. */
  private async settle(name: string, pieces: Piece[]): Promise<void> {
    const results = await Promise.allSettled(pieces.map((p) => p.ack));
    const failed = results.findIndex((r) => r.status === 'rejected');
    // The client may still hold slices of this window (to send after a reconnect): never overwrite them.
    if (failed >= 0) this.buf = Buffer.allocUnsafe(WINDOW_BYTES);
    const c = this.cursor;
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!;
      if (i === failed) {
        const why = (results[i] as PromiseRejectedResult).reason as Error;
        throw new Error(`publishing ${p.source} seq ${p.first === p.last ? p.first : `${p.first}-${p.last}`} of ${name}: ${why.message}`, { cause: why });
      }
      if (p.ack) {
        if (p.last > (c.acked[p.source] ?? -1)) c.acked[p.source] = p.last; // a file whose seqs go back never moves it back
        c.forwarded[p.source] = (c.forwarded[p.source] ?? 0) + p.rows;
        this.progress.published += p.rows;
        if (p.stub) {
          c.stubs[p.source] = (c.stubs[p.source] ?? 0) + 1;
          this.progress.stubs++;
        }
      }
      c.offsets[name] = p.end;
    }
  }

  /** Whole rows of `name` past the cursor that JetStream has not acknowledged, added to `into` by source. */
  private countRemaining(name: string, into: Map<string, number>): void {
    const file = path.join(this.dir, name);
    const fd = openNoFollowForRead(file);
    const buf = Buffer.allocUnsafe(WINDOW_BYTES);
    const head = new RowHead();
    const base = name.slice('telemetry-'.length, -'.jsonl'.length);
    const count = (ok: boolean) => {
      if (ok && head.seq > (this.cursor.acked[head.source] ?? -1) && fileOfSource(head.source) === base) into.set(head.source, (into.get(head.source) ?? 0) + 1);
    };
    try {
      for (let pos = offsetIn(fd, file, this.cursor.offsets[name] ?? 0); ; ) {
        const n = readAt(fd, file, buf, pos);
        if (n === 0) return;
        let start = 0;
        for (let nl = buf.indexOf(10, 0); nl >= 0 && nl < n; nl = buf.indexOf(10, start)) {
          count(endsObject(buf, start, nl) && head.read(buf, start, nl));
          start = nl + 1;
        }
        if (start > 0) {
          pos += start;
          continue;
        }
        if (n < buf.length) return; // a line still being written
        const ok = head.read(buf, 0, n, false);
        const nl = findNewline(fd, file, buf, pos + n);
        if (nl < 0) return;
        count(ok);
        pos = nl + 1;
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** A fresh temporary file (0640, O_EXCL) renamed over the cursor: a symlink there is replaced, never written through. */
  private saveCursor(): void {
    this.savedAt = Date.now();
    const text = JSON.stringify(this.cursor);
    if (text === this.savedCursor) return;
    replaceFileNoFollow(this.cursorPath, text);
    this.savedCursor = text;
  }
}
