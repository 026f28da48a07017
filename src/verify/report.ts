// What `labtel verify --json` prints: the verification layer's input. The
// schema here is the single source of docs/verify.md (npm run docs).
import { z } from 'zod';

export const VERDICTS = ['ok', 'degraded', 'failed'] as const;
export type Verdict = (typeof VERDICTS)[number];

export const collectorVerdict = z.strictObject({
  verdict: z.enum(VERDICTS).describe('ok: ran and emitted real values throughout; degraded: emitted real values, with the reasons listed; failed: not to be trusted.'),
  rows: z.number().int().nonnegative().describe('Rows in its telemetry file.'),
  reasons: z.array(z.string()).describe('Why it is not ok, one sentence each; empty when ok.'),
});

export const verifyReport = z
  .strictObject({
    verdict: z.enum(VERDICTS).describe('failed if any collector failed (or the episode has no summary.json), else degraded if any is degraded, else ok.'),
    episode: z.string().describe("The episode's name (summary.json, else the directory's)."),
    reasons: z.array(z.string()).describe("Reasons that concern the episode as a whole (a missing summary.json, an agent that never stopped cleanly)."),
    collectors: z.record(z.string(), collectorVerdict).describe('One entry per collector the manifest selected (enabled), skipped ones included.'),
  })
  .describe('The verdict on one episode directory.');
export type VerifyReport = z.output<typeof verifyReport>;
