import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

// Issue 15 point 7: every figure in BENCHMARKS.md is printed by a script in the repository, in one run.
const doc = fs.readFileSync(path.join(ROOT, 'BENCHMARKS.md'), 'utf8');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
const benchScripts = Object.keys(pkg.scripts).filter((s) => /^bench:/.test(s) && s !== 'bench:all');
const sections = doc
  .split(/^(?=## )/m)
  .filter((s) => s.startsWith('## ') && !s.startsWith('## Timings moved out of tests'))
  .map((s) => ({ title: s.split('\n')[0]!, text: s }));

describe('BENCHMARKS.md', () => {
  it('has benchmark sections', () => {
    expect(sections.length).toBeGreaterThan(0);
  });

  // Regression for: sections quoted figures from no script (a C wake-up floor, stage timings, other machines' anchors)
  // under a heading that named a command, with one machine line for the whole file written by hand.
  it('each section names the npm script that prints it, and that script prints a section with its own machine line', () => {
    expect(sections.length).toBeGreaterThan(0);
    for (const s of sections) {
      const cmd = /^Command: `(?:[A-Z_]+=\S+ )*(?:sudo )?npm run (bench:[a-z]+)`$/m.exec(s.text);
      expect(cmd, `${s.title}: no "Command: \`npm run bench:NAME\`" line`).not.toBeNull();
      const script = pkg.scripts[cmd![1]!];
      expect(script, `${s.title}: package.json has no script ${cmd![1]}`).toBeDefined();
      const file = /tsx (scripts\/bench\/[a-z-]+\.ts)/.exec(script!)?.[1];
      expect(file, `${s.title}: ${cmd![1]} runs no scripts/bench/*.ts`).toBeDefined();
      expect(fs.readFileSync(path.join(ROOT, file!), 'utf8'), `${file} does not print its section`).toMatch(/printSection\(/);
      expect(s.text, `${s.title}: no machine line`).toMatch(/^Machine: /m);
      expect(s.text, `${s.title}: figures still pending`).not.toMatch(/pending/i);
      expect(s.text, `${s.title}: figures of a BENCH_QUICK run`).not.toMatch(/BENCH_QUICK/);
    }
  });

  it('npm run bench:all runs every bench script, and each has a section', () => {
    const all = fs.readFileSync(path.join(ROOT, 'scripts', 'bench', 'all.ts'), 'utf8');
    expect(benchScripts.length).toBeGreaterThan(0);
    for (const s of benchScripts) {
      expect(all, `${s} is not registered in scripts/bench/all.ts`).toContain(`name: '${s.slice('bench:'.length)}'`);
      expect(doc, `${s} has no section in BENCHMARKS.md`).toMatch(new RegExp(`^Command: \`.*npm run ${s}\`$`, 'm'));
    }
  });
});
