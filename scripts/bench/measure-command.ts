// One whole command measured from outside: wall time, CPU time (user +
// system, all its threads) and peak RSS, from python3's os.wait4 rusage of
// that one child (RUSAGE_CHILDREN would add what python's own start-up ran),
// with stdout discarded and the tail of stderr kept for the failure message.
import { spawnSync } from 'node:child_process';

const MEASURE = `
import os, subprocess, sys, time
t = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = p.stderr.read()
_, status, u = os.wait4(p.pid, 0)
w = time.perf_counter() - t
sys.stderr.write(err.decode(errors="replace")[-400:])
print(w, u.ru_maxrss, os.waitstatus_to_exitcode(status), u.ru_utime + u.ru_stime)
`;

export interface CommandRun {
  /** Wall seconds. */
  wall: number;
  /** CPU seconds, user + system. */
  cpu: number;
  /** Peak RSS, KiB. */
  maxrssKiB: number;
  /** Exit status (negative: killed by that signal); NaN when python3 itself failed. */
  code: number;
  /** The last line of the command's stderr. */
  lastError: string;
}

/** `env` is added to this process's environment for the command. */
export function measureCommand(argv: readonly string[], env: NodeJS.ProcessEnv = {}): CommandRun {
  const r = spawnSync('python3', ['-c', MEASURE, ...argv], { encoding: 'utf8', env: { ...process.env, ...env } });
  const [wall, maxrss, code, cpu] = (r.stdout ?? '').trim().split(/\s+/).map(Number);
  return { wall: wall!, cpu: cpu!, maxrssKiB: maxrss!, code: Number.isFinite(wall) ? code! : NaN, lastError: (r.stderr ?? '').trim().split('\n').pop() ?? '' };
}
