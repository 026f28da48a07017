// `labtel bucketize`'s flags in their plain, common form (decimal numbers in
// range, dotted IPv4 addresses, MACs, no --episode), turned into options
// without loading zod and the netflow schema, which is most of the command's
// start-up. Anything else returns null and goes through bucketizeOptions(),
// the schema, which stays the only judge of what is refused and how it is
// said. On what this accepts the two give the same options:
// test/cli/bucketize-plain-flags.test.ts holds them together.
import type { BucketizeFileOptions } from '../../collectors/netflow/offline/bucketize-native.js';
import type { BucketizeFlags } from './bucketize-options.js';
import { originWallNsOf } from './bucketize-usage.js';

// The netflow schema's defaults (collectors/netflow/config.ts); the CLI's lateness default is 0.
const BUCKET_MS_DEFAULT = 100;
const MAX_EMPTY_BUCKETS_DEFAULT = 3600;
// Ranges the schema accepts (within them: bucket_ms is any positive safe integer; these are narrower).
const BUCKET_MS_MAX = 1_000_000_000;
const LATENESS_MS_MAX = 600_000;
const MAX_EMPTY_BUCKETS_MAX = 1_000_000_000;

// zod's IPv4 check (z.ipv4(): four decimal octets, no leading zeros); IPv6 goes to the schema.
const IPV4 = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])$/;
const MAC = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;

/** A decimal flag within [min, max] (undefined: absent), or NaN when the schema must judge it. */
function decimal(v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,10}$/.test(v)) return NaN;
  const n = Number(v);
  return n >= min && n <= max ? n : NaN;
}

const one = <T>(xs: T[]): T | T[] | undefined => (xs.length === 0 ? undefined : xs.length === 1 ? xs[0] : xs);

/** The options bucketizeOptions(f) would return, or null when it must decide (or refuse). */
export function plainBucketizeOptions(f: BucketizeFlags): BucketizeFileOptions | null {
  if (f.episode !== undefined) return null;
  const bucketMs = decimal(f.bucketMs, 1, BUCKET_MS_MAX);
  const latenessMs = decimal(f.latenessMs, 0, LATENESS_MS_MAX);
  const maxEmptyBuckets = decimal(f.maxEmptyBuckets, 0, MAX_EMPTY_BUCKETS_MAX);
  if (Number.isNaN(bucketMs) || Number.isNaN(latenessMs) || Number.isNaN(maxEmptyBuckets)) return null;
  if (!f.guestIp.every((ip) => IPV4.test(ip)) || !f.bridgeIp.every((ip) => IPV4.test(ip)) || !f.guestMac.every((m) => MAC.test(m))) return null;
  if (f.bridgeIp.length > 1) return null;
  let originWallNs: bigint | undefined;
  if (f.originWallNs !== undefined) {
    const ns = originWallNsOf(f.originWallNs);
    if (ns === null) return null;
    originWallNs = ns;
  }
  return {
    bucketMs: bucketMs ?? BUCKET_MS_DEFAULT,
    latenessMs: latenessMs ?? 0,
    guestIp: one(f.guestIp),
    guestMac: one(f.guestMac),
    bridgeIp: f.bridgeIp[0],
    maxEmptyBuckets: maxEmptyBuckets ?? MAX_EMPTY_BUCKETS_DEFAULT,
    originWallNs,
    fillEmpty: f.fill,
    skipBad: f.skipBad ?? false,
  };
}
