// Runs a fast-check property for a bounded time instead of a number of runs:
// the property-based fuzz targets (QMP lines, guest lines) run a few seconds
// in npm test and a minute or more from `npm run fuzz:qmp|fuzz:guest`.
// A failure comes back as one message with the seed, the path and the
// shrunk counterexample, enough to replay it with runFor(p, s, { seed, path }).
import fc from 'fast-check';

export interface RunOptions {
  /** Replay: the seed a failure reported (default: a new one, reported back). */
  seed?: number;
  /** Replay: the counterexample path a failure reported (with its seed). */
  path?: string;
  /** An upper bound on runs; the time limit normally ends the run first. */
  numRuns?: number;
}

export interface RunResult {
  /** Property runs executed (up to and including the failing one on failure). */
  runs: number;
  /** Wall seconds the run took, shrinking included. */
  seconds: number;
  /** runs / seconds; null when nothing ran (with the reason in failure). */
  ratePerS: number | null;
  /** null when the property held for every run; otherwise what failed, with seed and counterexample. */
  failure: string | null;
  seed: number;
  /** The failing run's counterexample path (replay with seed and path), or null. */
  path: string | null;
}

/** A property made with fc.property or fc.asyncProperty. */
export type AnyProperty<Ts> = fc.IRawProperty<Ts>;

const DEFAULT_RUNS = 1_000_000_000;

function describeError(e: unknown): string {
  if (e instanceof Error) return e.stack ?? `${e.name}: ${e.message}`;
  return fc.stringify(e);
}

/** What went wrong in a failed check, as one message that names the seed and the counterexample. */
function failureOf<Ts>(d: fc.RunDetails<Ts>): string {
  const replay = `replay: runFor(property, seconds, { seed: ${d.seed}, path: ${JSON.stringify(d.counterexamplePath)} })`;
  if (d.counterexample === null) {
    // Too many pre() skips: nothing was tested.
    return `the property could not be checked: ${d.numSkips} generated values were skipped by its preconditions after ${d.numRuns} runs (seed ${d.seed})`;
  }
  return [
    `property failed after ${d.numRuns} runs (seed ${d.seed}, path ${d.counterexamplePath}, ${d.numShrinks} shrinks)`,
    `counterexample: ${fc.stringify(d.counterexample)}`,
    `error: ${describeError(d.errorInstance)}`,
    replay,
  ].join('\n');
}

/**
 * Checks `property` until `seconds` have passed (fast-check's
 * interruptAfterTimeLimit, an interrupt not counted as a failure) or a run
 * fails. The rate is measured, never assumed: runs over the wall seconds.
 */
export async function runFor<Ts>(property: AnyProperty<Ts>, seconds: number, opts: RunOptions = {}): Promise<RunResult> {
  if (!(seconds > 0) || !Number.isFinite(seconds)) throw new Error(`runFor: expected a positive number of seconds, got ${seconds}`);
  const params: fc.Parameters<Ts> = {
    numRuns: opts.numRuns ?? DEFAULT_RUNS,
    // The plugin form of interruptAfterTimeLimit with markInterruptAsFailure: false.
    plugins: [fc.interruptAfterTimeLimit(Math.round(seconds * 1000), { failOnInterrupt: false })],
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.path !== undefined ? { path: opts.path } : {}),
  };
  const t0 = process.hrtime.bigint();
  const details = await fc.check(property, params);
  const took = Number(process.hrtime.bigint() - t0) / 1e9;
  let failure = details.failed ? failureOf(details) : null;
  if (!details.failed && details.numRuns === 0) failure = `no run finished within ${seconds} s (seed ${details.seed}): one run takes longer than the time limit`;
  return {
    runs: details.numRuns,
    seconds: took,
    ratePerS: details.numRuns > 0 && took > 0 ? details.numRuns / took : null,
    failure,
    seed: details.seed,
    path: details.counterexamplePath,
  };
}
