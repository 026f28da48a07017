// What a collector's worker thread loads: each of the six isolates compiles every
// module it imports, so one import of the catalog (every spec, every row schema)
// or of zod there is paid six times at start-up and held in six heaps
// (issue 19: 1.5 s of CPU and 230 MiB before these were cut).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { CATALOG } from '../../src/collectors/catalog.js';
import { ROOT } from '../helpers/cli.js';

/**
 * Runtime imports of a .ts file (`import('…')` with a literal path too), resolved to files or
 * package names: read from what TypeScript emits for it, so imports of names used only as
 * types (which it drops) do not count, as they do not load.
 */
function runtimeImports(file: string, dynamic = true): string[] {
  const js = ts.transpileModule(fs.readFileSync(file, 'utf8'), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const out: string[] = [];
  for (const m of js.matchAll(/^\s*(?:import|export)\s+(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) out.push(m[1]!);
  // What a module loads when it runs (a collector's run loop, imported by its run()): loaded on the worker all the same.
  if (dynamic) for (const m of js.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  return out
    .filter((spec) => !spec.startsWith('node:'))
    .map((spec) => (spec.startsWith('.') ? path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts') : spec.split('/')[0]!.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!));
}

/** Every module a worker running the collector at `entryFile` loads before the collector runs. */
function workerGraph(entryFile: string): Set<string> {
  const seen = new Set<string>();
  const walk = (f: string) => {
    if (seen.has(f)) return;
    seen.add(f);
    if (f.endsWith('.ts')) for (const d of runtimeImports(f)) walk(d);
  };
  walk(path.join(ROOT, 'src/agent/collector-worker.ts'));
  walk(entryFile);
  return seen;
}

const rel = (f: string) => path.relative(ROOT, f);
// netflow's live rows take their field order from the zod row schema (src/collectors/netflow/fields.ts): it loads zod until that list is spelled apart.
const LOADS_ZOD = new Set<string>([]);

describe("a collector's worker thread", () => {
  const entries = CATALOG.filter((s) => !s.entry.module.includes('toy-collector')).map((s) => ({ name: s.name, file: fileURLToPath(s.entry.module) }));

  it('is one per built-in collector', () => {
    expect(entries.map((e) => e.name)).toEqual(['proc', 'perf', 'pcap', 'netflow', 'qmp', 'guest_agent']);
  });

  // regression for: every worker imported collectors/index.ts for its entry, and with it the catalog, every spec and row schema and zod (about 100 ms of CPU and 10 MiB each).
  it('loads neither the catalog nor the manifest schema', () => {
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) {
      const graph = [...workerGraph(e.file)].map(rel);
      expect(graph, e.name).not.toContain('src/collectors/catalog.ts');
      expect(graph, e.name).not.toContain('src/collectors/index.ts');
      expect(graph, e.name).not.toContain('src/manifest/schema.ts');
      expect(graph, e.name).not.toContain('src/rows/registry.ts');
    }
  });

  // regression for: perf ran its child through execa, ~75 ms of CPU to load in its worker for a spawn and two kills.
  it('loads no execa', () => {
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) expect(workerGraph(e.file).has('execa'), e.name).toBe(false);
  });

  // regression for: perf's and pcap's constants sat in their zod config, qmp counted value rows through the row registry, guest_agent imported isMeasuredValue beside zod.
  it('loads no zod (but where a collector is named for it)', () => {
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) {
      const graph = workerGraph(e.file);
      expect(graph.has('zod'), `${e.name}: ${[...graph].filter((f) => f.endsWith('.ts')).map(rel).join(' ')}`).toBe(LOADS_ZOD.has(e.name));
    }
  });

  // regression for: proc's collector module imported its run loop (the sampler, the native batch binding, the row text, the pidfile follower)
  // statically, so the agent's thread, which imports every collector's module to probe it, loaded them too.
  it("is the only thread that loads the collector's run loop (the agent's thread imports the module to probe)", () => {
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) {
      const seen = new Set<string>();
      const walk = (f: string) => {
        if (seen.has(f)) return;
        seen.add(f);
        if (f.endsWith('.ts')) for (const d of runtimeImports(f, false)) walk(d);
      };
      walk(e.file);
      const loops = [...seen].map(rel).filter((f) => /\/(run|live)-loop\.ts$/.test(f));
      expect(loops, e.name).toEqual([]);
    }
  });
});
