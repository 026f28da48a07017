// The agent's own rows (source `agent`): what happened to the episode and to
// each collector, on the same clock as the collectors' rows.
import { z } from 'zod';

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
