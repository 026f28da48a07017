#!/usr/bin/env node
// The bundle (dist/bundle/, npm run build) starts fastest; tsc's dist/ alone (a build without the bundling step) runs the same code.
const entries = ['../dist/bundle/cli.js', '../dist/cli/main.js'];
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
