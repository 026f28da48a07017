// `labtel forward <episode-dir>` (backfill: publish a finished episode,
// idempotent) and `labtel pull --out DIR` (materialize the stream's episodes).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { natsSinkConfig } from '../../sinks/nats/config.js';
import { NatsForwarder } from '../../sinks/nats/forwarder.js';
import { pull, PULL_STATE, type PullResult } from '../../sinks/nats/pull.js';
import { ASIDE_KINDS, ASIDE_MEANING } from '../../sinks/nats/pull-aside.js';
import { formatIssues } from '../../manifest/format-error.js';
import { readEpisodeJson } from '../../episode/episode-json.js';
import { scrubSecrets } from '../../util/scrub-secrets.js';

export interface NatsFlags {
  servers?: string[];
  stream?: string;
  subjectPrefix?: string;
  host?: string;
  credentials?: string;
  nkeySeedFile?: string;
  tokenFile?: string;
  user?: string;
  passwordFile?: string;
  inboxPrefix?: string;
}

const CREDENTIAL_KEYS: readonly string[] = ['credentials', 'nkey_seed_file', 'token_file', 'user', 'password_file'];

/**
 * The flags over the episode's own sinks.nats settings, checked by the manifest's schema. Credentials come from
 * the flags or the environment only, never from episode.json: the host that wrote it (a pulled episode's
 * publisher) would choose which of this machine's secret files is sent to which server.
 */
function natsConfig(f: NatsFlags, fromEpisode: Record<string, unknown> = {}) {
  const given = Object.fromEntries(
    Object.entries({
      servers: f.servers?.length ? f.servers : undefined,
      stream: f.stream,
      subject_prefix: f.subjectPrefix,
      host: f.host,
      inbox_prefix: f.inboxPrefix,
      credentials: f.credentials,
      nkey_seed_file: f.nkeySeedFile,
      token_file: f.tokenFile,
      user: f.user,
      password_file: f.passwordFile,
    }).filter(([, v]) => v !== undefined),
  );
  const episode = Object.fromEntries(Object.entries(fromEpisode).filter(([k]) => !CREDENTIAL_KEYS.includes(k)));
  const r = natsSinkConfig.safeParse({ ...episode, ...given }, { reportInput: true });
  if (!r.success) throw new Error(`nats settings are not valid:\n${formatIssues(r.error.issues)}`);
  return r.data;
}

export async function forwardCommand(dir: string, f: NatsFlags): Promise<number> {
  const ep = readEpisodeJson(dir);
  // A directory labtel pull made holds an episode.json its publisher wrote: the servers it names are that publisher's
  // choice, and this machine's credentials (flags or environment) would be sent to them.
  if (!f.servers?.length && fs.existsSync(path.join(dir, PULL_STATE))) {
    throw new Error(`${dir} was made by labtel pull (${PULL_STATE}): its episode.json names servers its publisher chose; give --servers to forward it`);
  }
  const cfg = natsConfig(f, ep.manifest?.sinks?.nats);
  // The agent names every episode it writes (the manifest's name, or the directory's): this fallback is for hand-made ones.
  const fwd = new NatsForwarder(dir, cfg, { prefix: cfg.subject_prefix, host: cfg.host ?? os.hostname(), episode: ep.episode ?? path.basename(dir) });
  try {
    // episode.json and summary.json are sent whatever happened to the rows (issue 18 point 3).
    const rows = await fwd.pass();
    const rowsError = fwd.progress.error;
    const files = await fwd.forwardEpisodeFiles();
    const filesError = files ? null : fwd.progress.error;
    const ok = rows && files;
    const p = fwd.progress;
    const errors = [rowsError && `rows stopped: ${rowsError}`, filesError && `episode files stopped: ${filesError}`].filter(Boolean);
    console.error(
      scrubSecrets(
        `labtel: ${dir}: ${p.published} rows published, ${p.skipped} already forwarded, ${p.stubs} sent as stubs, ${p.corrupt} corrupt lines passed over${errors.length ? `; ${errors.join('; ')}` : ''}`,
      ),
    );
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
  const r = await pull({ ...cfg, prefix: cfg.subject_prefix, out: f.out, durable: f.durable, follow: f.follow, signal: ac.signal });
  console.error(`labtel: pulled ${r.rows} rows (${r.skipped} already there) into ${r.episodes.length}${r.moreEpisodes ? ' or more' : ''} episode directories under ${f.out}`);
  if (r.held) console.error(`labtel: held back ${r.held} message${r.held === 1 ? '' : 's'} once, until rows before theirs came (a gap in seqs)`);
  for (const line of setAsideLines(r)) console.error(line);
  return 0;
}

/** What the pull set aside (terminated, not written), kind by kind, with the first subjects of each. */
export function setAsideLines(r: PullResult): string[] {
  const lines: string[] = [];
  for (const kind of ASIDE_KINDS) {
    const count = r.rejected[kind];
    if (!count) continue;
    lines.push(`labtel: set aside ${count} message${count === 1 ? '' : 's'} with ${ASIDE_MEANING[kind]} (${kind}), not written and not redelivered:`);
    for (const e of r.setAside[kind] ?? []) lines.push(`  ${e.subject}: ${e.why}`);
    const more = count - (r.setAside[kind]?.length ?? 0);
    if (more > 0) lines.push(`  and ${more} more`);
  }
  return lines;
}
