// A stock qemu-guest-agent over the channel: guest-sync-delimited to get in
// step (labtel sends 0xFF, the agent flushes its parser and answers with
// 0xFF before its reply, so everything before that byte is stale), then one
// command at a time, each answered by the next JSON line. A command that
// times out puts the session out of step: the next call syncs again.
import { QapiError } from '../../util/qapi-error.js';
import { judgeLine } from './guest-line.js';

const TIMEOUT_MS = 5000;
/** Lines kept while nobody waits for one (several can arrive in one read). */
const MAX_QUEUED = 64;

export class QgaSession {
  private waiting: { resolve: (line: Buffer) => void; reject: (e: Error) => void } | null = null;
  private inStep = false;
  private queued: Buffer[] = [];
  private syncId = Math.floor(Math.random() * 2 ** 30);

  constructor(private readonly write: (b: Buffer) => void) {}

  /** Every line the channel receives. */
  onLine(line: Buffer): void {
    const w = this.waiting;
    if (w) {
      this.waiting = null;
      w.resolve(Buffer.from(line)); // the reader's buffer is reused by the rest of the chunk
      return;
    }
    this.queued.push(Buffer.from(line));
    if (this.queued.length > MAX_QUEUED) this.queued.shift();
  }

  async execute(command: string): Promise<unknown> {
    if (!this.inStep) await this.sync();
    this.queued = []; // nothing before the question can be its answer
    const line = await this.next(() => this.write(Buffer.from(JSON.stringify({ execute: command }) + '\n')), command);
    const v = judgeLine(line);
    if (!v.ok) throw new Error(`${command}: the agent answered with a line that is not a JSON object (${v.why})`);
    if ('error' in v.value) throw QapiError.fromReply(command, v.value.error, 200);
    if (!('return' in v.value)) throw new Error(`${command}: the agent answered with neither return nor error`);
    return v.value.return;
  }

  private async sync(): Promise<void> {
    const id = ++this.syncId;
    this.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(JSON.stringify({ execute: 'guest-sync-delimited', arguments: { id } }) + '\n')]));
    const deadline = Date.now() + TIMEOUT_MS;
    // Lines before the agent's 0xFF are answers to what came before the sync.
    for (;;) {
      const line = await this.next(() => {}, 'guest-sync-delimited', Math.max(1, deadline - Date.now()));
      const at = line.indexOf(0xff);
      if (at < 0) continue;
      const v = judgeLine(line.subarray(at + 1));
      if (v.ok && v.value.return === id) break;
    }
    this.inStep = true;
  }

  private next(send: () => void, command: string, ms = TIMEOUT_MS): Promise<Buffer> {
    send();
    const ready = this.queued.shift();
    if (ready) return Promise.resolve(ready);
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
