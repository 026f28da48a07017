// Writes docs/rows.md and docs/manifest.md from the zod schemas.
import fs from 'node:fs';
import { renderManifestDoc, renderRowsDoc } from '../src/docs/render.js';

fs.writeFileSync('docs/rows.md', renderRowsDoc());
fs.writeFileSync('docs/manifest.md', renderManifestDoc());
console.log('wrote docs/rows.md and docs/manifest.md');
