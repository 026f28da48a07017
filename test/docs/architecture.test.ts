import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOG } from '../../src/collectors/catalog.js';
import { ROOT } from '../helpers/cli.js';

// Issue 16 point 6: docs/architecture.md names files by relative links; this keeps the page from drifting from the code.
const PAGE = path.join(ROOT, 'docs/architecture.md');
const DOCS = path.dirname(PAGE);

/** Every relative link target of a markdown page, anchors cut off. */
function linkTargets(markdown: string): string[] {
  return [...markdown.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!.split('#')[0]!)
    .filter((t) => t !== '' && !/^[a-z]+:/i.test(t));
}

/** Top-level folders of src/ that hold at least one file (an emptied folder left behind by a move is not a part). */
function srcFolders(): string[] {
  const holdsFile = (dir: string): boolean =>
    fs.readdirSync(dir, { withFileTypes: true }).some((e) => e.isFile() || (e.isDirectory() && holdsFile(path.join(dir, e.name))));
  return fs
    .readdirSync(path.join(ROOT, 'src'), { withFileTypes: true })
    .filter((e) => e.isDirectory() && holdsFile(path.join(ROOT, 'src', e.name)))
    .map((e) => e.name);
}

/** What is wrong with the page: each missing file, collector or folder, named. */
function problems(markdown: string): string[] {
  const targets = linkTargets(markdown);
  const linked = targets.map((t) => path.relative(ROOT, path.resolve(DOCS, t)).split(path.sep).join('/'));
  const out: string[] = [];
  for (const [i, t] of targets.entries()) if (!fs.existsSync(path.resolve(DOCS, t))) out.push(`names a missing file: ${t} (${linked[i]})`);
  for (const spec of CATALOG) {
    if (!linked.some((l) => l.startsWith(`src/collectors/${spec.name}/`))) out.push(`collector ${spec.name} of src/collectors/catalog.ts has no link into src/collectors/${spec.name}/`);
  }
  for (const folder of srcFolders()) {
    if (!linked.some((l) => l.startsWith(`src/${folder}/`))) out.push(`folder src/${folder}/ has no link on the page`);
  }
  return out;
}

describe('docs/architecture.md', () => {
  const page = fs.readFileSync(PAGE, 'utf8');

  // Guards against the checks below passing vacuously: a page whose links the pattern no longer finds.
  it('links files, and there are collectors and folders to look for', () => {
    expect(linkTargets(page).length).toBeGreaterThan(50);
    expect(CATALOG.length).toBeGreaterThan(0);
    expect(srcFolders().length).toBeGreaterThan(10);
  });

  // Regression for: a file moved or renamed (src/bucketize/ moving under the netflow collector) while the page kept its old path.
  it('names only files that exist, every collector of the catalog and every top-level folder of src/', () => {
    const found = problems(page);
    expect(found, found.join('\n')).toEqual([]);
  });

  // Proves the check above can fail: the same page with one bogus path, one collector and one folder taken away.
  it('reports a page naming a missing file, and one missing a collector or a folder', () => {
    const bogus = page.replace('](../src/collectors/qmp/poll.ts)', '](../src/collectors/qmp/no-such-poll.ts)');
    expect(bogus).not.toBe(page);
    expect(problems(bogus)).toEqual(['names a missing file: ../src/collectors/qmp/no-such-poll.ts (src/collectors/qmp/no-such-poll.ts)']);

    const spec = CATALOG[0]!;
    const withoutCollector = page.replaceAll(`src/collectors/${spec.name}/`, 'src/collectors/elsewhere/');
    expect(problems(withoutCollector)).toContain(`collector ${spec.name} of src/collectors/catalog.ts has no link into src/collectors/${spec.name}/`);

    const withoutFolder = page.replaceAll('../src/lab/', '../src/not-lab/');
    expect(problems(withoutFolder)).toContain('folder src/lab/ has no link on the page');
  });
});
