// The usage error both faces of `labtel bucketize` throw (captures, an
// episode's replay): its own module, so the command's fast path can throw it
// without loading the schema-checked flags (bucketize-options.ts).
export class UsageError extends Error {
  override name = 'UsageError';
}
