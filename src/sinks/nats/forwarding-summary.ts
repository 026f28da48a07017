// summary.json's forwarding.nats: what the agent's live forwarding (live.ts)
// returns and src/agent/summary.ts records. Here, beside the sink, so the sink
// never imports the agent (test/architecture/layers.test.ts).
import { z } from 'zod';

const count = (description: string) => z.number().int().nonnegative().describe(description);

/** One source's rows as the agent's last forwarding pass left them: forwarded + remaining = the rows in its file. */
export const sourceForwarding = z
  .strictObject({
    forwarded: count('Rows of this source JetStream acknowledged (stubs included): pull gets them.'),
    stubs: count('Of the forwarded rows, how many went as a stub (the row was larger than a message may carry on the server; the stub keeps its envelope and says why; the row is in the file).'),
    remaining: count('Rows of this source in the file that JetStream did not acknowledge when the episode ended: `labtel forward <dir>` publishes them.'),
  })
  .describe("One source's forwarding when the episode ended.");

export const natsForwarding = z
  .strictObject({
    stream: z.string().describe('The JetStream stream the rows went to.'),
    complete: z.boolean().describe('true when every row of every file was acknowledged (remaining is 0 for every source) before summary.json was written.'),
    by_source: z.record(z.string(), sourceForwarding).describe('Per row source (host_proc, qmp_event, agent, ...): forwarded, stubs and remaining. forwarded + remaining is the rows in the file.'),
    error: z.string().nullable().describe('Why not every row was forwarded (NATS unreachable, the time limit, a file that could not be read), and a line passed over as no labtel row; null when there was nothing to say.'),
    resume: z.string().describe('The command that publishes what remains (idempotent: run it whatever complete says).'),
  })
  .describe("The agent's NATS forwarding as it stood when the episode ended, after the collectors stopped and every row file (the agent's own included) was closed and a last pass had its time. episode.json and summary.json are published after summary.json is written; `labtel forward` does not rewrite this section.");

export type SourceForwarding = z.output<typeof sourceForwarding>;
export type NatsForwardingSummary = z.output<typeof natsForwarding>;
