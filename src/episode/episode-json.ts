// episode.json, as zod: what `labtel run` writes (src/agent/run-episode.ts)
// and the one reader everything else uses (verify, report, forward,
// bucketize --episode). Lenient where older episodes lack a key: every member
// is optional and unknown keys pass through; the manifest member is checked by
// the manifest's own schema, except that keys this build does not know pass
// (an episode written by a newer labtel, or with a collector this one lacks).
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { manifestSchema } from '../manifest/schema.js';
import { formatIssues } from '../manifest/format-error.js';

const count = z.number().nullable().optional();

export const episodeClockSchema = z.looseObject({
  t_mono_origin_ns: z.string().optional().describe('CLOCK_MONOTONIC at the origin, ns (decimal string).'),
  // Kept a plain string: `labtel bucketize --episode` says itself when it is not a decimal.
  realtime_origin_ns: z.string().optional().describe('CLOCK_REALTIME at the origin, ns since the Unix epoch (decimal string).'),
  realtime_minus_mono_ns: z.string().optional().describe('CLOCK_REALTIME minus CLOCK_MONOTONIC, ns (decimal string).'),
  uncertainty_ns: z.number().optional().describe('Width of the bracket around the realtime reading, ns.'),
  boot_id: z.string().optional(),
  source: z.string().optional().describe("'native' (clock_gettime in the addon) or 'ts' (Date.now())."),
  clk_tck: count.describe('Clock ticks per second (sysconf).'),
  page_size: count.describe('Page size, bytes (sysconf).'),
  sysconf_source: z.string().optional(),
});

export const episodeJsonSchema = z
  .looseObject({
    episode: z.string().optional().describe("The episode's name (the manifest's, or the output directory's)."),
    labtel_version: z.string().optional(),
    run_id: z.string().optional().describe('16 random bytes (base64url) naming this run of the episode: two runs under one name are two run_ids. The NATS forwarder ends its message ids in it (docs/nats.md); only pullers of the stream see it, not other hosts.'),
    created: z.string().optional().describe('When the episode started, ISO 8601.'),
    clock: episodeClockSchema.optional(),
    target: z
      .looseObject({
        pid: z.number().optional(),
        pidfile: z.string().optional(),
        qmp_socket: z.string().optional(),
      })
      .optional()
      .describe('The resolved target: its pid, and how it was named.'),
    native: z.unknown().optional().describe('Whether the addon was in use, and why not.'),
    preflight: z.record(z.string(), z.unknown()).optional().describe('What each collector found on this host before the run.'),
    // Checked on its own below (readEpisodeJson): the manifest's schema, partial at the top level only
    // (hand-assembled and older episodes may lack output_dir or target), unknown keys let through.
    manifest: z.unknown().optional(),
    host: z
      .looseObject({ cpu: z.looseObject({ cores: count }).nullable().optional() })
      .nullable()
      .optional()
      .describe('The host inventory (os, /proc, /sys and the release files, with the fields and values systeminformation gave); null when it could not be read.'),
  })
  .describe("An episode directory's episode.json.");

const episodeManifestSchema = manifestSchema.partial();

// (unknown & the manifest's type is the manifest's type.)
export type EpisodeJson = z.output<typeof episodeJsonSchema> & { manifest?: z.output<typeof episodeManifestSchema> };

/** episode.json could not be read, parsed or accepted; `reason` is the cause without the file name. */
export class EpisodeJsonError extends Error {
  override name = 'EpisodeJsonError';
  constructor(
    readonly file: string,
    readonly reason: string,
    /** 'read': missing or unreadable; 'json': not JSON; 'schema': a key is bad (named in reason). */
    readonly kind: 'read' | 'json' | 'schema',
    options?: ErrorOptions,
  ) {
    // fs errors name the file already ("ENOENT: no such file or directory, open '…/episode.json'").
    super(reason.includes(file) ? reason : `${file}: ${reason}`, options);
  }
}

/** The episode.json of episode directory `dir`, checked; throws EpisodeJsonError naming the file and the bad key. */
export function readEpisodeJson(dir: string): EpisodeJson {
  const file = path.join(dir, 'episode.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new EpisodeJsonError(file, (err as Error).message, 'read', { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new EpisodeJsonError(file, (err as Error).message, 'json', { cause: err });
  }
  const r = episodeJsonSchema.safeParse(raw, { reportInput: true });
  if (!r.success) throw new EpisodeJsonError(file, formatIssues(r.error.issues).replace(/\n/g, '; '), 'schema', { cause: r.error });
  if (r.data.manifest === undefined) return r.data as EpisodeJson;
  const m = episodeManifestSchema.safeParse(r.data.manifest, { reportInput: true });
  if (m.success) return { ...r.data, manifest: m.data };
  // Keys this build does not know are not errors here: the episode was valid where it was written.
  const bad = m.error.issues.filter((i) => i.code !== 'unrecognized_keys');
  if (bad.length === 0) return r.data as EpisodeJson;
  const issues = bad.map((i) => ({ ...i, path: ['manifest', ...i.path] }));
  throw new EpisodeJsonError(file, formatIssues(issues).replace(/\n/g, '; '), 'schema', { cause: m.error });
}
