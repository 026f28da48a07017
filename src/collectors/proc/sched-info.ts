// Whether this kernel keeps per-thread scheduler statistics. A kernel that
// keeps none (no sched_info: old kernels without schedstats or delay
// accounting) reads "0 0 0" in every task's schedstat; one that keeps them
// reads "0 0 0" only for a thread that has not run yet. The thread asking is
// running, so its own schedstat tells which kernel this is, once.
import fs from 'node:fs';

let keeps: boolean | undefined;

export function kernelKeepsSchedInfo(): boolean {
  if (keeps === undefined) {
    try {
      keeps = fs.readFileSync('/proc/thread-self/schedstat', 'latin1') !== '0 0 0\n';
    } catch {
      keeps = false; // no schedstat at all: every thread's says why (ENOENT)
    }
  }
  return keeps;
}
