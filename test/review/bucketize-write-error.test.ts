// Issue 19 point 2, reviewed: `labtel bucketize FILE -o - | head` (a reader
// that goes away) or any failed write of the rows must end as the pure-TS
// path ends: one message naming the output and exit status 2, not an abort.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateCapture } from '../../scripts/bench/gen-capture.js';
import { LABTEL_BIN } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

/** Runs bucketize with stdout a pipe whose reader is already gone (as after `| head -c 1`). */
function runClosedStdout(file: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [LABTEL_BIN, 'bucketize', file, '-o', '-', '--guest-ip', '10.200.0.10', '--bucket-ms', '1'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    c.stdout.destroy();
    let stderr = '';
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('error', reject);
    c.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

describe('labtel bucketize when its output cannot be written', () => {
  it('stdout closed by its reader: exit 2 and the write error, on the native path as on the pure-TS one', async () => {
    // regression for: runFd's onLines threw (EPIPE from the writer) while the pipeline's read and parse threads were
    // running; the C++ exception unwound run_pipeline past two joinable std::threads and the process aborted
    // ("terminate called without an active exception", SIGABRT, exit 134, a core dump) instead of reporting the error.
    const dir = tmpDir();
    const file = path.join(dir, 'mixed.pcap');
    // ~8 MB: several read chunks, rows (1 ms buckets) handed to JS while the pipeline still reads.
    generateCapture(file, 12_000, { seed: 7 });
    const ts = await runClosedStdout(file, { ...process.env, LABTEL_NATIVE: '0' });
    expect(ts).toEqual({ code: 2, signal: null, stderr: 'labtel: cannot write stdout: EPIPE: broken pipe, write\n' });
    const native = await runClosedStdout(file, { ...process.env, LABTEL_NATIVE: undefined });
    expect(native).toEqual(ts);
  }, 60_000);
});
