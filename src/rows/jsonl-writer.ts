// Writes rows as JSONL: envelope first, then the source's fields; batched,
// always whole lines, into a file this writer creates 0640 (never through a
// pre-existing file or symlink). One writer per collector file.
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { openNoFollow } from '../util/write-refusal.js';
import type { Source } from './envelope.js';

const FLUSH_BYTES = 64 * 1024;
const FLUSH_MS = 200;

export interface JsonlWriterOptions {
  availableInDeployment: boolean;
  /** Shared with the agent (on a SharedArrayBuffer): [0] rows on disk, [1] rows buffered. */
  stats?: Float64Array;
}

export class JsonlWriter {
  readonly path: string;
  private fd: number;
  private buf = '';
  private bufRows = 0;
  /** Bytes on disk, all of them whole lines. */
  private size = 0;
  private lastFlush = performance.now();
  private readonly seqs = new Map<Source, number>();
  private readonly prefix: string;
  readonly availableInDeployment: boolean;
  /** Armed while rows wait in the buffer (none otherwise: an idle writer does not wake its thread). */
  private timer: NodeJS.Timeout | undefined;
  /** A file this writer created (positioned writes, fsync, truncation on error), or an inherited stream. */
  private readonly ownFile: boolean;
  /** Rows on disk (flushed); buffered rows count once they are written. */
  rows = 0;
  private readonly stats: Float64Array | undefined;

  /** `file` is created fresh; `{fd, name}` writes to an open descriptor (stdout for `-o -`). */
  constructor(file: string | { fd: number; name: string }, opts: JsonlWriterOptions) {
    this.ownFile = typeof file === 'string';
    this.path = typeof file === 'string' ? file : file.name;
    // O_EXCL | O_NOFOLLOW, mode 0640: "cannot create FILE: it is a symlink; ... (EEXIST)" or "it already exists (EEXIST)".
    this.fd = typeof file === 'string' ? openNoFollow(file, 'create') : file.fd;
    this.availableInDeployment = opts.availableInDeployment;
    this.stats = opts.stats;
    this.prefix = `,"available_in_deployment":${opts.availableInDeployment ? 'true' : 'false'}`;
  }

