// Loads the C++ addon once per thread: LABTEL_NATIVE_PATH first, then the
// addon `npm install` built. When neither loads, labtel runs its pure-TS path
// and `reason` says why, in one message that names every attempt.
import { createRequire } from 'node:module';
import path from 'node:path';
import { PACKAGE_ROOT } from '../util/package-root.js';
import type { NativeAddon } from './types.js';

export interface NativeStatus {
  available: boolean;
  /** Where the loaded addon came from, or why none is in use. */
  reason: string;
  path: string | null;
}

const require = createRequire(import.meta.url);
export const BUILT_ADDON_PATH = path.join(PACKAGE_ROOT, 'build', 'Release', 'labtel.node');

let loaded: { addon: NativeAddon | null; status: NativeStatus } | undefined;

function load(): { addon: NativeAddon | null; status: NativeStatus } {
  if (process.env.LABTEL_NATIVE === '0') {
    return { addon: null, status: { available: false, reason: 'disabled by LABTEL_NATIVE=0; using the pure-TypeScript path', path: null } };
  }
  const attempts: string[] = [];
  const candidates: Array<[string, string]> = [];
  const override = process.env.LABTEL_NATIVE_PATH;
  if (override) candidates.push([override, 'LABTEL_NATIVE_PATH']);
  candidates.push([BUILT_ADDON_PATH, 'the addon built by npm install']);
  for (const [file, what] of candidates) {
    try {
      const addon = require(file) as NativeAddon;
      const earlier = attempts.length ? `; before it, ${attempts.join('; ')}` : '';
      return { addon, status: { available: true, reason: `loaded ${what} (${file})${earlier}`, path: file } };
    } catch (err) {
      const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
      attempts.push(`${what} (${file}): ${msg}`);
    }
  }
  return {
    addon: null,
    status: {
      available: false,
      reason: `no native addon could be loaded; using the pure-TypeScript path (slower, same results). Tried: ${attempts.join('; ')}. Rebuild it with \`npm run build:native\`.`,
      path: null,
    },
  };
}

/** The addon, or null when the pure-TS path is in use. */
export function nativeAddon(): NativeAddon | null {
  loaded ??= load();
  return loaded.addon;
}

export function nativeStatus(): NativeStatus {
  loaded ??= load();
  return loaded.status;
}
