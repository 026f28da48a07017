import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Whether a process lives: a zombie nobody has reaped yet counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat[stat.lastIndexOf(')') + 2]; // after the name, which may hold anything
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * Whether the process is gone within `ms`: QEMU closes its sockets as it
 * exits, so a collector that sees its connection close gives it a moment
 * before calling that a lost connection.
 */
export async function exitsWithin(pid: number, ms: number, signal?: AbortSignal): Promise<boolean> {
  for (let waited = 0; waited < ms && !signal?.aborted; waited += 50) {
    if (!isAlive(pid)) return true;
    await sleep(50);
  }
  return !isAlive(pid);
}
