#!/usr/bin/env node
import('../dist/bundle/cli.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/bundle/cli.js')) {
    console.error('labtel: dist/ is missing: run `npm install` (or `npm run build`) in the labtel folder first.');
  } else {
    console.error(err);
  }
  process.exit(1);
});
