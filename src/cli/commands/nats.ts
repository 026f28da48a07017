// `labtel forward <episode-dir>` (backfill: publish a finished episode,
// idempotent) and `labtel pull --out DIR` (materialize the stream's episodes).
import os from 'node:os';
import path from 'node:path';
import { natsSinkConfig } from '../../sinks/nats/config.js';
import { NatsForwarder } from '../../sinks/nats/forwarder.js';
import { pull } from '../../sinks/nats/pull.js';
import { formatIssues } from '../../manifest/format-error.js';
import { readEpisodeJson } from '../../episode/episode-json.js';

export interface NatsFlags {
  servers?: string[];
  stream?: string;
  subjectPrefix?: string;
  host?: string;
}

/** The flags over the episode's own sinks.nats settings, checked by the manifest's schema. */
function natsConfig(f: NatsFlags, fromEpisode: Record<string, unknown> = {}) {
  const given = Object.fromEntries(
    Object.entries({ servers: f.servers?.length ? f.servers : undefined, stream: f.stream, subject_prefix: f.subjectPrefix, host: f.host }).filter(([, v]) => v !== undefined),
  );
  const r = natsSinkConfig.safeParse({ ...fromEpisode, ...given }, { reportInput: true });
  if (!r.success) throw new Error(`nats settings are not valid:\n${formatIssues(r.error.issues)}`);
  return r.data;
}

export async function forwardCommand(dir: string, f: NatsFlags): Promise<number> {
  const ep = readEpisodeJson(dir);
  const cfg = natsConfig(f, ep.manifest?.sinks?.nats);
  // The agent names every episode it writes (the manifest's name, or the directory's): this fallback is for hand-made ones.
  const fwd = new NatsForwarder(dir, cfg, { prefix: cfg.subject_prefix, host: cfg.host ?? os.hostname(), episode: ep.episode ?? path.basename(dir) });
  try {
    const ok = (await fwd.pass()) && (await fwd.forwardEpisodeFiles());
    console.error(`labtel: ${dir}: ${fwd.progress.published} rows published, ${fwd.progress.skipped} already forwarded${ok ? '' : `; stopped: ${fwd.progress.error}`}`);
    return ok ? 0 : 1;
  } finally {
    await fwd.close();
  }
}

export async function pullCommand(f: NatsFlags & { out: string; durable: string; follow?: boolean }): Promise<number> {
  const cfg = natsConfig(f);
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  process.once('SIGTERM', () => ac.abort());
  const r = await pull({ servers: cfg.servers, stream: cfg.stream, out: f.out, durable: f.durable, follow: f.follow, signal: ac.signal });
  const { subject, not_a_row } = r.rejected;
  const rejected = subject || not_a_row ? `; not written: ${subject} with a subject that is no plain name, ${not_a_row} not one JSON row` : '';
  console.error(`labtel: pulled ${r.rows} rows (${r.skipped} already there) into ${r.episodes.length} episode directories under ${f.out}${rejected}`);
  return 0;
}
