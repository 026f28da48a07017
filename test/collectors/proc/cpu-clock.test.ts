// The process rows' cpu_time_ns: the kernel's CPU clock of the whole process, read by the native sampler
// (clock_getcpuclockid), checked against the kernel's own utime + stime of real processes whose threads
// exited or exec()ed from a non-leader thread, and never another process's clock under a reused pid.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { CLOCK_TS, CLOCK_UNCONFIRMED, E_CLOCK, E_TASKSTATS, F, PROC_FIELDS, SAMPLE_ERRORS } from '../../../src/collectors/proc/fields.js';
import { clockReason, taskstatsReason } from '../../../src/collectors/proc/row-text.js';
import { createProcSampler } from '../../../src/collectors/proc/sampler.js';
import { nativeAddon } from '../../../src/native/addon.js';
import { has, isRoot } from '../../helpers/programs.js';
import { nativeSample, procRowsOf } from '../../helpers/proc-rows.js';
import { pythonProgram } from '../../helpers/python-program.js';
import { waitFor } from '../../helpers/wait.js';

const addon = nativeAddon();
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime + stime of /proc/<pid>/stat in ns (tick resolution): the kernel's figure for the whole process. */
function statCpuNs(pid: number): number {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1e9) / TICK;
}

/** Starts a python3 program that prints one line once its work is done, then idles: its CPU time is still. */
const idleAfterWork = async (code: string): Promise<number> => (await pythonProgram(code, /./)).child.pid!;

describe.runIf(addon && has('python3'))('cpu_time_ns: the kernel CPU clock of the process', () => {
  // Regression for: a sum of the live threads' schedstat lost what exited threads ran (mutation: the leader
  // thread's clock alone reads ~0 here).
  it('counts threads that have exited: equal to stat utime + stime to a tick per thread', async () => {
    const pid = await idleAfterWork(`
import threading, time
def spin():
    t = time.thread_time()
    while time.thread_time() - t < 0.3: pass
ts = [threading.Thread(target=spin) for _ in range(3)]
for t in ts: t.start()
for t in ts: t.join()
print('done', flush=True)
time.sleep(60)`);
    const { v, err } = nativeSample(pid);
    const kernel = statCpuNs(pid);
    expect(err[E_CLOCK]).toBe(0);
    expect(v[F.cpu_time_ns]!).toBeGreaterThanOrEqual(0.9e9); // three threads, 0.3 s each, all exited
    expect(Math.abs(v[F.cpu_time_ns]! - kernel)).toBeLessThanOrEqual((5 * 1e9) / TICK);
  });

  // Regression for: exec() from a non-leader thread gives that thread's counters to the leader's tid, so the
  // per-thread sum counted it twice (the review measured 3.97 s against the kernel's 2.05 s).
  it('survives an exec() from a non-leader thread without counting that thread twice', async () => {
    const pid = await idleAfterWork(`
import os, sys, threading, time
def spin():
    t = time.thread_time()
    while time.thread_time() - t < 1.0: pass
    os.execv(sys.executable, [sys.executable, '-c', 'import time\\nprint("exec", flush=True)\\ntime.sleep(60)'])
threading.Thread(target=spin).start()
while True: time.sleep(1)`);
    const { v, err } = nativeSample(pid);
    const kernel = statCpuNs(pid);
    expect(err[E_CLOCK]).toBe(0);
    expect(v[F.cpu_time_ns]!).toBeGreaterThanOrEqual(0.9e9);
    expect(Math.abs(v[F.cpu_time_ns]! - kernel)).toBeLessThanOrEqual((5 * 1e9) / TICK);
  });

  // Regression for: the clock is named by pid number; a sampler whose process exited, its pid given to another
  // process, must not report that process's clock (mutation: no stat read after the clock -> the newcomer's CPU).
  it.runIf(isRoot())('a pid reused by another process gives null with the reason, never that process\'s clock', async () => {
    const old = spawn('sleep', ['60']);
    children.push(old);
    const pid = old.pid!;
    const { sampler } = createProcSampler('/proc', pid, 4096, 'native');
    expect(sampler.open()).toBe(0);
    old.kill('SIGKILL');
    await new Promise((r) => old.once('exit', r));
    await waitFor(() => !fs.existsSync(`/proc/${pid}`), 'the old process to be reaped');
    // A newcomer under the same pid (ns_last_pid), which burns 0.2 s of CPU then idles.
    let reused: ChildProcess | null = null;
    for (let tries = 0; tries < 50 && !reused; tries++) {
      const c = spawn('python3', ['-c', `
import os, time
with open('/proc/sys/kernel/ns_last_pid', 'w') as f: f.write(str(${pid} - 1))
p = os.fork()
if p == 0:
    t = time.process_time()
    while time.process_time() - t < 0.2: pass
    print('busy', flush=True)
    time.sleep(60)
    os._exit(0)
print(p, flush=True)
os.waitpid(p, 0)`], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(c);
      let out = '';
      c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      await waitFor(() => out.includes('busy') || (out.includes('\n') && !out.startsWith(String(pid))), 'the fork');
      if (out.startsWith(`${pid}\n`)) reused = c;
      else c.kill('SIGKILL');
    }
    expect(reused).not.toBeNull();
    expect(statCpuNs(pid)).toBeGreaterThan(0); // the newcomer has CPU time the old sleep never had
    const v = new Float64Array(PROC_FIELDS.length);
    const err = new Int32Array(SAMPLE_ERRORS);
    sampler.sample(v, err);
    sampler.close();
    expect(v[F.cpu_time_ns]).toBeNaN();
    expect(err[E_CLOCK]).toBe(CLOCK_UNCONFIRMED);
    expect(clockReason(err[E_CLOCK]!, err[0]!, pid)).toMatch(/^stat could not be read after the CPU clock of pid \d+ \(ESRCH\)/);
    // taskstats goes by pid number too: the newcomer's run delay is never given as the old process's.
    expect([v[F.run_delay_ns], v[F.run_periods]]).toEqual([NaN, NaN]);
    expect(err[E_TASKSTATS]).toBe(CLOCK_UNCONFIRMED);
    expect(taskstatsReason(err[E_TASKSTATS]!, err[0]!, pid)).toMatch(/^stat could not be read after the taskstats of pid \d+ \(ESRCH\)/);
  });

  // The one field the two samplers do not share: native's is the kernel's clock, TS's null with the reason.
  it('rows on real /proc: a number from the native path, null with the exact reason from the TS path', async () => {
    const child = spawn('sleep', ['60']);
    children.push(child);
    const native = await procRowsOf(child.pid!, 'native', 3);
    const ts = await procRowsOf(child.pid!, 'ts', 3);
    expect(native.length).toBeGreaterThan(0);
    expect(ts.length).toBeGreaterThan(0);
    for (const r of native) expect(typeof r.cpu_time_ns).toBe('number');
    for (const r of ts) {
      expect(r.cpu_time_ns).toBeNull();
      expect((r.null_reasons as Record<string, string>).cpu_time_ns).toBe(clockReason(CLOCK_TS, 0, child.pid!));
    }
    expect(clockReason(CLOCK_TS, 0, 1)).toBe(
      "the pure-TypeScript path cannot read a process's CPU clock (clock_getcpuclockid needs the native addon); cpu_user_jiffies + cpu_sys_jiffies are the same total at tick resolution",
    );
  });
});
