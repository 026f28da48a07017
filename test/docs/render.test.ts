import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderManifestDoc, renderRowsDoc, renderVerifyDoc } from '../../src/docs/render.js';
import { MEASUREMENTS } from '../../src/rows/measurements.js';
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

describe('docs/rows.md marks measurements', () => {
  // Regression for: rows.md did not say which fields are measurements, and left out the fields nested in qmp's block and vcpus.
  it('every measurement path of every shape has a row saying yes, and no other row does', () => {
    const doc = renderRowsDoc();
    const marked = [...doc.matchAll(/^\| `([^`]+)` \| [^|]*(?:\\\|[^|]*)* \| yes \|/gm)].map((m) => m[1]);
    const expected = Object.values(MEASUREMENTS).flatMap((shapes) => Object.values(shapes!).flat());
    expect(expected.length).toBeGreaterThan(0);
    expect(new Set(marked)).toEqual(new Set(expected));
    expect(doc).toMatch(/^\| `vcpus\.\*\.thread_id` \| integer \|  \| /m);
    expect(doc).toMatch(/^\| `block\.\*\.rd_bytes` \| integer ≥ 0 or null \| yes \| /m);
  });
});
