// Writes rows as JSONL: envelope first, then the source's fields; batched,
// always whole lines, into a file this writer creates (never through a
// pre-existing file or symlink). One writer per collector file.
import fs from 'node:fs';
import type { Source } from './envelope.js';

const FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
const FLUSH_BYTES = 64 * 1024;
const FLUSH_MS = 200;

export interface JsonlWriterOptions {
  availableInDeployment: boolean;
  /** For tests that append to a file they made: open without O_EXCL. */
  append?: boolean;
}

export class JsonlWriter {
  readonly path: string;
  private fd: number;
  private buf = '';
  private lastFlush = Date.now();
  private readonly seqs = new Map<Source, number>();
  private readonly prefix: string;
  private readonly timer: NodeJS.Timeout;
  rows = 0;

  constructor(file: string, opts: JsonlWriterOptions) {
    this.path = file;
    const flags = opts.append ? fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND | fs.constants.O_NOFOLLOW : FLAGS;
    try {
      this.fd = fs.openSync(file, flags, 0o644);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'EEXIST' ? 'it already exists' : code === 'ELOOP' ? 'it is a symlink' : code;
      throw new Error(`cannot create ${file}: ${why}`, { cause: err });
    }
    this.prefix = `,"available_in_deployment":${opts.availableInDeployment ? 'true' : 'false'}`;
    // An idle collector's rows still reach the disk within FLUSH_MS.
    this.timer = setInterval(() => this.maybeFlush(), FLUSH_MS);
    this.timer.unref();
  }

  /** The seq the next row of this source will get. */
  nextSeq(source: Source): number {
    return this.seqs.get(source) ?? 0;
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
   * rows without intermediate objects.
   */
  writeMembers(source: Source, tMonoNs: number, members: string, nullReasons?: Record<string, string>): void {
    const seq = this.seqs.get(source) ?? 0;
    this.seqs.set(source, seq + 1);
    let line = `{"source":"${source}","t_mono_ns":${Math.round(tMonoNs)},"seq":${seq}${this.prefix}`;
    if (nullReasons) line += `,"null_reasons":${JSON.stringify(nullReasons)}`;
    this.append(members ? `${line},${members}}\n` : `${line}}\n`);
  }

  private append(line: string): void {
    this.buf += line;
    this.rows++;
    // Checked here too: a worker sleeping in Atomics.wait runs no timers.
    if (this.buf.length >= FLUSH_BYTES || Date.now() - this.lastFlush >= FLUSH_MS) this.flush();
  }

  private maybeFlush(): void {
    if (this.buf && Date.now() - this.lastFlush >= FLUSH_MS) this.flush();
  }

  flush(): void {
    this.lastFlush = Date.now();
    if (!this.buf || this.fd < 0) return;
    const data = Buffer.from(this.buf, 'utf8');
    this.buf = '';
    let off = 0;
    while (off < data.length) off += fs.writeSync(this.fd, data, off, data.length - off);
  }

  /** Flushes, fsyncs and closes. Safe to call twice. */
  close(): void {
    if (this.fd < 0) return;
    clearInterval(this.timer);
    this.flush();
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}
