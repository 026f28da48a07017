import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderManifestDoc, renderRowsDoc, renderVerifyDoc } from '../../src/docs/render.js';
import { ROOT } from '../helpers/cli.js';

describe('generated docs', () => {
  // The schemas are the single source of truth: run `npm run docs` after changing one.
  it.each([
    ['docs/rows.md', renderRowsDoc],
    ['docs/manifest.md', renderManifestDoc],
    ['docs/verify.md', renderVerifyDoc],
  ])('%s matches the zod schemas', (file, render) => {
    expect(fs.readFileSync(path.join(ROOT, file), 'utf8')).toBe(render());
  });
});
