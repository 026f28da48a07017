// A target with many threads: python3 starts `threads` idle threads (64 KiB
// stacks), says "ready", and sleeps; killed after each test of the file that
// started it.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach } from 'vitest';
import { waitFor } from './wait.js';

const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) c.kill('SIGKILL');
});

/** Starts the target and resolves with it once every thread is running. */
export async function threadedTarget(threads: number): Promise<ChildProcess> {
  const target = spawn('python3', ['-c', `
import threading, time
threading.stack_size(65536)
e = threading.Event()
for _ in range(${threads}): threading.Thread(target=e.wait, daemon=True).start()
print('ready', flush=True)
time.sleep(600)`], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(target);
  let out = '';
  target.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(() => out.includes('ready'), "the target's threads");
  return target;
}