  /**
   * Rows of a collector that sleeps on the event loop reach the disk within FLUSH_MS of the
   * first of them being buffered; one that blocks its thread calls flushIfDue() itself.
   * (The timer flushes whatever is buffered: checking "FLUSH_MS since the last flush" here let a
   * row that came just after a tick wait almost two periods.) One timer per batch, not an
   * interval: a writer every 200 ms woke each of the agent's seven threads 5 times a second
   * whether or not it had rows.
   */
  private arm(): void {
    if (this.timer !== undefined || this.fd < 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.bufRows) this.flush();
    }, FLUSH_MS);
    this.timer.unref();
  }

  /**
   * Appends one row. `fields` must not carry envelope keys (the types and the
   * collectors see to that; guest data is nested under `guest`).
   */
  write(source: Source, tMonoNs: number, fields: object, nullReasons?: Record<string, string>): void {
    this.writeMembers(source, tMonoNs, JSON.stringify(fields).slice(1, -1), nullReasons);
  }

  /**
   * Appends one row whose fields the caller already serialized: `members` is
   * the inside of a JSON object (`"a":1,"b":null`), for hot paths that build
   * rows without intermediate objects. It appends exactly the bytes
   * rowBytes() says beforehand (what a budget charges; not measured here, on
   * every row of every collector).
   */
  writeMembers(source: Source, tMonoNs: number, members: string, nullReasons?: Record<string, string>): void {
    const seq = this.nextSeq(source);
    this.seqs.set(source, seq + 1);
    const line = this.lineOf(this.head(source, tMonoNs, seq, nullReasons), members);
    this.buf += line;
    this.bufRows++;
    if (this.stats) this.stats[1] = this.bufRows;
    if (this.buf.length >= FLUSH_BYTES) this.flush();
    else this.arm();
  }

  /**
   * Bytes (UTF-8, newline included) of the row writeMembers(source, tMonoNs,
   * members, nullReasons) would append next, without appending it: a budget
   * can be charged with what lands on disk before anything is written.
   */
  rowBytes(source: Source, tMonoNs: number, members: string, nullReasons?: Record<string, string>): number {
    const head = this.head(source, tMonoNs, this.nextSeq(source), nullReasons);
    // As lineOf() joins them, without copying `members` (a guest's line can be 15 MiB).
    return Buffer.byteLength(head) + (members ? 1 + Buffer.byteLength(members) : 0) + 2;
  }

  /** The envelope of a row, its closing brace not yet written: the one place its format is spelled. */
  private head(source: Source, tMonoNs: number, seq: number, nullReasons?: Record<string, string>): string {
    const head = `{"source":"${source}","t_mono_ns":${Math.round(tMonoNs)},"seq":${seq}${this.prefix}`;
    return nullReasons ? `${head},"null_reasons":${JSON.stringify(nullReasons)}` : head;
  }

  /** A whole row line: the envelope, the members, `}` and the newline (rowBytes() counts the same parts). */
  private lineOf(head: string, members: string): string {
    return members ? `${head},${members}}\n` : `${head}}\n`;
  }

  /** The seq the next row of this source gets. */
  nextSeq(source: Source): number {
    return this.seqs.get(source) ?? 0;
  }

  /**
   * Appends rows that native code already formatted as whole JSONL lines,
   * numbered from nextSeq(source): the writer only advances its count.
   */
  appendLines(source: Source, text: string, rows: number): void {
    if (!rows) return;
    this.seqs.set(source, this.nextSeq(source) + rows);
    this.buf += text;
    this.bufRows += rows;
    if (this.stats) this.stats[1] = this.bufRows;
    if (this.buf.length >= FLUSH_BYTES) this.flush();
    else this.arm();
  }

  /**
   * Appends rows that native code already formatted as whole JSONL lines, as
   * bytes (ASCII), numbered from nextSeq(source), and writes them now, after
   * whatever was buffered: `data` is not kept, so the caller may reuse it.
   */
  appendLineBytes(source: Source, data: Uint8Array, rows: number): void {
    if (!rows || this.fd < 0) return;
    this.flush();
    this.seqs.set(source, this.nextSeq(source) + rows);
    this.writeOut(data);
    this.rows += rows;
    if (this.stats) this.stats[0] = this.rows;
  }

  /** Flushes when FLUSH_MS have passed since the last flush. Cheap to call often. */
  flushIfDue(): void {
    if (this.bufRows && performance.now() - this.lastFlush >= FLUSH_MS) this.flush();
  }

  /**
   * Writes the buffer. If the write fails part-way (ENOSPC), the file is cut
   * back to its last whole line, the rows stay buffered, and the error is thrown.
   */
  flush(): void {
    this.lastFlush = performance.now();
    if (!this.bufRows || this.fd < 0) return;
    this.writeOut(Buffer.from(this.buf, 'utf8'));
    this.rows += this.bufRows;
    if (this.stats) {
      this.stats[0] = this.rows;
      this.stats[1] = 0;
    }
    this.buf = '';
    this.bufRows = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Writes whole lines at the end of what is on disk; on a failure part-way the file is cut back to its last whole line. */
  private writeOut(data: Uint8Array): void {
    let off = 0;
    try {
      while (off < data.length) off += fs.writeSync(this.fd, data, off, data.length - off, this.ownFile ? this.size + off : null);
    } catch (err) {
      if (off > 0 && this.ownFile) fs.ftruncateSync(this.fd, this.size);
      throw new Error(`cannot write ${this.path}: ${(err as Error).message}`, { cause: err });
    }
    this.size += data.length;
  }

  /** Flushes, fsyncs and closes. Safe to call twice. */
  close(): void {
    if (this.fd < 0) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    try {
      this.flush();
      if (this.ownFile) fs.fsyncSync(this.fd);
    } finally {
      if (this.ownFile) fs.closeSync(this.fd);
      this.fd = -1;
    }
  }
}

/** Lines in a JSONL file that someone else was writing (a terminated collector's). */
export function countLines(file: string): number {
  try {
    const data = fs.readFileSync(file);
    let n = 0;
    for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) n++;
    return n;
  } catch {
    return 0;
  }
}
