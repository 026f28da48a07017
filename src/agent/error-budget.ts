// A collector's error messages, bounded at the source: a hostile peer that
// makes a collector report a problem per line cannot flood the agent's rows,
// its log or summary.json. The first MAX_REPORTED messages pass (each cut to
// MAX_MESSAGE_CHARS); the rest are counted, and the count is said once at
// the end. Each message is scrubbed of anything credential-shaped
// (util/scrub-secrets.ts) before it is cut: a peer's text may carry a URL with
// a password or a token, and these messages reach summary.json, the rows, the
// log and every puller.
import { scrubSecrets } from '../util/scrub-secrets.js';

export const MAX_REPORTED = 100;
export const MAX_MESSAGE_CHARS = 1000;

export class ErrorBudget {
  private passed = 0;
  /** Messages not passed on since the budget ran out. */
  suppressed = 0;

  constructor(private readonly send: (message: string) => void) {}

  report(message: string): void {
    if (this.passed >= MAX_REPORTED) {
      this.suppressed++;
      return;
    }
    this.passed++;
    // Cut before scrubbing too (a peer's text can be long, and scrubbing costs per character), with room
    // so the scrubber still sees a secret whole across where the message is cut at last.
    const text = String(message);
    const m = scrubSecrets(text.length > 4 * MAX_MESSAGE_CHARS ? text.slice(0, 4 * MAX_MESSAGE_CHARS) : text);
    this.send(m.length > MAX_MESSAGE_CHARS ? `${m.slice(0, MAX_MESSAGE_CHARS - 3)}...` : m);
  }

  /** Says how many were not reported, once, if any. */
  end(): void {
    if (this.suppressed === 0) return;
    this.send(`${this.suppressed} more error${this.suppressed === 1 ? '' : 's'} not reported (only the first ${MAX_REPORTED} are)`);
    this.suppressed = 0;
  }
}
