// scripts/bench/wake-floor.c, the program whose figure BENCHMARKS.md states as one wake-up's CPU: every
// wake-up it counts must be a sleep that ended at its deadline, not a deadline already past when it got there.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const PERIOD_US = 10_000;
const WAKE_UPS = 150;
/** The program is stopped this long mid-run: at least 29 of its 10 ms deadlines pass meanwhile. */
const STOPPED_MS = 300;

function build(): string {
  const bin = path.join(tmpDir(), 'wake-floor');
  const cc = spawnSync('cc', ['-O2', '-o', bin, path.join(ROOT, 'scripts', 'bench', 'wake-floor.c')], { encoding: 'utf8' });
  expect(cc.stderr).toBe('');
  expect(cc.status).toBe(0);
  return bin;
}

const voluntarySwitches = (pid: number): number => {
  const m = /^voluntary_ctxt_switches:\s*(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
};

describe('wake-floor.c counts wake-ups, not deadlines', () => {
  // Regression for: nanosleep and futex counted each deadline of the schedule as a wake-up, also those already
  // past when the loop came back late (a stall, a loaded machine: 3-7% of them here at load 4-5): those return
  // without sleeping, so CPU per "wake-up" came out below the floor and the rate read 1000/s. timerfd alone
  // counted its overruns.
  it.each(['nanosleep', 'futex', 'timerfd'])(`%s, stopped ${STOPPED_MS} ms mid-run: the deadlines it missed are not counted as wake-ups`, async (method) => {
    const bin = build();
    const child = spawn(bin, [method, String(WAKE_UPS), String(PERIOD_US)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // In its loop once it has slept a few times; then stopped while its schedule runs on.
    for (let i = 0; i < 2000 && child.exitCode === null && voluntarySwitches(child.pid!) < 5; i++) await sleep(2);
    expect(child.exitCode, 'the program ended before it could be stopped mid-run').toBeNull();
    process.kill(child.pid!, 'SIGSTOP');
    await sleep(STOPPED_MS);
    process.kill(child.pid!, 'SIGCONT');
    expect(await exited).toBe(0);
    expect(err).toBe('');
    const [cpu, rate, late, missed] = out.trim().split(' ').map(Number);
    expect(Number.isFinite(cpu) && Number.isFinite(late)).toBe(true);
    // The deadlines that passed while it was stopped, bar the one it was sleeping to, are missed, not wake-ups.
    expect(missed).toBeGreaterThanOrEqual(STOPPED_MS / (PERIOD_US / 1000) - 2);
    // WAKE_UPS wake-ups at deadlines k periods apart, with `missed` deadlines skipped among them, cannot come
    // faster than one per period over the WAKE_UPS + missed periods they span.
    expect(rate!).toBeLessThanOrEqual((1e6 / PERIOD_US) * (WAKE_UPS / (WAKE_UPS + missed!)) * 1.01);
  });
});
