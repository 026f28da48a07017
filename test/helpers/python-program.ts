// A real target written in a few lines of python3 (python3 -c): its stdout
// lines are collected, it is awaited until a line matches, and it is killed
// after each test of the file that started it. stdin is a pipe the test can
// write to.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach } from 'vitest';
import { waitFor } from './wait.js';

const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) c.kill('SIGKILL');
});

/** Starts `code`; resolves once a stdout line matches `until`, with the process and its lines so far (a function). */
export async function pythonProgram(code: string, until: RegExp): Promise<{ child: ChildProcess; lines: () => string[] }> {
  const child = spawn('python3', ['-c', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  started.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const lines = () => out.split('\n').filter((l) => l !== '');
  await waitFor(() => lines().some((l) => until.test(l)), `the program to print ${until}`);
  return { child, lines };
}
