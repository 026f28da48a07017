// Forwards an episode's rows to NATS JetStream by reading its JSONL files,
// the source of truth: collectors never wait on NATS. Each row is published
// to <prefix>.<host>.<episode>.<source> with the message id
// <host>/<episode>/<source>/<seq>, so JetStream's duplicate window drops
// replays. Progress is a cursor per source (the last seq JetStream
// acknowledged) kept in the episode directory: a forwarder restarted on the
// same directory (the agent again, or `labtel forward`) resumes there. While
// NATS is slow or down, nothing is buffered beyond one read: the forwarder
// retries from its cursor, and catches up from the files when NATS is back.
import fs from 'node:fs';
import path from 'node:path';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/nats-core';
import { connectNats } from './connection.js';
import { replaceFileNoFollow } from '../../util/safe-file.js';
import type { NatsSinkConfig } from './config.js';
import { fileSubject, rowMsgId, rowSubject, type EpisodeKey } from './subjects.js';

export const CURSOR_FILE = 'forward-cursor.json';
const READ_BYTES = 4 << 20;
const IN_FLIGHT = 512;
const DUPLICATE_WINDOW_MS = 30 * 60_000;

interface Cursor {
  /** Per source, the last seq JetStream acknowledged. */
  acked: Record<string, number>;
  /** Per file, the bytes of whole lines done (acknowledged or already past the cursor). */
  offsets: Record<string, number>;
  files: Record<string, boolean>;
}

export interface ForwardProgress {
  published: number;
  skipped: number;
  /** The last error, when a pass could not finish. */
  error: string | null;
}

