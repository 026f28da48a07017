// The usage error both faces of `labtel bucketize` throw (captures, an
// episode's replay): its own module, so the command's fast path can throw it
// without loading the schema-checked flags (bucketize-options.ts); and the
// --origin-wall-ns check both faces make.
export class UsageError extends Error {
  override name = 'UsageError';
}

/** --origin-wall-ns as nanoseconds since the epoch, or null when it is not an integer of at most 19 digits. */
export function originWallNsOf(v: string): bigint | null {
  return /^-?\d{1,19}$/.test(v) ? BigInt(v) : null;
}
