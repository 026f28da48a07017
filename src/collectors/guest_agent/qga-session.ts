// A stock qemu-guest-agent over the channel: guest-sync-delimited to get in
// step (labtel sends 0xFF, the agent flushes its parser and answers with
// 0xFF before its reply, so everything before that byte is stale), then one
// command at a time, each answered by the next JSON line. A command that
// times out puts the session out of step: the next call syncs again.
import { QapiError } from '../../util/qapi-error.js';
import { judgeLine } from './guest-line.js';
import { rawMember } from './raw-member.js';

const TIMEOUT_MS = 5000;
/**
 * Bytes of lines kept while nobody waits for one (several can arrive in one
 * read): the oldest go first, and a longer line is not kept at all. With the
 * reader's bound (QGA_MAX_ANSWER_BYTES) and the one answer being judged, a
 * session holds at most about 1 + 2 x 4 MiB, whatever max_line_bytes is.
 */
export const QGA_MAX_QUEUED_BYTES = 1 << 20;
/** The longest answer line read in qga mode: min(max_line_bytes, this). */
export const QGA_MAX_ANSWER_BYTES = 4 << 20;

/** An answer: the parsed `return`, and its text as the agent sent it. */
export interface QgaAnswer {
  value: unknown;
  raw: string;
}

export class QgaSession {
  private waiting: { resolve: (line: Buffer) => void; reject: (e: Error) => void } | null = null;
  private inStep = false;
  private syncing = false;
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  /** Lines nobody asked for that were dropped (stale answers, or a guest talking out of turn). */
  unasked = 0;
  private syncId = Math.floor(Math.random() * 2 ** 30);
  /** Replies to the 0xFF of the sync under way still expected (qemu-ga's parser rejects the byte, and says so). */
  private flushReplies = 0;

  /** `onUnasked` is told of each line dropped for being unasked (the collector counts it in dropped_unasked). */
  constructor(
    private readonly write: (b: Buffer) => void,
    private readonly onUnasked: () => void = () => {},
  ) {}

  private dropUnasked(): void {
    this.unasked++;
    this.onUnasked();
  }

  /** Every line the channel receives. */
  onLine(line: Buffer): void {
    // A sync reads only the line with the agent's 0xFF: nothing else is handed over (or copied) meanwhile.
    if (this.syncing && line.indexOf(0xff) < 0) {
      // qemu-ga answers the 0xFF labtel sent with a parse error ("stray '\uFFFD'"): asked for, not counted (one a sync).
      if (this.flushReplies > 0 && line.length <= 256 && line.includes('"error"')) return void this.flushReplies--;
      return this.dropUnasked();
    }
    const w = this.waiting;
    if (w) {
      this.waiting = null;
      w.resolve(Buffer.from(line)); // the reader's buffer is reused by the rest of the chunk
      return;
    }
    // Outside a sync nothing queued is ever read (a command clears the queue before asking), and a sync
    // reads only a line with the agent's 0xFF: anything else is not kept, nor copied.
    if (!this.syncing || line.length > QGA_MAX_QUEUED_BYTES) return this.dropUnasked();
    this.queued.push(Buffer.from(line));
    this.queuedBytes += line.length;
    while (this.queuedBytes > QGA_MAX_QUEUED_BYTES) {
      this.queuedBytes -= this.queued.shift()!.length;
      this.dropUnasked();
    }
  }

  /** Bytes held in lines queued (at most QGA_MAX_QUEUED_BYTES). */
  get held(): number {
    return this.queuedBytes;
  }

  async execute(command: string): Promise<QgaAnswer> {
    if (!this.inStep) await this.sync();
    // Nothing before the question can be its answer: what a sync left queued is dropped, and counted.
    for (let k = this.queued.length; k > 0; k--) this.dropUnasked();
    this.queued = [];
    this.queuedBytes = 0;
    const line = await this.next(() => this.write(Buffer.from(JSON.stringify({ execute: command }) + '\n')), command);
    const v = judgeLine(line);
    if (!v.ok) throw new Error(`${command}: the agent answered with a line that is not a JSON object (${v.why})`);
    if ('error' in v.value) throw QapiError.fromReply(command, v.value.error, 200); // class and desc cut: a null row's reason is not charged
    const raw = 'return' in v.value ? rawMember(v.text, 'return') : undefined;
    if (raw === undefined) throw new Error(`${command}: the agent answered with neither return nor error`);
    return { value: v.value.return, raw };
  }

  private async sync(): Promise<void> {
    const id = ++this.syncId;
    this.syncing = true;
    this.flushReplies = 1;
    try {
      await this.awaitSyncAnswer(id);
    } finally {
      this.syncing = false;
    }
    this.inStep = true;
  }

  private async awaitSyncAnswer(id: number): Promise<void> {
    this.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(JSON.stringify({ execute: 'guest-sync-delimited', arguments: { id } }) + '\n')]));
    const deadline = Date.now() + TIMEOUT_MS;
    // Lines before the agent's 0xFF are answers to what came before the sync.
    for (;;) {
      const line = await this.next(() => {}, 'guest-sync-delimited', Math.max(1, deadline - Date.now()));
      const at = line.indexOf(0xff);
      const v = at < 0 ? null : judgeLine(line.subarray(at + 1));
      if (v?.ok && v.value.return === id) break;
      this.dropUnasked(); // an earlier sync's late answer, or a line out of turn
    }
  }

  private next(send: () => void, command: string, ms = TIMEOUT_MS): Promise<Buffer> {
    send();
    const ready = this.queued.shift();
    if (ready) {
      this.queuedBytes -= ready.length;
      return Promise.resolve(ready);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        this.inStep = false;
        reject(new Error(`${command}: no answer within ${ms} ms`));
      }, ms);
      this.waiting = {
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** The connection is gone: a pending command fails now. */
  close(): void {
    const w = this.waiting;
    this.waiting = null;
    w?.reject(new Error('the guest channel closed'));
  }
}
