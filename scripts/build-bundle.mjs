// The bundle bin/labtel.js runs (npm run build, after tsc): a few files that load
// faster than dist/'s hundreds of modules (issue 19: the agent's start-up CPU).
// Built from tsc's output, so it runs the very JavaScript tsc emitted, into
// dist/bundle/ (every file there sits two folders below the package root, as
// dist/'s and src/'s util/ do: src/util/package-root.ts holds for all three):
//   cli.js + chunk-*.js   the command line, ESM, split so that each command's
//                         lazily imported modules stay lazy;
//   collector-<x>.js      each collector's module, which the agent's thread
//                         imports to probe it (sharing cli.js's chunks);
//   <name>-worker.js      every other worker module of dist/ (collector-worker.js,
//                         the generic collector worker; bucketize's pool worker;
//                         ...), named as src/util/spawn-worker.ts's
//                         spawnModuleWorker(import.meta.url, '<name>-worker')
//                         finds it beside the chunk that starts it;
//   worker-<x>.cjs        one script per collector's worker thread, with that
//                         collector built in: one CommonJS file, the cheapest
//                         thread to start.
// The collectors come from the catalog (src/collectors/catalog.ts), so a new
// line there is bundled with no change here.
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
const OUT = path.join(DIST, 'bundle');

if (!fs.existsSync(path.join(DIST, 'cli', 'main.js'))) {
  console.error('build-bundle: dist/cli/main.js is missing: run tsc first (npm run build does both)');
  process.exit(1);
}

const { CATALOG } = await import(pathToFileURL(path.join(DIST, 'collectors', 'catalog.js')).href);
const collectors = CATALOG.map((s) => ({ name: s.name, export: s.entry.export, file: fileURLToPath(s.entry.module) }));

// zod's index re-exports its ~50 translations of its messages as `z.locales`, which labtel never uses: English, its
// default, is registered by zod's schemas from locales/en.js, which stays. Without the rest, the zod the agent's
// thread compiles is half the size (measured: its import 23 -> 16 ms of CPU). test/build/bundle.test.ts holds the
// bundle's messages to the source's.
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (a) => (/[\\/]node_modules[\\/]zod[\\/]/.test(a.importer) ? { path: path.join(path.dirname(a.importer), '..', 'locales', 'en.js'), namespace: 'zod-english-only' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, (a) => ({ contents: `export { default as en } from ${JSON.stringify(a.path)};`, resolveDir: path.dirname(a.path) }));
  },
};

/** Every <name>-worker.js under dist/: the modules spawnModuleWorker starts, found by their name beside their caller. */
function workerModules() {
  const out = {};
  for (const e of fs.readdirSync(DIST, { withFileTypes: true, recursive: true })) {
    // Dirent.parentPath is Node 20.12's name for what 20.1-20.11 call .path (README: Node >= 20; npm install runs this).
    const dir = e.parentPath ?? e.path;
    if (!e.isFile() || !e.name.endsWith('-worker.js') || path.relative(DIST, dir).split(path.sep)[0] === 'bundle') continue;
    if (path.relative(DIST, path.join(dir, e.name)) === path.join('util', 'spawn-worker.js')) continue; // the starter, not a worker
    const name = e.name.slice(0, -'.js'.length);
    if (out[name]) throw new Error(`build-bundle: two worker modules named ${name}.js (${out[name]}, ${path.join(dir, e.name)}): in the bundle they would be one file`);
    out[name] = path.join(dir, e.name);
  }
  return out;
}

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  // Read by src/collectors/collector-spec.ts's entryBeside: the bundle's own entry and worker files.
  define: { __LABTEL_BUNDLE__: 'true' },
  // Not keepNames: its __name() call per function and class (2,222 here) cost the agent's thread about 20 ms at
  // start-up (measured with the test guest, 5 runs each, load 5-6: main thread 226 -> 204 ms, medians). Where two
  // modules' top-level names collide esbuild renames one (a function ipv4 -> ipv42); no class of labtel or of a
  // bundled package is renamed, labtel reads no function's or class's .name, and test/build/bundle.test.ts holds
  // what the bundle prints and writes to what tsc's dist/ does.
  keepNames: false,
  legalComments: 'none',
  // Less to parse in each of the seven isolates (the workers' scripts 59 -> 38 KB): the test guest's six collectors, 5
  // runs each taking turns, load 2.6-3.4: start-up CPU 0.48 -> 0.44 s, the six workers 269 -> 245 ms (medians).
  // Names are kept (no minifyIdentifiers), so a stack still names its functions.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  // A dynamic import of a path known only at run time (LABTEL_TEST_COLLECTORS, a collector's entry) stays one.
  logOverride: { 'unsupported-dynamic-import': 'silent' },
  plugins: [zodEnglishOnly],
};

fs.rmSync(OUT, { recursive: true, force: true });

await esbuild.build({
  ...common,
  entryPoints: {
    cli: path.join(DIST, 'cli', 'main.js'),
    ...workerModules(),
    ...Object.fromEntries(collectors.map((c) => [`collector-${c.export}`, c.file])),
  },
  format: 'esm',
  splitting: true,
  outdir: OUT,
  chunkNames: 'chunk-[hash]',
  // CommonJS packages bundled into ESM call require() for node's modules.
  banner: { js: "import { createRequire as __labtelCreateRequire } from 'node:module'; const require = __labtelCreateRequire(import.meta.url);" },
});

for (const c of collectors) {
  const rel = (f) => './' + path.relative(ROOT, f).split(path.sep).join('/');
  await esbuild.build({
    ...common,
    stdin: {
      contents: [
        `import { runCollectorWorker } from ${JSON.stringify(rel(path.join(DIST, 'agent', 'collector-worker-main.js')))};`,
        `import { collectorIn } from ${JSON.stringify(rel(path.join(DIST, 'collectors', 'load-entry.js')))};`,
        // Imported when the worker runs it, as the generic worker does: what its module throws is the collector's failure.
        `void runCollectorWorker(async (entry) => collectorIn(await import(${JSON.stringify(rel(c.file))}), entry));`,
      ].join('\n'),
      resolveDir: ROOT,
      sourcefile: `worker-${c.export}.js`,
      loader: 'js',
    },
    format: 'cjs',
    outfile: path.join(OUT, `worker-${c.export}.cjs`),
    // import.meta.url in CommonJS: the file's own URL (package-root.ts, the addon's createRequire).
    define: { ...common.define, 'import.meta.url': '__labtelImportMetaUrl' },
    // Strict, as the ES modules it is built from are (esbuild's CommonJS output is sloppy: a write to a read-only
    // property or a function's `this` would go differently on the worker than in tsc's dist/).
    banner: { js: "'use strict';\nvar __labtelImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  });
}

