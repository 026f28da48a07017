// The bundle bin/labtel.js runs (scripts/build-bundle.mjs, part of `npm run build`): that it is
// current, that it runs on its own (no module outside dist/bundle/ but node_modules), that the
// agent starts each collector's worker from the bundle's own script and hands it its preflight,
// and that it does what tsc's dist/ (the same JavaScript, unbundled) does, byte for byte.
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CATALOG } from '../../src/collectors/catalog.js';
import { VERSION } from '../../src/version.js';
import { LABTEL_BIN, ROOT } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const exec = promisify(execFile);
const BUNDLE = path.join(ROOT, 'dist', 'bundle');
/** tsc's output: the same JavaScript the bundle was built from, one module a file. */
const DIST_CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const builtIn = CATALOG.filter((s) => !s.entry.module.includes('toy-collector'));

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(entry: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd = ROOT): Ran {
  const r = spawnSync(process.execPath, [entry, ...args], { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  if (r.error) throw new Error(`${entry} ${args.join(' ')}: ${r.error.message}`, { cause: r.error });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A package root holding only what the bundle needs: package.json, bin/, dist/bundle/, the built addon and node_modules (linked). */
function bundleOnlyRoot(): string {
  const root = path.join(tmpDir(), 'pkg');
  fs.mkdirSync(path.join(root, 'dist'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(root, 'package.json'));
  fs.cpSync(path.join(ROOT, 'bin'), path.join(root, 'bin'), { recursive: true });
  fs.cpSync(BUNDLE, path.join(root, 'dist', 'bundle'), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'));
  if (fs.existsSync(path.join(ROOT, 'build'))) fs.symlinkSync(path.join(ROOT, 'build'), path.join(root, 'build'));
  return root;
}

/** A target that keeps a CPU busy, so perf counts something (this process waits in spawnSync meanwhile); killed after the test. */
function busyTarget(): number {
  const child = spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' });
  onTestFinished(() => {
    child.kill('SIGKILL');
  });
  return child.pid!;
}

function procManifest(dir: string, extra: object = {}): string {
  const file = path.join(dir, 'm.json');
  fs.writeFileSync(file, JSON.stringify({ output_dir: path.join(dir, 'ep'), duration_s: 2, target: { pid: busyTarget() }, collectors: { proc: { interval_ms: 50 }, ...extra } }));
  return file;
}

function newestUnder(dir: string): { file: string; mtimeMs: number } {
  let best = { file: '', mtimeMs: 0 };
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const file = path.join(e.parentPath, e.name);
    const m = fs.statSync(file).mtimeMs;
    if (m > best.mtimeMs) best = { file, mtimeMs: m };
  }
  return best;
}

describe('the bundle', () => {
  // regression for: a test (or a user) running a bundle older than the source it was built from.
  it('is newer than every source file and holds a module and a worker for each built-in collector (npm run build)', () => {
    expect(fs.existsSync(path.join(BUNDLE, 'cli.js')), 'dist/bundle/cli.js: run `npm run build`').toBe(true);
    const built = fs.statSync(path.join(BUNDLE, 'cli.js')).mtimeMs;
    const src = newestUnder(path.join(ROOT, 'src'));
    expect(src.file).not.toBe('');
    expect(src.mtimeMs, `${path.relative(ROOT, src.file)} is newer than dist/bundle/: run \`npm run build\``).toBeLessThanOrEqual(built);
    expect(builtIn.length).toBeGreaterThan(0);
    for (const s of builtIn) {
      expect(fs.existsSync(path.join(BUNDLE, `collector-${s.entry.export}.js`)), s.name).toBe(true);
      expect(fs.existsSync(path.join(BUNDLE, `worker-${s.entry.export}.cjs`)), s.name).toBe(true);
    }
  });

  // regression for: the collectors' CommonJS worker scripts ran in sloppy mode (esbuild adds no "use strict"), where
  // tsc's ES modules, the same code, are strict: a write to a read-only property failed silently on the worker only.
  it("runs each collector's worker script in strict mode, as the ES modules it is built from", () => {
    expect(builtIn.length).toBeGreaterThan(0);
    for (const s of builtIn) {
      const script = path.join(BUNDLE, `worker-${s.entry.export}.cjs`);
      // The directive is the script's first statement, or it is only a string.
      expect(fs.readFileSync(script, 'utf8').split('\n', 1)[0], script).toBe("'use strict';");
      // And what it means, in a script that starts as the worker's does.
      const probe = path.join(tmpDir(), 'strict.cjs');
      fs.writeFileSync(probe, `${fs.readFileSync(script, 'utf8').split('\n', 1)[0]}\nprocess.stdout.write(String((function () { return this; })() === undefined));\n`);
      expect(run(probe, []).stdout, script).toBe('true');
    }
  });

  // regression for: a worker module (bucketize's pool, verify's split scan, ...) missing from the bundle, so that the
  // command that starts it fails only when run from bin/labtel.js, which tests of src/ never see.
  it('holds every worker module that src/ starts by name (spawnModuleWorker)', () => {
    const names = new Set<string>();
    for (const e of fs.readdirSync(path.join(ROOT, 'src'), { withFileTypes: true, recursive: true })) {
      if (!e.isFile() || !e.name.endsWith('.ts')) continue;
      const text = fs.readFileSync(path.join(e.parentPath, e.name), 'utf8');
      for (const m of text.matchAll(/spawnModuleWorker\(\s*import\.meta\.url\s*,\s*'([^']+)'/g)) names.add(m[1]!);
    }
    expect(names.size).toBeGreaterThan(0);
    for (const n of names) expect(fs.existsSync(path.join(BUNDLE, `${n}.js`)), `dist/bundle/${n}.js`).toBe(true);
  });

  // regression for: bin/labtel.js running tsc's dist/ (hundreds of modules, every worker an ESM graph) where the bundle is built.
  it('is what bin/labtel.js runs when it is there and not older than tsc\'s dist/, and tsc\'s dist/ is what it runs otherwise', () => {
    expect(run(LABTEL_BIN, ['--version'])).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    const root = bundleOnlyRoot();
    const bin = path.join(root, 'bin', 'labtel.js');
    fs.mkdirSync(path.join(root, 'dist', 'cli'));
    const tscMain = path.join(root, 'dist', 'cli', 'main.js');
    fs.writeFileSync(tscMain, "console.log('tsc dist ran'); process.exitCode = 3;\n");
    // As `npm run build` leaves them: tsc's output first, then the bundle built from it.
    const bundled = fs.statSync(path.join(root, 'dist', 'bundle', 'cli.js')).mtime;
    fs.utimesSync(tscMain, new Date(bundled.getTime() - 60_000), new Date(bundled.getTime() - 60_000));
    expect(run(bin, ['--version'])).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    // regression for: a bundle older than tsc's dist/ (tsc alone run again after an edit, as a work tree's tests are
    // built) still run by bin/labtel.js, so the command and every test that spawns it ran the code from before the edit.
    fs.utimesSync(tscMain, new Date(bundled.getTime() + 60_000), new Date(bundled.getTime() + 60_000));
    expect(run(bin, ['--version'])).toMatchObject({ code: 3, stdout: 'tsc dist ran\n' });
    // One time on both (npm's tarballs give every file 1985-10-26T08:15:00Z): the bundle.
    const npmTime = new Date('1985-10-26T08:15:00Z');
    for (const f of [tscMain, path.join(root, 'dist', 'bundle', 'cli.js')]) fs.utimesSync(f, npmTime, npmTime);
    expect(run(bin, ['--version'])).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    fs.rmSync(path.join(root, 'dist', 'bundle'), { recursive: true });
    expect(run(bin, ['--version'])).toMatchObject({ code: 3, stdout: 'tsc dist ran\n' });
    fs.rmSync(path.join(root, 'dist'), { recursive: true });
    expect(run(bin, ['--version'])).toMatchObject({ code: 1, stderr: 'labtel: dist/ is missing: run `npm install` (or `npm run build`) in the labtel folder first.\n' });
  });

  // regression for: a module the bundle left outside itself (a worker or collector entry resolved from dist/, a path from import.meta.url).
  it('runs from a package holding only bin/ and dist/bundle/: --version, run (workers, preflight handoff), verify, check, bucketize with its worker pool', async () => {
    const root = bundleOnlyRoot();
    const bin = path.join(root, 'bin', 'labtel.js');
    expect(run(bin, ['--version'])).toMatchObject({ code: 0, stdout: `${VERSION}\n` });

    const dir = tmpDir();
    const manifest = procManifest(dir, { perf: { interval_ms: 200, optional: true } });
    const r = run(bin, ['run', manifest]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'ep', 'summary.json'), 'utf8'));
    expect(summary.collectors.proc.status).toBe('ok');
    // regression for: the bundle's CommonJS worker not finding the addon (import.meta.url, the package root), so proc
    // fell back to the pure-TS sampler on its worker: the same rows, so nothing else here would see it.
    if (fs.existsSync(path.join(ROOT, 'build', 'Release', 'labtel.node'))) expect(summary.collectors.proc.detail.sampler).toBe('native');
    expect(['ok', 'skipped']).toContain(summary.collectors.perf.status);
    // Only what episode.json always held: no handoff in the preflight it records.
    const episode = JSON.parse(fs.readFileSync(path.join(dir, 'ep', 'episode.json'), 'utf8'));
    expect(Object.keys(episode.preflight).sort()).toEqual(builtIn.map((s) => s.name).sort());
    const recorded = Object.values(episode.preflight);
    expect(recorded.length).toBeGreaterThan(0);
    for (const p of recorded) expect(Object.keys(p as object).sort()).toEqual(['available', 'reason']);
    // Degraded is this test's ok: on a loaded machine a 50 ms proc may fall silent over 3 intervals, which verify reports.
    const v = run(bin, ['verify', '--allow-degraded', path.join(dir, 'ep')]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(run(bin, ['check', manifest]).stdout).toMatch(/^proc +run +native sampler/m);

    const out = path.join(dir, 'flows');
    const captures = ['qinq.pcap', 'sll2.pcap'].map((f) => path.join(ROOT, 'test', 'fixtures', 'pcap', f));
    const b = run(bin, ['bucketize', ...captures, '--out-dir', out, '--jobs', '2']);
    expect(b.code, b.stderr).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(['qinq.netflow.jsonl', 'sll2.netflow.jsonl']);
    await exec(process.execPath, [bin, '--help']);
  });

  // regression for: the agent of the bundle starting a collector's worker from tsc's dist/agent/ (entryBeside not
  // naming the bundle's scripts): proven by taking the bundle's proc worker away, which must then be what fails.
  it("starts a collector's worker from its own script in the bundle", () => {
    const root = bundleOnlyRoot();
    fs.rmSync(path.join(root, 'dist', 'bundle', 'worker-proc.cjs'));
    const dir = tmpDir();
    const r = run(path.join(root, 'bin', 'labtel.js'), ['run', procManifest(dir)]);
    expect(r.code).toBe(1);
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'ep', 'summary.json'), 'utf8'));
    expect(summary.collectors.proc.status).toBe('failed');
    expect(summary.collectors.proc.reason).toContain('worker-proc.cjs');
  });
});

describe('the bundle beside tsc’s dist/ (the same code, unbundled)', () => {
  const bad: Array<[string, unknown]> = [
    ['wrong types and a missing target', { output_dir: 5, collectors: { proc: { interval_ms: 'fast' } } }],
    ['unknown keys', { output_dir: 'x', target: { pid: 1 }, collectors: { proc: { interval_ms: 10, speed: 3 }, nosuch: {} }, extra: true }],
    ['numbers out of range', { output_dir: 'x', target: { pid: -1 }, duration_s: 0, collectors: { proc: { interval_ms: 0 }, perf: { interval_ms: 1.5 } } }],
    ['bad enums and strings', { output_dir: '', target: { qmp_socket: 7 }, collectors: { guest_agent: { socket: 's', mode: 'both', protocol: 'x' }, pcap: { iface: 'a b' } } }],
    ['not an object', [1, 2, 3]],
    ['nested nulls', { output_dir: null, target: null, collectors: null, sinks: { nats: { servers: [] } } }],
  ];

  // regression for: zod's messages changing in the bundle (it keeps only zod's English messages, the ones labtel prints).
  it('refuses every bad manifest with the same messages and status (check and run)', () => {
    expect(bad.length).toBeGreaterThan(0);
    const dir = tmpDir();
    for (const [what, m] of bad) {
      const file = path.join(dir, 'bad.json');
      fs.writeFileSync(file, JSON.stringify(m));
      for (const cmd of ['check', 'run']) {
        const a = run(LABTEL_BIN, [cmd, file]);
        const b = run(DIST_CLI, [cmd, file]);
        expect(a.code, `${what}: ${cmd}`).not.toBe(0);
        expect(a, `${what}: ${cmd}`).toEqual(b);
      }
    }
    fs.writeFileSync(path.join(dir, 'broken.json'), '{"output_dir": ');
    expect(run(LABTEL_BIN, ['check', path.join(dir, 'broken.json')])).toEqual(run(DIST_CLI, ['check', path.join(dir, 'broken.json')]));
  });

  it('prints the same doctor, check, help and usage errors', () => {
    const dir = tmpDir();
    const manifest = procManifest(dir, { perf: { interval_ms: 200, optional: true } });
    const cases = [['doctor', '--json'], ['doctor'], ['check', manifest], ['check', '--json', manifest], ['--help'], ['run', '--help'], ['nosuch'], ['bucketize'], ['verify', path.join(dir, 'nothing-here')]];
    expect(cases.length).toBeGreaterThan(0);
    for (const args of cases) {
      const a = run(LABTEL_BIN, args);
      expect(a, args.join(' ')).toEqual(run(DIST_CLI, args));
    }
  });

  it('writes the same verify verdict, report and bucketize rows (native and pure-TS paths) on the same episode', () => {
    const dir = tmpDir();
    expect(run(LABTEL_BIN, ['run', procManifest(dir, { perf: { interval_ms: 200, optional: true } })]).code).toBe(0);
    const ep = path.join(dir, 'ep');
    for (const args of [['verify', ep], ['verify', '--json', ep]]) expect(run(LABTEL_BIN, args), args.join(' ')).toEqual(run(DIST_CLI, args));
    const html = (entry: string) => {
      const out = path.join(dir, `${path.basename(path.dirname(entry))}.html`);
      expect(run(entry, ['report', ep, '-o', out]).code).toBe(0);
      return fs.readFileSync(out);
    };
    expect(html(LABTEL_BIN).equals(html(DIST_CLI))).toBe(true);

    const captures = fs.readdirSync(path.join(ROOT, 'test', 'fixtures', 'pcap')).filter((f) => /\.pcap(ng)?$/.test(f));
    expect(captures.length).toBeGreaterThan(0);
    for (const native of ['1', '0']) {
      for (const f of captures) {
        const args = ['bucketize', path.join(ROOT, 'test', 'fixtures', 'pcap', f), '-o', '-', '--skip-bad'];
        const a = run(LABTEL_BIN, args, { LABTEL_NATIVE: native });
        expect(a, `${f} LABTEL_NATIVE=${native}`).toEqual(run(DIST_CLI, args, { LABTEL_NATIVE: native }));
      }
    }
    // About 110 processes (30 s at load 3 with four test files beside it): more than the default 60 s on a busy CI machine.
  }, 300_000);
});
