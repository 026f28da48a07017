// Waiting for a condition, with no clock in the test: a condition that never
// comes is the test's own timeout (vitest.config.ts), not a deadline here that
// a loaded host could pass or miss. What was awaited is named when the test
// fails while still waiting.
import { setTimeout as sleep } from 'node:timers/promises';
import { onTestFailed } from 'vitest';

/** Registers a note printed if the running test fails; a no-op outside a test (beforeAll, module scope). */
function noteOnFailure(note: () => string | null): void {
  try {
    onTestFailed(() => {
      const n = note();
      if (n) console.error(n);
    });
  } catch {
    // not inside a test
  }
}

/** Resolves to what `get` returns once it is neither undefined nor false (polled every `everyMs`). */
export async function waitFor<T>(get: () => T | undefined | false, what: string, everyMs = 10): Promise<T> {
  let waiting = true;
  let failed = false;
  noteOnFailure(() => {
    failed = true; // the test is over: stop polling
    return waiting ? `the test was still waiting for ${what}` : null;
  });
  try {
    for (;;) {
      const v = get();
      if (v !== undefined && v !== false) return v;
      if (failed) throw new Error(`the test failed while waiting for ${what}`);
      await sleep(everyMs);
    }
  } finally {
    waiting = false;
  }
}

/** Settles as `p` does; if the test fails first, says it was still waiting for `what`. */
export async function settled<T>(p: Promise<T>, what: string): Promise<T> {
  let waiting = true;
  noteOnFailure(() => (waiting ? `the test was still waiting for ${what}` : null));
  try {
    return await p;
  } finally {
    waiting = false;
  }
}
