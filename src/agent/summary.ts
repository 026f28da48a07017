import { z } from 'zod';
import type { Source } from '../rows/envelope.js';
import { natsForwarding } from '../sinks/nats/forwarding-summary.js';

export { natsForwarding, sourceForwarding, type NatsForwardingSummary, type SourceForwarding } from '../sinks/nats/forwarding-summary.js';

export type CollectorStatus = 'ok' | 'failed' | 'skipped';

export interface CollectorSummary {
  status: CollectorStatus;
  /** Why it failed or was skipped; null when ok. */
  reason: string | null;
  rows: number;
  errors: string[];
  /** How it ended: 'stopped', 'target_exited', ... ; null when it never ran. */
  end: string | null;
  file: string | null;
  sources: readonly Source[];
  detail?: Record<string, unknown>;
}

export type ExitReason = 'duration' | 'SIGINT' | 'SIGTERM' | 'collectors_ended' | 'aborted';

export const forwardingSummary = z
  .strictObject({ nats: natsForwarding.optional() })
  .describe('What each sink received of the episode (absent when the manifest names no sink).');

export type ForwardingSummary = z.output<typeof forwardingSummary>;

export interface EpisodeSummary {
  episode: string;
  labtel_version: string;
  exit_reason: ExitReason;
  t_mono_start_ns: number;
  t_mono_stop_ns: number;
  /** What the agent itself cost over the episode. */
  /** peak_rss_bytes: this process's VmHWM, null (with the reason) when it could not be read. */
  agent: { cpu_s: number; peak_rss_bytes: number | null; peak_rss_null_reason?: string };
  collectors: Record<string, CollectorSummary>;
  /** Present when the manifest names a sink (forwardingSummary). */
  forwarding?: ForwardingSummary;
}
