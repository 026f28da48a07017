// The emit tripwire's evidence: each collector's emit test records that its
// real program ran (executable, version, pid) and that rows came from it
// (emit-witness.ts, in the test); after all test files, test/global-setup.ts
// checks that every collector whose emit test ran left such a record. This
// file is the part both sides share; it does not load vitest at run time.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CollectorName } from '../../src/manifest/schema.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where this run's emit tests write their evidence (test/global-setup.ts makes it). */
    emitEvidenceDir: string;
  }
}

/** Where each collector is emitted against its real program: the test file, and the program whose process must be seen. */
export const EMIT_TESTS: Record<CollectorName, { file: string; program: string }> = {
  proc: { file: 'test/collectors/proc/run-loop.test.ts', program: 'node' }, // the live target is the test's own node process
  perf: { file: 'test/collectors/perf/emit.test.ts', program: 'perf' },
  pcap: { file: 'test/collectors/pcap/emit.test.ts', program: 'tcpdump' },
  netflow: { file: 'test/collectors/pcap/emit.test.ts', program: 'tcpdump' },
  qmp: { file: 'test/collectors/qmp/emit.test.ts', program: 'qemu-system-x86_64' },
  guest_agent: { file: 'test/collectors/guest_agent/emit.test.ts', program: 'qemu-ga' },
};

/** One record: this collector's rows came from this process of this program. */
export interface EmitEvidence {
  collector: string;
  /** The program as the tests name it, where it resolved on PATH, the executable the process really ran, and its --version. */
  program: string;
  resolved: string;
  exe: string;
  version: string;
  pid: number;
  argv: string[];
  /** Rows of the collector's own source(s) the test saw from it: more than 0. */
  rows: number;
  test: string;
  file: string;
}

/** The evidence directory of run `runId`, under the OS temp dir. */
export const evidenceDirOf = (runId: string): string => path.join(os.tmpdir(), `labtel-emit-evidence-${runId}`);

export function readEvidence(dir: string): EmitEvidence[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const file = path.join(dir, f);
      try {
        return JSON.parse(fs.readFileSync(file, 'utf8')) as EmitEvidence;
      } catch (err) {
        throw new Error(`emit evidence ${file} is not JSON`, { cause: err });
      }
    });
}

/** What is wrong with one record, or null: a record that does not show the program running and rows from it proves nothing. */
export function badEvidence(e: EmitEvidence): string | null {
  const want = EMIT_TESTS[e.collector as CollectorName];
  if (!want) return `evidence for ${JSON.stringify(e.collector)}, which is no known collector`;
  if (e.program !== want.program) return `${e.collector}: evidence names ${e.program}, but its real program is ${want.program}`;
  if (!path.basename(e.exe ?? '').startsWith(want.program)) return `${e.collector}: pid ${e.pid} ran ${e.exe}, not ${want.program}`;
  if (!e.version) return `${e.collector}: no version output from ${e.resolved}`;
  if (!(Number.isInteger(e.pid) && e.pid > 0)) return `${e.collector}: no pid`;
  if (!(e.rows > 0)) return `${e.collector}: ${want.program} (pid ${e.pid}) ran, but the test saw ${e.rows} rows from it`;
  return null;
}

/** How one test file fared in the run, as the check needs it. */
export interface FileOutcome {
  file: string;
  /** Tests in it that were skipped or left todo. */
  skipped: number;
}

/**
 * The check after all test files: each collector whose emit test file ran must
 * have valid evidence. Outside CI a collector whose emit test was skipped (its
 * program absent) is only warned about; under CI, or when nothing was skipped,
 * missing evidence fails.
 */
export function checkEvidence(evidence: EmitEvidence[], ran: FileOutcome[], ci: boolean): { failures: string[]; warnings: string[] } {
  const failures = evidence.map(badEvidence).filter((x): x is string => x !== null);
  const warnings: string[] = [];
  for (const [collector, t] of Object.entries(EMIT_TESTS)) {
    const outcome = ran.find((r) => r.file === t.file);
    if (!outcome) continue; // its emit test was not part of this run
    if (evidence.some((e) => e.collector === collector && badEvidence(e) === null)) continue;
    const why = `${collector}: ${t.file} ran, but no test in it recorded that ${t.program} ran and produced ${collector} rows`;
    if (outcome.skipped > 0 && !ci) warnings.push(`${why} (${outcome.skipped} of its tests skipped here: is ${t.program} installed?)`);
    else failures.push(why);
  }
  return { failures, warnings };
}
