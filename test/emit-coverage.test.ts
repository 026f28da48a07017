// The tripwire: every collector labtel knows has an emit test against the
// real program it depends on, or an explicit carve-out naming the test that
// covers it and why. Adding a collector without either fails here, before a
// manifest can select it. (The field's suite had this, with qmp and
// guest_agent carved out as "needs a running VM"; labtel needs no carve-out.)
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COLLECTORS } from '../src/collectors/index.js';
import { KNOWN_COLLECTORS, type CollectorName } from '../src/manifest/schema.js';
import { ROOT } from './helpers/cli.js';

/** Where each collector is emitted against the real program: the file, the program it runs, and a row source it asserts on. */
const EMIT_TESTS: Partial<Record<CollectorName, { file: string; program: string; asserts: string }>> = {
  proc: { file: 'test/collectors/proc/run-loop.test.ts', program: 'runLoop', asserts: "'host_proc'" },
  perf: { file: 'test/collectors/perf/emit.test.ts', program: "has('perf')", asserts: "'host_perf'" },
  pcap: { file: 'test/collectors/pcap/emit.test.ts', program: "has('tcpdump')", asserts: "rowsOf(dir, 'pcap')" },
  netflow: { file: 'test/collectors/pcap/emit.test.ts', program: "has('tcpdump')", asserts: "rowsOf(dir, 'netflow')" },
  qmp: { file: 'test/collectors/qmp/emit.test.ts', program: 'hasQemu()', asserts: "rowsOf(dir, 'qmp_event')" },
  guest_agent: { file: 'test/collectors/guest_agent/emit.test.ts', program: "spawn('qemu-ga'", asserts: "kind === 'line'" },
};

/** Collectors whose real-program emit test cannot exist, with the test that covers them and why. None today. */
const CARVE_OUTS: Partial<Record<CollectorName, { coveredBy: string; why: string }>> = {};

describe('emit coverage', () => {
  it.each(KNOWN_COLLECTORS)('%s has an emit test against its real program, or a carve-out saying why not', (name) => {
    const t = EMIT_TESTS[name];
    const c = CARVE_OUTS[name];
    expect(t ?? c, `collector ${name} has no emit test and no carve-out: add one before it can be selected`).toBeDefined();
    if (c) {
      expect(fs.existsSync(path.join(ROOT, c.coveredBy)), `${name}'s carve-out names ${c.coveredBy}, which does not exist`).toBe(true);
      expect(c.why.length).toBeGreaterThan(20);
      return;
    }
    const text = fs.readFileSync(path.join(ROOT, t!.file), 'utf8');
    expect(text, `${t!.file} does not run ${t!.program}`).toContain(t!.program);
    expect(text, `${t!.file} does not look at ${name}'s rows`).toContain(t!.asserts);
    // A skip is allowed only on the program being absent (CI installs it), never unconditionally.
    expect(text).not.toMatch(/\b(describe|it)\.skip\(/);
    expect(text).not.toMatch(/\b(describe|it)\.only\(/);
  });

  it('every implemented collector is one KNOWN_COLLECTORS names, and the other way round', () => {
    expect(Object.keys(COLLECTORS).sort()).toEqual([...KNOWN_COLLECTORS].sort());
  });
});
