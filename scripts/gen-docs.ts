// Writes docs/rows.md and docs/manifest.md from the zod schemas.
import fs from 'node:fs';
import { renderManifestDoc, renderRowsDoc, renderVerifyDoc } from '../src/docs/render.js';

fs.writeFileSync('docs/rows.md', renderRowsDoc());
fs.writeFileSync('docs/manifest.md', renderManifestDoc());
fs.writeFileSync('docs/verify.md', renderVerifyDoc());
console.log('wrote docs/rows.md, docs/manifest.md and docs/verify.md');
