// Why and when an episode stops: duration, SIGINT/SIGTERM, an abort signal,
// or every collector having ended. Listening starts before anything else, so
// a signal during start-up still ends in a summary.
import type { ExitReason } from './summary.js';

/** setTimeout's limit; longer durations re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class EpisodeStop {
  reason: ExitReason | null = null;
  private wake!: () => void;
  private readonly stopped = new Promise<void>((resolve) => (this.wake = resolve));
  private timer: NodeJS.Timeout | undefined;
  private readonly onInt = () => this.trigger('SIGINT');
  private readonly onTerm = () => this.trigger('SIGTERM');
  private readonly onAbort = () => this.trigger('aborted');

  constructor(private readonly opts: { handleSignals?: boolean; signal?: AbortSignal }) {
    if (opts.handleSignals) {
      process.on('SIGINT', this.onInt);
      process.on('SIGTERM', this.onTerm);
    }
    opts.signal?.addEventListener('abort', this.onAbort);
    if (opts.signal?.aborted) this.trigger('aborted');
  }

  trigger(reason: ExitReason): void {
    this.reason ??= reason;
    this.wake();
  }

  /** Stops the episode `seconds` after now. */
  armDuration(seconds: number): void {
    const due = Date.now() + seconds * 1000;
    const arm = () => {
      const left = due - Date.now();
      this.timer = left > 0 ? setTimeout(arm, Math.min(left, MAX_TIMER_MS)) : undefined;
      if (left <= 0) this.trigger('duration');
    };
    arm();
  }

  wait(): Promise<void> {
    return this.stopped;
  }

  dispose(): void {
    clearTimeout(this.timer);
    process.off('SIGINT', this.onInt);
    process.off('SIGTERM', this.onTerm);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
  }
}
