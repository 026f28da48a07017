// Every fuzz target runs here for a bounded time (LABTEL_FUZZ_SECONDS each,
// default 3): the property-based ones (QMP lines, guest lines) through
// runFor(), the libFuzzer ones (pcap, pcap_pipeline, proc) through
// scripts/fuzz.sh, which builds them with clang into build-cmake/fuzz (cached).
// `npm run fuzz:<target>` runs one for a minute. Each prints its rate.
//
// regression for: fuzz targets that exist and nobody runs (the libFuzzer
// harnesses ran only by hand, QEMU's and the guest's line handling had none);
// a runner that reports a failing property as passing or loses the seed that
// replays it; real captures given to the pcap fuzzers without the two control
// bytes the harnesses read first (their magic was read as ctl and seed, so
// not one of them parsed as a capture).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { has } from '../helpers/programs.js';
import { tmpDir } from '../helpers/tmp.js';
import { GUEST_SEEDS, guestLinesProperty } from './guest-lines.js';
import { QMP_SEEDS, qmpLinesProperty } from './qmp-lines.js';
import { runFor } from './run-property.js';

const SECONDS = (() => {
  const raw = process.env.LABTEL_FUZZ_SECONDS;
  if (raw === undefined || raw === '') return 3;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`LABTEL_FUZZ_SECONDS: expected a positive integer, got ${JSON.stringify(raw)}`);
  return n;
})();
/** A target's own time, plus what starting it, its seeds and shrinking a failure may take. */
const TARGET_TIMEOUT_MS = SECONDS * 1000 + 60_000;
/** A cold build of the three libFuzzer targets (ASan + UBSan) took about 11 s on 2 busy cores; the margin is for slower CI machines. */
const BUILD_TIMEOUT_MS = 600_000;
const FUZZ_SH = path.join(ROOT, 'scripts', 'fuzz.sh');

interface ScriptRun {
  code: number | null;
  out: string;
}

function fuzzSh(args: string[], env: Record<string, string> = {}): Promise<ScriptRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(FUZZ_SH, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', (err) => reject(new Error(`scripts/fuzz.sh ${args.join(' ')} did not start: ${err.message}`, { cause: err })));
    child.once('close', (code) => resolve({ code, out }));
  });
}

const tail = (s: string, lines = 40): string => s.trimEnd().split('\n').slice(-lines).join('\n');

/** "fuzz: TARGET ran N inputs in S s (R/s)", the line scripts/fuzz.sh ends with. */
function summary(target: string, out: string): { runs: number; seconds: number } | null {
  const m = new RegExp(`^fuzz: ${target} ran (\\d+) inputs in ([\\d.]+) s`, 'm').exec(out);
  return m ? { runs: Number(m[1]), seconds: Number(m[2]) } : null;
}

describe('runFor: a property for a bounded time', () => {
  it('runs a holding property until the time limit, counting its runs', async () => {
    const r = await runFor(fc.property(fc.string(), (s) => s.length >= 0), 1);
    expect(r.failure).toBeNull();
    expect(r.runs).toBeGreaterThan(1);
    expect(r.seconds).toBeGreaterThan(0);
    expect(r.ratePerS).toBeGreaterThan(0);
    expect(Number.isInteger(r.seed)).toBe(true);
  });

  it('runs an async property', async () => {
    const r = await runFor(fc.asyncProperty(fc.nat(), async (n) => (await Promise.resolve(n)) >= 0), 1);
    expect(r.failure).toBeNull();
    expect(r.runs).toBeGreaterThan(1);
  });

  // regression for: a failure reported without what replays it.
  it('reports a failure with its seed, path and shrunk counterexample, and the seed and path replay it', async () => {
    const p = fc.property(fc.integer({ min: 0, max: 1_000_000 }), (n) => {
      if (n >= 500) throw new Error(`too big: ${n}`);
    });
    const r = await runFor(p, 10);
    expect(r.failure).not.toBeNull();
    expect(r.failure).toContain(`seed ${r.seed}`);
    expect(r.failure).toContain('counterexample: [500]');
    expect(r.failure).toContain('too big: 500');
    expect(r.path).not.toBeNull();
    const again = await runFor(p, 10, { seed: r.seed, path: r.path! });
    expect(again.failure).toContain('counterexample: [500]');
    expect(again.runs).toBe(1);
  });
});

