// The tripwire: every collector labtel knows has an emit test that runs the
// real program it depends on and records, from /proc, that this program ran
// and that rows came from it (test/helpers/emit-witness.ts). After all test
// files, test/global-setup.ts fails the run when a collector's emit test ran
// without leaving that evidence; .ci/run checks it again. Here: the table is
// complete, and the check itself fails where it must (a tripwire that cannot
// trip proves nothing). The field's suite checked that some text was in a file.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOG, loadCollector } from '../src/collectors/index.js';
import { KNOWN_COLLECTORS } from '../src/manifest/schema.js';
import { ROOT } from './helpers/cli.js';
import { EMIT_TESTS, badEvidence, checkEvidence, type EmitEvidence, type FileOutcome } from './helpers/emit-evidence.js';

const good = (collector: keyof typeof EMIT_TESTS, over: Partial<EmitEvidence> = {}): EmitEvidence => ({
  collector,
  program: EMIT_TESTS[collector].program,
  resolved: `/usr/bin/${EMIT_TESTS[collector].program}`,
  exe: `/usr/bin/${EMIT_TESTS[collector].program}`,
  version: 'x 1.0',
  pid: 1234,
  argv: [EMIT_TESTS[collector].program],
  rows: 3,
  test: 't',
  file: EMIT_TESTS[collector].file,
  ...over,
});
const allRan = (skipped = 0): FileOutcome[] => [...new Set(Object.values(EMIT_TESTS).map((t) => t.file))].map((file) => ({ file, skipped }));

describe('emit coverage', () => {
  // Guards against a catalog line whose entry names no collector: the manifest would accept it and every run fail.
  it('every collector in the catalog loads from its entry, and every one KNOWN_COLLECTORS names has an emit test', async () => {
    expect(CATALOG.length).toBeGreaterThan(0);
    for (const spec of CATALOG) expect(typeof (await loadCollector(spec.entry)).run, spec.name).toBe('function');
    expect(CATALOG.map((s) => s.name).sort()).toEqual([...KNOWN_COLLECTORS].sort());
    expect(Object.keys(EMIT_TESTS).sort()).toEqual([...KNOWN_COLLECTORS].sort());
  });

  it.each(KNOWN_COLLECTORS)('%s has an emit test that records evidence of its real program', (name) => {
    const t = EMIT_TESTS[name];
    const text = fs.readFileSync(path.join(ROOT, t.file), 'utf8');
    expect(text, `${t.file} never records evidence for ${name}`).toContain(`recordEmitEvidence('${name}'`);
    expect(text, `${t.file} never witnesses ${t.program}`).toContain(`witnessProgram('${t.program}'`);
    expect(text).not.toMatch(/\b(describe|it|test)\.(skip|only|todo)\(/);
  });
});

describe('the check after all test files', () => {
  it('passes when every collector whose emit test ran has evidence', () => {
    expect(checkEvidence(KNOWN_COLLECTORS.map((c) => good(c)), allRan(), true)).toEqual({ failures: [], warnings: [] });
  });

  it('passes over collectors whose emit test was not part of the run', () => {
    expect(checkEvidence([], [{ file: 'test/clock/origin.test.ts', skipped: 0 }], true)).toEqual({ failures: [], warnings: [] });
  });

  // Regression for: an emit test that passed without its program (a guard that returned early, a fake peer) went unnoticed.
  it('fails a collector whose emit test ran and passed with no evidence, naming it', () => {
    const { failures } = checkEvidence(KNOWN_COLLECTORS.filter((c) => c !== 'perf').map((c) => good(c)), allRan(), false);
    expect(failures).toEqual([`perf: ${EMIT_TESTS.perf.file} ran, but no test in it recorded that perf ran and produced perf rows`]);
  });

  it('fails a missing program under CI even when its test was skipped; outside CI only warns', () => {
    const others = KNOWN_COLLECTORS.filter((c) => c !== 'qmp').map((c) => good(c));
    const ci = checkEvidence(others, allRan(1), true);
    expect(ci.failures).toHaveLength(1);
    expect(ci.failures[0]).toMatch(/^qmp: /);
    const local = checkEvidence(others, allRan(1), false);
    expect(local.failures).toEqual([]);
    expect(local.warnings).toHaveLength(1);
    expect(local.warnings[0]).toMatch(/^qmp: .*is qemu-system-x86_64 installed\?\)$/);
  });

  it.each([
    [{ rows: 0 }, 'perf: perf (pid 1234) ran, but the test saw 0 rows from it'],
    [{ exe: '/usr/bin/sleep' }, 'perf: pid 1234 ran /usr/bin/sleep, not perf'],
    [{ program: 'sleep' }, 'perf: evidence names sleep, but its real program is perf'],
    [{ version: '' }, 'perf: no version output from /usr/bin/perf'],
    [{ pid: 0 }, 'perf: no pid'],
  ] as const)('refuses evidence that proves nothing: %j', (over, why) => {
    expect(badEvidence(good('perf', over))).toBe(why);
    const { failures } = checkEvidence([good('perf', over), ...KNOWN_COLLECTORS.filter((c) => c !== 'perf').map((c) => good(c))], allRan(), false);
    expect(failures).toContain(why);
    expect(failures).toContain(`perf: ${EMIT_TESTS.perf.file} ran, but no test in it recorded that perf ran and produced perf rows`);
  });
});
