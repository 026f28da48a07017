import fs from 'node:fs';
import { formatIssues } from './format-error.js';
import { manifestSchema, unfilledKeys, type Manifest } from './schema.js';

export class ManifestError extends Error {
  override name = 'ManifestError';
}

/** Validates a parsed manifest; throws a ManifestError naming every bad key. */
export function parseManifest(data: unknown, where = 'manifest'): Manifest {
  const r = manifestSchema.safeParse(data, { reportInput: true });
  if (!r.success) throw new ManifestError(`${where} is not valid:\n${formatIssues(r.error.issues)}`);
  const unfilled = unfilledKeys(r.data);
  if (unfilled.length) throw new ManifestError(`${where} is not valid:\n${unfilled.join('\n')}`);
  return r.data;
}

export function loadManifest(file: string): Manifest {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ManifestError(`cannot read manifest ${file}: ${(err as Error).message}`, { cause: err });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`manifest ${file} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseManifest(data, `manifest ${file}`);
}
