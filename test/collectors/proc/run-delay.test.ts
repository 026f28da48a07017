// The process rows' run_delay_ns and run_periods: the kernel's taskstats of the whole thread group (generic
// netlink TASKSTATS_CMD_GET by TGID), read by the native sampler. Checked against what real threads read of their
// own schedstat before they exited, across an exec() from a non-leader thread, without CAP_NET_ADMIN (EPERM, with
// the reason), and as rows of both paths.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLOCK_TS, E_TASKSTATS, F } from '../../../src/collectors/proc/fields.js';
import { taskstatsReason } from '../../../src/collectors/proc/row-text.js';
import { nativeAddon } from '../../../src/native/addon.js';
import { ROOT } from '../../helpers/cli.js';
import { has, isRoot } from '../../helpers/programs.js';
import { nativeSample, procRowsOf } from '../../helpers/proc-rows.js';
import { tmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

const addon = nativeAddon();
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** /proc/<pid>/schedstat: the main thread's own figures (the kernel shows the leader's there, not the group's). */
function leaderSchedstat(pid: number): { runDelayNs: number; runPeriods: number } {
  const [, delay, periods] = fs.readFileSync(`/proc/${pid}/schedstat`, 'latin1').trim().split(' ').map(Number);
  return { runDelayNs: delay!, runPeriods: periods! };
}

/** A python3 program whose stdout lines are collected; resolves once a line matching `until` arrived. */
async function program(code: string, until: RegExp): Promise<{ child: ChildProcess; lines: () => string[] }> {
  const child = spawn('python3', ['-c', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const lines = () => out.split('\n').filter((l) => l !== '');
  await waitFor(() => lines().some((l) => until.test(l)), `the program to print ${until}`);
  return { child, lines };
}

// Each thread sleeps 1 ms 300 times (at least 300 run periods of its own) and reads its own schedstat just before it
// exits; the main thread sleeps throughout.
const THREADS_THEN_IDLE = `
import threading, time
got = []
def work():
    for _ in range(300): time.sleep(0.001)
    with open('/proc/thread-self/schedstat') as f: got.append([int(x) for x in f.read().split()])
ts = [threading.Thread(target=work) for _ in range(3)]
for t in ts: t.start()
for t in ts: t.join()
print('exited', sum(g[1] for g in got), sum(g[2] for g in got), flush=True)
time.sleep(60)`;

describe.runIf(addon && isRoot() && has('python3'))('run_delay_ns, run_periods: taskstats of the thread group', () => {
  // Regression for: the process's figures taken from /proc/<pid>/schedstat (the leader's alone) or from a sum of
  // the live threads, either of which loses what exited threads did (mutation: the leader's figures are ~20
  // periods here, below the exited threads' 900).
  it('counts what threads that have exited did: at least their own last schedstat readings', async () => {
    const { child, lines } = await program(THREADS_THEN_IDLE, /^exited /);
    const [, delay, periods] = lines().find((l) => l.startsWith('exited '))!.split(' ').map(Number);
    expect(periods!).toBeGreaterThanOrEqual(900);
    const { v, err } = nativeSample(child.pid!);
    expect(err[E_TASKSTATS]).toBe(0);
    expect(v[F.run_periods]!).toBeGreaterThanOrEqual(periods!);
    expect(v[F.run_delay_ns]!).toBeGreaterThanOrEqual(delay!);
    // The leader's own figures are far below: the group's are not the leader's.
    expect(leaderSchedstat(child.pid!).runPeriods).toBeLessThan(periods!);
  });

  // Regression for: a per-thread sum fell (or doubled) at an exec() from a non-leader thread, which takes the
  // leader's tid with its own counters; the kernel's figure carries on.
  it('never falls across an exec() from a non-leader thread', async () => {
    const { child, lines } = await program(
      `
import os, sys, threading, time
def work():
    for _ in range(300): time.sleep(0.001)
    print('ready', flush=True)
    sys.stdin.readline()
    os.execv(sys.executable, [sys.executable, '-c', 'import time\\nprint("execed", flush=True)\\ntime.sleep(60)'])
threading.Thread(target=work).start()
while True: time.sleep(1)`,
      /^ready$/,
    );
    const before = nativeSample(child.pid!);
    expect(before.err[E_TASKSTATS]).toBe(0);
    expect(before.v[F.run_periods]!).toBeGreaterThanOrEqual(300);
    child.stdin!.write('\n');
    await waitFor(() => lines().includes('execed'), 'the exec');
    const after = nativeSample(child.pid!);
    expect(after.err[E_TASKSTATS]).toBe(0);
    expect(after.v[F.run_periods]!).toBeGreaterThanOrEqual(before.v[F.run_periods]!);
    expect(after.v[F.run_delay_ns]!).toBeGreaterThanOrEqual(before.v[F.run_delay_ns]!);
  });

  // The kernel answers taskstats only to CAP_NET_ADMIN: without it the rows say so (and the sampler stops asking).
  it.runIf(has('setpriv'))('without CAP_NET_ADMIN: null with EPERM\'s reason, the other fields still read', () => {
    const dir = tmpDir();
    const script = path.join(dir, 'child.mts');
    fs.writeFileSync(
      script,
      `
import { createProcSampler } from ${JSON.stringify(path.join(ROOT, 'src/collectors/proc/sampler.ts'))};
import { E_TASKSTATS, F, PROC_FIELDS, SAMPLE_ERRORS } from ${JSON.stringify(path.join(ROOT, 'src/collectors/proc/fields.ts'))};
import { processRowText } from ${JSON.stringify(path.join(ROOT, 'src/collectors/proc/row-text.ts'))};
const { sampler } = createProcSampler('/proc', process.pid, 4096, 'native');
sampler.open();
const v = new Float64Array(PROC_FIELDS.length), e = new Int32Array(SAMPLE_ERRORS);
const errs = [];
for (let i = 0; i < 3; i++) { sampler.sample(v, e); errs.push(e[E_TASKSTATS]); }
const row = processRowText(process.pid, v[F.starttime], null, null, v, e, '/proc');
console.log(JSON.stringify({ errs, delay: Number.isNaN(v[F.run_delay_ns]) ? null : v[F.run_delay_ns], cpu: v[F.cpu_time_ns], reasons: row.fieldReasons ?? {} }));
`,
    );
    const r = spawnSync('setpriv', ['--bounding-set=-net_admin', '--inh-caps=-net_admin', process.execPath, '--import', 'tsx', script], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout.trim().split('\n').pop()!) as { errs: number[]; delay: number | null; cpu: number; reasons: Record<string, string> };
    expect(got.errs).toEqual([os.constants.errno.EPERM, os.constants.errno.EPERM, os.constants.errno.EPERM]);
    expect(got.delay).toBeNull();
    expect(got.cpu).toBeGreaterThan(0); // the CPU clock needs no capability
    expect(got.reasons.run_delay_ns).toMatch(/^EPERM asking taskstats of pid \d+: the kernel answers only an agent with CAP_NET_ADMIN/);
    expect(got.reasons.run_periods).toBe(got.reasons.run_delay_ns);
    expect(Object.keys(got.reasons).sort()).toEqual(['run_delay_ns', 'run_periods']);
  });

  it('rows on real /proc: numbers that never fall from the native path, null with the exact reason from the TS path', async () => {
    const { child } = await program(THREADS_THEN_IDLE, /^exited /);
    const native = await procRowsOf(child.pid!, 'native', 5);
    const ts = await procRowsOf(child.pid!, 'ts', 5);
    expect(native.length).toBeGreaterThan(1);
    expect(ts.length).toBeGreaterThan(0);
    for (const [i, r] of native.entries()) {
      expect(r.run_periods as number).toBeGreaterThanOrEqual(900);
      expect(typeof r.run_delay_ns).toBe('number');
      if (i > 0) expect(r.run_periods as number).toBeGreaterThanOrEqual(native[i - 1]!.run_periods as number);
    }
    for (const r of ts) {
      expect([r.run_delay_ns, r.run_periods]).toEqual([null, null]);
      const reasons = r.null_reasons as Record<string, string>;
      expect([reasons.run_delay_ns, reasons.run_periods]).toEqual([taskstatsReason(CLOCK_TS, 0, child.pid!), taskstatsReason(CLOCK_TS, 0, child.pid!)]);
    }
    expect(taskstatsReason(CLOCK_TS, 0, 1)).toBe(
      'the pure-TypeScript path cannot ask taskstats (generic netlink needs the native addon); with threads: true, each thread row carries its own run_delay_ns',
    );
  });
});