describe('property-based fuzz targets', () => {
  it(`qmp: QEMU's lines (qmpLinesProperty) hold for ${SECONDS} s`, async () => {
    expect(QMP_SEEDS.length, 'QMP_SEEDS: seeds from real QMP traffic').toBeGreaterThan(0);
    const r = await runFor(qmpLinesProperty(), SECONDS);
    console.log(`fuzz qmp: ${r.runs} runs in ${r.seconds.toFixed(1)} s (${r.ratePerS === null ? 'no rate' : r.ratePerS.toFixed(0)}/s), seed ${r.seed}`);
    expect(r.failure, r.failure ?? '').toBeNull();
    expect(r.runs).toBeGreaterThan(0);
  }, TARGET_TIMEOUT_MS);

  it(`guest: the guest's lines (guestLinesProperty) hold for ${SECONDS} s`, async () => {
    expect(GUEST_SEEDS.length, 'GUEST_SEEDS: seeds from real guest traffic').toBeGreaterThan(0);
    const r = await runFor(guestLinesProperty(), SECONDS);
    console.log(`fuzz guest: ${r.runs} runs in ${r.seconds.toFixed(1)} s (${r.ratePerS === null ? 'no rate' : r.ratePerS.toFixed(0)}/s), seed ${r.seed}`);
    expect(r.failure, r.failure ?? '').toBeNull();
    expect(r.runs).toBeGreaterThan(0);
  }, TARGET_TIMEOUT_MS);
});

describe.skipIf(!(has('clang++') && has('cmake')))('libFuzzer targets (clang)', () => {
  beforeAll(async () => {
    const b = await fuzzSh(['build']);
    if (b.code !== 0) throw new Error(`scripts/fuzz.sh build exited ${b.code}:\n${tail(b.out)}`);
    console.log(tail(b.out, 1));
  }, BUILD_TIMEOUT_MS);

  // regression for: real captures seeded without the two control bytes (see the top).
  it('seeds the pcap fuzzers with the real captures of test/fixtures/pcap, each a capture after two control bytes', () => {
    const real = fs.readdirSync(path.join(ROOT, 'test', 'fixtures', 'pcap')).filter((f) => /\.pcap(ng)?$/.test(f));
    const dir = path.join(ROOT, 'build-cmake', 'fuzz', 'seeds-pcap');
    const seeds = fs.readdirSync(dir);
    expect(real.length).toBeGreaterThan(10);
    expect(seeds.sort()).toEqual(real.map((f) => `real-${f}`).sort());
    const magics = new Set(['d4c3b2a1', 'a1b2c3d4', '4d3cb2a1', 'a1b23c4d', '0a0d0d0a']);
    const bad = seeds.filter((f) => !magics.has(fs.readFileSync(path.join(dir, f)).subarray(2, 6).toString('hex')));
    expect(bad, 'seeds whose bytes after the two control bytes are no capture magic').toEqual([]);
  });

  for (const target of ['pcap', 'pcap_pipeline', 'proc'] as const) {
    it(`${target}: fuzz_${target} finds nothing in ${SECONDS} s`, async () => {
      const r = await fuzzSh([target, String(SECONDS)], { LABTEL_FUZZ_CORPUS: tmpDir('labtel-fuzz-corpus-') });
      const crash = /^fuzz: \S+ (crashed|failed).*$/m.exec(r.out)?.[0];
      if (crash) throw new Error(`${crash}\n--- the fuzzer's last lines:\n${tail(r.out)}`);
      expect(r.code, tail(r.out)).toBe(0);
      const s = summary(target, r.out);
      expect(s, `no summary line from scripts/fuzz.sh ${target}:\n${tail(r.out)}`).not.toBeNull();
      console.log(`fuzz ${target}: ${s!.runs} inputs in ${s!.seconds.toFixed(1)} s (${(s!.runs / s!.seconds).toFixed(0)}/s)`);
      expect(s!.runs).toBeGreaterThan(0);
    }, TARGET_TIMEOUT_MS);
  }
});
