// The fields of a host_proc process row, as one string: no intermediate
// objects on a path that may run a thousand times a second. The native batch
// loop (native/core/proc_batch.cc) spells steady rows the same way, byte for
// byte (test/collectors/proc/batch-differential.test.ts).
import os from 'node:os';
import { errnoName } from '../../util/errno.js';
import { E_SCHED, E_SCHED_TID, F, FIELD_FILE, PROC_FIELDS, PROC_FILES, SCHED_NONE } from './fields.js';
import type { ProcProcessRow } from './rows.js';

/** `,"name":` for each field, and the state letter as JSON, prepared once. */
const MEMBER = PROC_FIELDS.map((n) => `,"${n}":`);
const STATE_JSON = Array.from({ length: 256 }, (_, c) => JSON.stringify(String.fromCharCode(c)));

export interface ProcessRowText {
  /** The row's fields, the inside of its JSON object. */
  members: string;
  /** Why each null field is null (not interval_s: that is the caller's); undefined when none is. */
  fieldReasons: Record<string, string> | undefined;
  /** Any field but starttime measured (as verify judges a process row, rows.ts). */
  measured: boolean;
}

export function processRowText(
  pid: number,
  starttime: number | null,
  event: ProcProcessRow['process_event'],
  intervalS: number | null,
  v: Float64Array,
  err: Int32Array,
  procRoot: string,
): ProcessRowText {
  let m = `"pid":${pid},"starttime":${starttime},"process_event":${event === null ? 'null' : `"${event}"`},"interval_s":${intervalS}`;
  let reasons: Record<string, string> | undefined;
  let measured = false;
  for (let i = 0; i < PROC_FIELDS.length; i++) {
    const x = v[i]!;
    if (i !== F.starttime) {
      m += i === F.state ? `,"state":${Number.isNaN(x) ? 'null' : STATE_JSON[x & 0xff]}` : `${MEMBER[i]}${Number.isNaN(x) ? 'null' : x}`;
      if (!Number.isNaN(x)) measured = true;
    }
    if (Number.isNaN(x)) {
      const f = FIELD_FILE[PROC_FIELDS[i]!];
      const e = err[f]!;
      (reasons ??= {})[PROC_FIELDS[i]!] =
        f === E_SCHED ? schedReason(e, err[E_SCHED_TID]!, `${procRoot}/${pid}/task`) : `${e ? `${errnoName(e)} reading` : 'absent or malformed in'} ${procRoot}/${pid}/${PROC_FILES[f]}`;
    }
  }
  return { members: m, fieldReasons: reasons, measured };
}

/** Why the process's scheduler sums are null: errors[E_SCHED] and errors[E_SCHED_TID] of the sample (fields.ts). */
function schedReason(e: number, tid: number, task: string): string {
  if (e === SCHED_NONE) return 'this kernel keeps no scheduler statistics (every task schedstat reads "0 0 0")';
  if (tid !== 0) return `${errnoName(e)} reading ${task}/${tid}/schedstat: a sum without that thread could fall below the last one`;
  if (e === 0) return `absent or malformed in ${task}/*/schedstat`; // not written by either sampler
  return e === os.constants.errno.ESRCH ? `no thread left to read in ${task}` : `${errnoName(e)} reading ${task}`;
}
