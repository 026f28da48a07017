// The emit tests' side of the tripwire (see emit-evidence.ts): witnessProgram()
// while the real program runs, recordEmitEvidence() once rows from it are seen.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect, inject } from 'vitest';
import type { CollectorName } from '../../src/manifest/schema.js';
import { which } from '../../src/util/which.js';
import { EMIT_TESTS, badEvidence, type EmitEvidence } from './emit-evidence.js';

export type ProgramWitness = Pick<EmitEvidence, 'program' | 'resolved' | 'exe' | 'version' | 'pid' | 'argv'>;

/** What process `pid` is, read from /proc while it runs; throws when it is not `program`. */
export function witnessProgram(program: string, pid: number): ProgramWitness {
  const onPath = which(program);
  if (!onPath) throw new Error(`${program} is not on PATH`);
  const resolved = fs.realpathSync(onPath);
  let exe: string;
  let argv: string[];
  try {
    exe = fs.readlinkSync(`/proc/${pid}/exe`);
    argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').slice(0, -1);
  } catch (err) {
    throw new Error(`pid ${pid} (${program}) is not running`, { cause: err });
  }
  if (!path.basename(exe).startsWith(program)) throw new Error(`pid ${pid} runs ${exe}, not ${program}`);
  const v = spawnSync(resolved, ['--version'], { encoding: 'utf8' });
  const version = `${v.stdout ?? ''}${v.stderr ?? ''}`.trim().split('\n')[0] ?? '';
  if (v.status !== 0 || !version) throw new Error(`${resolved} --version gave no version (exit ${v.status})`);
  return { program, resolved, exe, version, pid, argv };
}

/** Records that `collector`'s rows (`rows` of them, more than 0) came from the witnessed process. */
export function recordEmitEvidence(collector: CollectorName, w: ProgramWitness, rows: number): void {
  const dir = inject('emitEvidenceDir');
  if (!dir) throw new Error('no emit evidence directory: vitest.config.ts must run test/global-setup.ts');
  const state = expect.getState();
  const e: EmitEvidence = { collector, ...w, rows, test: state.currentTestName ?? '', file: state.testPath ?? '' };
  const bad = badEvidence(e);
  if (bad) throw new Error(`not evidence that ${EMIT_TESTS[collector].program} emitted ${collector} rows: ${bad}`);
  fs.writeFileSync(path.join(dir, `${collector}.${w.pid}.${process.pid}.json`), JSON.stringify(e, null, 2));
}
