// zod building blocks whose messages read "expected X" so that a manifest
// error prints as `collectors.proc.interval_ms: expected a positive integer, got "fast"`.
import { z } from 'zod';

export const expected = (what: string) => (iss: { input?: unknown }) =>
  iss.input === undefined ? `required: ${what}` : `expected ${what}`;

export const positiveInt = (what = 'a positive integer') =>
  z.number({ error: expected(what) }).int({ error: expected(what) }).positive({ error: expected(what) });

export const nonEmptyString = (what = 'a non-empty string') =>
  z.string({ error: expected(what) }).min(1, { error: expected(what) });

/** What a manifest may name a host or an episode: letters, digits, ".", "_", "-", up to 64, starting with a letter or digit. */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const safeName = (what: string) =>
  z
    .string({ error: expected(what) })
    // No "got" here: formatIssue adds it, cut short (the name was said twice, whole).
    .regex(SAFE_NAME, { error: expected(`${what} of 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit`) });

export const bool = () => z.boolean({ error: expected('true or false') });

/** Keys every collector takes, whatever it collects. */
export const collectorCommon = {
  enabled: bool().default(true).describe('false keeps the settings but does not run the collector.'),
  optional: bool()
    .default(false)
    .describe('When true, a collector that cannot run on this host is skipped with its reason instead of refusing the episode.'),
  available_in_deployment: bool()
    .optional()
    .describe("Overrides the collector's default for the rows' available_in_deployment."),
};

/** A nullable measurement: null means not collected, with a reason in null_reasons. */
export const measured = (description: string) => z.number().nullable().describe(description);
export const counter = (description: string) => z.number().int().nonnegative().nullable().describe(description);
