// Runs one property-based fuzz target (fast-check) for a bounded time, as
// scripts/fuzz.sh qmp|guest does (npm run fuzz:qmp, npm run fuzz:guest):
//
//   node --import tsx scripts/fuzz-property.ts qmp|guest SECONDS [--seed N [--path P]]
//
// Last line, on success: "fuzz: TARGET ran N inputs in S s (R/s), seed X"
// (the format scripts/fuzz.sh prints for the libFuzzer targets); on a failing
// property: the seed, path and counterexample, and exit 1.
import { guestLinesProperty } from '../test/fuzz/guest-lines.js';
import { qmpLinesProperty } from '../test/fuzz/qmp-lines.js';
import { type AnyProperty, runFor } from '../test/fuzz/run-property.js';

const PROPERTY_TARGETS = {
  qmp: (): AnyProperty<unknown> => qmpLinesProperty() as AnyProperty<unknown>,
  guest: (): AnyProperty<unknown> => guestLinesProperty() as AnyProperty<unknown>,
};
type PropertyTarget = keyof typeof PROPERTY_TARGETS;

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const usage = `usage: scripts/fuzz-property.ts ${Object.keys(PROPERTY_TARGETS).join('|')} SECONDS [--seed N [--path P]]`;
const [name, secondsArg] = process.argv.slice(2);
if (!name || !(name in PROPERTY_TARGETS)) {
  process.stderr.write(`fuzz: unknown property target ${JSON.stringify(name)}; ${usage}\n`);
  process.exit(2);
}
const seconds = Number(secondsArg ?? '60');
if (!Number.isInteger(seconds) || seconds <= 0) {
  process.stderr.write(`fuzz: SECONDS must be a positive integer, got ${JSON.stringify(secondsArg)}\n`);
  process.exit(2);
}
const seedArg = argValue('--seed');
const seed = seedArg === undefined ? undefined : Number(seedArg);
if (seed !== undefined && !Number.isInteger(seed)) {
  process.stderr.write(`fuzz: --seed must be an integer, got ${JSON.stringify(seedArg)}\n`);
  process.exit(2);
}
const path = argValue('--path');

const property = PROPERTY_TARGETS[name as PropertyTarget]();
const r = await runFor(property, seconds, { ...(seed !== undefined ? { seed } : {}), ...(path !== undefined ? { path } : {}) });
if (r.failure !== null) {
  process.stdout.write(`${r.failure}\n`);
  const replay = `node --import tsx scripts/fuzz-property.ts ${name} ${seconds} --seed ${r.seed}${r.path !== null ? ` --path ${r.path}` : ''}`;
  process.stdout.write(`fuzz: ${name} failed after ${r.runs} inputs (replay: ${replay})\n`);
  process.exit(1);
}
process.stdout.write(`fuzz: ${name} ran ${r.runs} inputs in ${r.seconds.toFixed(1)} s (${r.ratePerS === null ? 'no rate: nothing ran' : `${Math.round(r.ratePerS)}/s`}), seed ${r.seed}\n`);