/** The writer puts source, t_mono_ns and seq first (rows/jsonl-writer.ts): read them there, or parse the line. */
const HEAD = /^\{"source":"([a-z_]+)","t_mono_ns":-?\d+,"seq":(\d+)/;

function sourceAndSeq(line: Buffer, file: string, at: number): { source: string; seq: number } {
  const m = HEAD.exec(line.toString('latin1', 0, Math.min(line.length, 96)));
  if (m) return { source: m[1]!, seq: Number(m[2]) };
  try {
    const row = JSON.parse(line.toString('utf8')) as { source?: unknown; seq?: unknown };
    if (typeof row.source === 'string' && Number.isSafeInteger(row.seq)) return { source: row.source, seq: row.seq as number };
  } catch {
    // below
  }
  throw new Error(`${file}: the line at byte ${at} is not a labtel row`);
}

/**
 * Opens a file of the episode for reading, refusing a symlink: what is read
 * is published (a symlink at episode.json would publish whatever it points
 * at) or decides what is (the cursor).
 */
function openNoFollowForRead(file: string): number {
  try {
    return fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new Error(`${file} is a symlink; labtel does not read through one (ELOOP)`, { cause: err });
    throw err;
  }
}

function readNoFollow(file: string): Buffer {
  const fd = openNoFollowForRead(file);
  try {
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export class NatsForwarder {
  private nc: NatsConnection | null = null;
  private js: JetStreamClient | null = null;
  private readonly cursor: Cursor;
  private readonly cursorPath: string;
  /** The cursor as last saved: an unchanged cursor is not rewritten (each save is an fsync). */
  private savedCursor = '';
  readonly progress: ForwardProgress = { published: 0, skipped: 0, error: null };

  constructor(
    private readonly dir: string,
    private readonly cfg: NatsSinkConfig,
    private readonly key: EpisodeKey,
  ) {
    this.cursorPath = path.join(dir, CURSOR_FILE);
    let c: Partial<Cursor> = {};
    try {
      c = JSON.parse(readNoFollow(this.cursorPath).toString('utf8')) as Partial<Cursor>;
    } catch {
      // a first run (or a symlink planted in its place: not read, and replaced at the first save)
    }
    this.cursor = { acked: c.acked ?? {}, offsets: c.offsets ?? {}, files: c.files ?? {} };
  }

  /** Connects (retrying in the background while the servers are down) and makes sure the stream exists. */
  async connect(): Promise<void> {
    if (this.js) return;
    // A first connect that fails throws (the next pass tries again); once connected, the client reconnects by itself.
    this.nc ??= await connectNats(this.cfg, { timeout: 2000, maxReconnectAttempts: -1, reconnectTimeWait: 500, name: `labtel ${this.key.host}` });
    const jsm = await jetstreamManager(this.nc, { timeout: 5000 });
    try {
      await jsm.streams.info(this.cfg.stream);
    } catch {
      await jsm.streams.add({ name: this.cfg.stream, subjects: [`${this.key.prefix}.>`], duplicate_window: nanos(DUPLICATE_WINDOW_MS), num_replicas: this.cfg.replicas });
    }
    this.js = jetstream(this.nc, { timeout: 5000 });
  }

  /** One pass over the episode's files: publishes what is new. Returns false when it could not finish (NATS down). */
  pass(): Promise<boolean> {
    return this.attempt(async () => {
      for (const f of fs.readdirSync(this.dir).filter((x) => /^telemetry-[a-z_]+\.jsonl$/.test(x)).sort()) await this.forwardFile(f);
    });
  }

  /** episode.json and summary.json (once each, when present). */
  forwardEpisodeFiles(): Promise<boolean> {
    return this.attempt(async () => {
      for (const f of ['episode', 'summary'] as const) {
        const file = path.join(this.dir, `${f}.json`);
        if (this.cursor.files[f] || !fs.existsSync(file)) continue;
        await this.js!.publish(fileSubject(this.key, f), readNoFollow(file), { msgID: `${this.key.host}/${this.key.episode}/_${f}` });
        this.cursor.files[f] = true;
      }
    });
  }

  /** Connected, runs `work`; false (with the reason in progress.error) when NATS failed it. The cursor is saved either way. */
  private async attempt(work: () => Promise<void>): Promise<boolean> {
    try {
      await this.connect();
      await work();
      this.progress.error = null;
      return true;
    } catch (err) {
      this.progress.error = (err as Error).message;
      return false;
    } finally {
      this.saveCursor();
    }
  }

  async close(): Promise<void> {
    const nc = this.nc;
    this.nc = null;
    this.js = null;
    await nc?.drain().catch(() => nc.close());
  }

  private async forwardFile(name: string): Promise<void> {
    const file = path.join(this.dir, name);
    const fd = openNoFollowForRead(file);
    const buf = Buffer.allocUnsafe(READ_BYTES);
    try {
      for (;;) {
        const from = this.cursor.offsets[name] ?? 0;
        const n = fs.readSync(fd, buf, 0, READ_BYTES, from);
        const end = buf.lastIndexOf(10, n - 1);
        if (n === 0 || end < 0) return; // nothing new, or only a line still being written
        // Its own framing, not util/bounded-line-reader: it reads at the cursor's byte offset and needs each line's end offset to advance it.
        // Each whole line: publish it unless the cursor says it was acknowledged already.
        const lines: Array<{ end: number; source: string; seq: number; pending?: Promise<unknown> }> = [];
        let start = 0;
        const inFlight: Promise<unknown>[] = [];
        for (let nl = buf.indexOf(10, 0); nl >= 0 && nl <= end; nl = buf.indexOf(10, start)) {
          const line = buf.subarray(start, nl);
          const at = from + start;
          start = nl + 1;
          const { source, seq } = sourceAndSeq(line, name, at);
          const entry: (typeof lines)[number] = { end: start, source, seq };
          if (seq <= (this.cursor.acked[source] ?? -1)) this.progress.skipped++;
          else {
            entry.pending = this.js!.publish(rowSubject(this.key, source), Buffer.from(line), { msgID: rowMsgId(this.key, source, seq) });
            entry.pending.catch(() => {}); // judged below, in order
            inFlight.push(entry.pending);
            if (inFlight.length >= IN_FLIGHT) await Promise.allSettled(inFlight.splice(0));
          }
          lines.push(entry);
        }
        await Promise.allSettled(inFlight);
        // Advance over the lines acknowledged in order; stop at the first that was not.
        for (const l of lines) {
          if (l.pending) {
            try {
              await l.pending;
            } catch (err) {
              throw new Error(`publishing ${l.source} seq ${l.seq}: ${(err as Error).message}`);
            }
            this.cursor.acked[l.source] = l.seq;
            this.progress.published++;
          }
          this.cursor.offsets[name] = from + l.end;
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** A fresh temporary file (0640, O_EXCL) renamed over the cursor: a symlink there is replaced, never written through. */
  private saveCursor(): void {
    const text = JSON.stringify(this.cursor);
    if (text === this.savedCursor) return;
    replaceFileNoFollow(this.cursorPath, text);
    this.savedCursor = text;
  }
}
