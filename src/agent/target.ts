// Resolves the manifest's target to a live pid before any collector starts.
import fs from 'node:fs';
import type { Manifest } from '../manifest/schema.js';
import type { ResolvedTarget } from '../collectors/types.js';
import { readPidfile } from './pidfile.js';

export class TargetError extends Error {
  override name = 'TargetError';
}

export function resolveTarget(t: Manifest['target'], procRoot = '/proc'): ResolvedTarget {
  let pid: number;
  let pidfile: string | undefined;
  if (t.pid !== undefined) {
    pid = t.pid;
  } else {
    pidfile = t.pidfile!;
    try {
      pid = readPidfile(pidfile).pid;
    } catch (err) {
      throw new TargetError(`target.pidfile: ${(err as Error).message}`, { cause: err });
    }
  }
  if (!fs.existsSync(`${procRoot}/${pid}/stat`)) {
    throw new TargetError(`target: no process with pid ${pid}${pidfile ? ` (from ${pidfile})` : ''}`);
  }
  return pidfile ? { pid, pidfile } : { pid };
}
