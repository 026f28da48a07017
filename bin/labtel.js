#!/usr/bin/env node
// The bundle (dist/bundle/, npm run build) starts fastest; tsc's dist/ alone (a build without the bundling step) runs the same code.
// A bundle older than tsc's dist/ is stale (tsc run again since, as a work tree's tests are built): dist/ runs then.
import { statSync } from 'node:fs';

const BUNDLE = '../dist/bundle/cli.js';
const TSC = '../dist/cli/main.js';
const mtime = (entry) => {
  try {
    return statSync(new URL(entry, import.meta.url)).mtimeMs;
  } catch {
    return -1;
  }
};
const entries = mtime(BUNDLE) >= mtime(TSC) ? [BUNDLE, TSC] : [TSC, BUNDLE];
const missing = (err, entry) => err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes(entry.slice(3));
(async () => {
  for (const entry of entries) {
    try {
      return await import(entry);
    } catch (err) {
      if (!missing(err, entry)) throw err;
    }
  }
  console.error('labtel: dist/ is missing: run `npm install` (or `npm run build`) in the labtel folder first.');
  process.exit(1);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
