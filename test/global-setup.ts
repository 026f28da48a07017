// Runs once around the whole test run (vitest globalSetup). Before: makes this
// run's emit evidence directory (keyed by LABTEL_TEST_RUN_ID, which .ci/run
// sets, or a fresh id) and hands it to the tests. After all test files: fails
// the run when a collector's emit test ran without recording that its real
// program ran and produced rows (test/helpers/emit-evidence.ts).
import fs from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import type { RunnerTask } from 'vitest';
import { checkEvidence, evidenceDirOf, readEvidence, type FileOutcome } from './helpers/emit-evidence.js';
import { underCi } from './helpers/programs.js';

/** Tests in a file's task tree that were skipped or left todo. */
function skippedIn(task: RunnerTask): number {
  if (task.type === 'suite') return task.tasks.reduce((n, t) => n + skippedIn(t), 0);
  return task.mode === 'skip' || task.mode === 'todo' || task.result?.state === 'skip' || task.result?.state === 'todo' ? 1 : 0;
}

export default function setup(project: TestProject): () => void {
  const fromCi = process.env.LABTEL_TEST_RUN_ID;
  const dir = evidenceDirOf(fromCi ?? `${process.pid}-${Date.now()}`);
  fs.rmSync(dir, { recursive: true, force: true }); // never evidence of an earlier run
  fs.mkdirSync(dir, { recursive: true });
  project.provide('emitEvidenceDir', dir);

  return () => {
    const root = project.config.root;
    const ran: FileOutcome[] = project.vitest.state.getFiles().map((f) => ({ file: path.relative(root, f.filepath), skipped: skippedIn(f) }));
    const { failures, warnings } = checkEvidence(readEvidence(dir), ran, underCi());
    for (const w of warnings) console.warn(`emit tripwire: ${w}`);
    if (!fromCi) fs.rmSync(dir, { recursive: true, force: true }); // .ci/run reads it again, then removes it
    if (failures.length) throw new Error(`emit tripwire: a collector's emit test did not show its real program emitting rows:\n  ${failures.join('\n  ')}`);
  };
}
