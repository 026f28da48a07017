// The agent's own rows (source `agent`): what happened to the episode and to
// each collector, on the same clock as the collectors' rows. Declared here,
// beside the registry that owns every row shape, so the registry (which
// collectors import) never points up into the agent.
import { z } from 'zod';
import { measurement } from './measurement.js';

export const AGENT_EVENTS = [
  'episode_started',
  'collector_started',
  'collector_skipped',
  'collector_error',
  'collector_ended',
  'collector_failed',
  'episode_stopping',
] as const;

export const agentEventRow = z.strictObject({
  event: z.enum(AGENT_EVENTS).describe('What happened.'),
  collector: z.string().nullable().describe('The collector it concerns; null for the episode.'),
  message: z.string().nullable().describe('Details: the error, the reason, or how the collector ended.'),
});
export type AgentEventRow = z.output<typeof agentEventRow>;

export const agentSelfRow = z
  .strictObject({
    cpu_user_s: measurement(z.number()).nonnegative().describe("The agent's user CPU time since it started, s: main thread and every collector's worker thread together (not the programs it runs: perf, tcpdump)."),
    cpu_sys_s: measurement(z.number()).nonnegative().describe('Its system CPU time since it started, s.'),
    cpu_pct: measurement(z.number()).nonnegative().describe('Its CPU use since the previous row, % of one core.'),
    rss_bytes: measurement(z.number().int().nonnegative().nullable()).describe("Its resident memory, bytes. null with the reason where it could not be read (Node's process.memoryUsage.rss() opens /proc/self/stat: EMFILE when the agent is out of descriptors)."),
    collectors: z
      .record(
        z.string(),
        z.strictObject({ rows: z.number().int().nonnegative().describe('Rows on disk.'), queued: z.number().int().nonnegative().describe('Rows written but not yet flushed.') }),
      )
      .describe('Per running collector: rows on disk, and rows written but not yet flushed.'),
  })
  .describe("The agent's own overhead, every second: so every episode measures what recording it cost.");
