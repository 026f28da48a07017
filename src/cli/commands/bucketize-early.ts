// The plain `labtel bucketize FILE` (one capture, plain flags, the addon)
// starts its pipeline before the rest of the command loads: the addon reads,
// parses and buckets on its own threads while Node loads the writer, the
// progress line and the command, and the command then drains the rows that
// wait (bucketizeNativeFile). Only what cannot change what the command does:
// a regular file that opens, options the plain flags give (the command
// computes the same ones from the same flags), and no `-o FILE --force` over
// an existing file (the command removes it first, and it may be the capture).
// In every other case nothing is started and the command runs as before.
import fs from 'node:fs';
import { startNativeFile, type StartedFile } from '../../collectors/netflow/offline/bucketize-native.js';
import type { BucketizeFlags } from './bucketize-options.js';
import { plainBucketizeOptions } from './bucketize-plain-flags.js';

/** The format bucketizeCommand's writer gives: a new writer (seq from 0), rows available in deployment. */
const FORMAT = { availableInDeployment: true, seq: 0 };

export function startPlainBucketize(captures: string[], f: BucketizeFlags): StartedFile | null {
  if (captures.length !== 1) return null;
  const options = plainBucketizeOptions(f);
  if (!options) return null;
  const out = f.output ?? '-';
  if (out !== '-' && f.force) {
    try {
      fs.lstatSync(out);
      return null;
    } catch {
      // nothing there: nothing to remove
    }
  }
  return startNativeFile(captures[0]!, options, { bucketMs: options.bucketMs, ...FORMAT });
}
