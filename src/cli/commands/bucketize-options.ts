// `labtel bucketize`'s flags, checked by the manifest's netflow schema, and the
// usage error both faces of the command (captures, an episode's replay) throw.
import path from 'node:path';
import { netflowConfig } from '../../collectors/netflow/config.js';
import { formatIssues } from '../../manifest/format-error.js';
import { EpisodeJsonError, readEpisodeJson, type EpisodeJson } from '../../episode/episode-json.js';
import type { BucketizeFileOptions } from '../../collectors/netflow/offline/bucketize-native.js';
import { originWallNsOf, UsageError } from './bucketize-usage.js';

export { UsageError };

export interface BucketizeFlags {
  output?: string;
  outDir?: string;
  /** Default 100 (with --episode, the episode's own netflow bucket_ms). */
  bucketMs?: string;
  latenessMs?: string;
  /** --max-empty-buckets N (default 3600; with --episode, the episode's). */
  maxEmptyBuckets?: string;
  guestIp: string[];
  guestMac: string[];
  bridgeIp: string[];
  episode?: string;
  originWallNs?: string;
  fill: boolean;
  skipBad?: boolean;
  force?: boolean;
  jobs?: string;
}

/** --episode DIR's episode.json, through the one typed reader; what it cannot read is a usage error naming the file. */
export function readEpisodeFlag(dir: string): { file: string; episode: EpisodeJson } {
  try {
    return { file: path.join(dir, 'episode.json'), episode: readEpisodeJson(dir) };
  } catch (err) {
    if (!(err instanceof EpisodeJsonError)) throw err;
    throw new UsageError(`--episode: cannot read ${err.file}: ${err.reason}`, { cause: err });
  }
}

const FLAG_OF: Record<string, string> = {
  bucket_ms: '--bucket-ms',
  lateness_ms: '--lateness-ms',
  max_empty_buckets: '--max-empty-buckets',
  guest_ip: '--guest-ip',
  guest_mac: '--guest-mac',
  bridge_ip: '--bridge-ip',
};

const asNumber = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : v);

/**
 * The flags, checked by the same zod schema as the manifest's netflow keys;
 * `episodeNetflow` (a live episode's netflow settings) fills what the flags leave out.
 */
export function bucketizeOptions(f: BucketizeFlags, episodeNetflow: Record<string, unknown> = {}): BucketizeFileOptions {
  const one = <T>(xs: T[]) => (xs.length === 0 ? undefined : xs.length === 1 ? xs[0] : xs);
  const flags = {
    bucket_ms: asNumber(f.bucketMs),
    lateness_ms: asNumber(f.latenessMs),
    max_empty_buckets: asNumber(f.maxEmptyBuckets),
    guest_ip: one(f.guestIp),
    guest_mac: one(f.guestMac),
    bridge_ip: f.bridgeIp[0],
  };
  const given = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
  const { bucket_ms, lateness_ms, guest_ip, guest_mac, bridge_ip, max_empty_buckets } = episodeNetflow;
  const r = netflowConfig.safeParse({ ...{ bucket_ms, lateness_ms: lateness_ms ?? 0, guest_ip, guest_mac, bridge_ip, max_empty_buckets }, ...given }, { reportInput: true });
  if (!r.success) throw new UsageError(formatIssues(r.error.issues).replace(/^(\w+)/gm, (k) => FLAG_OF[k] ?? k));
  if (f.bridgeIp.length > 1) throw new UsageError('--bridge-ip: give it once');
  let originWallNs: bigint | undefined;
  if (f.originWallNs !== undefined) {
    const ns = originWallNsOf(f.originWallNs);
    if (ns === null) throw new UsageError(`--origin-wall-ns: expected an integer of nanoseconds since the epoch, got ${JSON.stringify(f.originWallNs)}`);
    originWallNs = ns;
  }
  if (f.episode) {
    if (originWallNs !== undefined) throw new UsageError('--episode and --origin-wall-ns: give one of them');
    const { file, episode } = readEpisodeFlag(f.episode);
    const origin = episode.clock?.realtime_origin_ns;
    if (origin === undefined || !/^\d+$/.test(origin)) throw new UsageError(`--episode: ${file} has no clock.realtime_origin_ns`);
    originWallNs = BigInt(origin);
  }
  return {
    bucketMs: r.data.bucket_ms,
    latenessMs: r.data.lateness_ms,
    guestIp: r.data.guest_ip,
    guestMac: r.data.guest_mac,
    bridgeIp: r.data.bridge_ip,
    maxEmptyBuckets: r.data.max_empty_buckets,
    originWallNs,
    fillEmpty: f.fill,
    skipBad: f.skipBad ?? false,
  };
}
