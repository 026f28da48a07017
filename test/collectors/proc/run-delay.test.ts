// The process rows' run_delay_ns and run_periods: the kernel's taskstats of the whole thread group (generic
// netlink TASKSTATS_CMD_GET by TGID), read by the native sampler. Checked against what real threads read of their
// own schedstat before they exited, across an exec() from a non-leader thread, without CAP_NET_ADMIN (EPERM, with
// the reason), and as rows of both paths.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLOCK_TS, E_TASKSTATS, F, PROC_FIELDS, SAMPLE_ERRORS, TASKSTATS_FELL, TASKSTATS_TWICE } from '../../../src/collectors/proc/fields.js';
import { createProcSampler } from '../../../src/collectors/proc/sampler.js';
import { taskstatsReason } from '../../../src/collectors/proc/row-text.js';
import { nativeAddon } from '../../../src/native/addon.js';
import { ROOT } from '../../helpers/cli.js';
import { has, isRoot } from '../../helpers/programs.js';
import { nativeSample, procRowsOf } from '../../helpers/proc-rows.js';
import { pythonProgram } from '../../helpers/python-program.js';
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
    const { child, lines } = await pythonProgram(THREADS_THEN_IDLE, /^exited /);
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
    const { child, lines } = await pythonProgram(
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

  // Regression for: the kernel adds an exiting thread to the group's exited total before it stops counting it as
  // live, so an answer in between counts it twice and the next one falls back. With threads made and joined all the
  // time (as QEMU's worker pool does), the figures written went up by a thread's totals and fell back (90 falls in
  // 20,000 samples of the python target). Now an answer found to count a thread twice is null ('twice'), and one that
  // falls below the figures written is null ('fell': those were too high), the figures starting again from it: a
  // written figure falls only across such a null. Python threads that each run 200 µs are found twice; C threads that
  // run about a microsecond are not, and show as falls.
  it.each([
    ['python3', 'threads of 200 µs'],
    ['cc', 'threads of a microsecond'],
  ] as const)('a target whose threads come and go all the time (%s: %s): written figures fall only across a null saying the one before was too high', async (kind, _what) => {
    let target: { child: ChildProcess };
    if (kind === 'python3') {
      target = await pythonProgram(
        `
import threading, time
def work():
    t = time.thread_time()
    while time.thread_time() - t < 0.0002: pass
def churn():
    while True:
        th = threading.Thread(target=work); th.start(); th.join()
for _ in range(4): threading.Thread(target=churn, daemon=True).start()
print('ready', flush=True)
time.sleep(60)`,
        /^ready$/,
      );
    } else {
      const dir = tmpDir();
      fs.writeFileSync(
        path.join(dir, 'tiny.c'),
        `#include <pthread.h>
#include <stdio.h>
static void* f(void* a) { volatile int x = 0; for (int i = 0; i < 200; i++) x += i; return 0; }
int main(void) {
  printf("ready\\n"); fflush(stdout);
  for (;;) { pthread_t t[4]; for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, f, 0); for (int i = 0; i < 4; i++) pthread_join(t[i], 0); }
}`,
      );
      const cc = spawnSync('cc', ['-O2', '-pthread', '-o', path.join(dir, 'tiny'), path.join(dir, 'tiny.c')], { encoding: 'utf8' });
      expect(cc.status, cc.stderr).toBe(0);
      const child = spawn(path.join(dir, 'tiny'), [], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      await new Promise((r) => child.stdout!.once('data', r));
      target = { child };
    }
    const { sampler } = createProcSampler('/proc', target.child.pid!, 4096, 'native');
    expect(sampler.open()).toBe(0);
    const v = new Float64Array(PROC_FIELDS.length);
    const err = new Int32Array(SAMPLE_ERRORS);
    let written = 0;
    let last: [number, number] | null = null;
    let fellSince = false;
    let fellRun = 0;
    let longestFellRun = 0;
    const unexplained: string[] = [];
    const nulls = new Map<number, number>();
    for (let i = 0; i < 10_000; i++) {
      sampler.sample(v, err);
      if (Number.isNaN(v[F.run_delay_ns]!)) {
        nulls.set(err[E_TASKSTATS]!, (nulls.get(err[E_TASKSTATS]!) ?? 0) + 1);
        if (err[E_TASKSTATS] === TASKSTATS_FELL) (fellSince = true), (longestFellRun = Math.max(longestFellRun, ++fellRun));
        continue;
      }
      const now: [number, number] = [v[F.run_delay_ns]!, v[F.run_periods]!];
      if (last && (now[0] < last[0] || now[1] < last[1]) && !fellSince) unexplained.push(`sample ${i}: ${last.join('/')} -> ${now.join('/')}`);
      last = now;
      fellSince = false;
      fellRun = 0;
      written++;
    }
    sampler.close();
    expect(written).toBeGreaterThan(5_000);
    expect(unexplained).toEqual([]);
    // The figures start again from a fall's answer: not a null for each sample until they pass the spike (a run of
    // 219 before, and for as long as the target stayed quiet).
    expect(longestFellRun).toBeLessThanOrEqual(3);
    expect([...nulls.keys()].filter((k) => k !== TASKSTATS_TWICE && k !== TASKSTATS_FELL)).toEqual([]);
  });

  it('the reasons of those nulls', () => {
    expect(taskstatsReason(TASKSTATS_TWICE, 0, 7)).toMatch(/^taskstats of pid 7 gave more CPU time than the process's CPU clock allows: the kernel counted a thread that was exiting twice/);
    expect(taskstatsReason(TASKSTATS_FELL, 0, 7)).toMatch(/^taskstats of pid 7 gave less than the run delay or run periods last written: that earlier answer counted a thread that was exiting twice, so it was too high; the figures after this row start again from this answer$/);
  });

  // Regression for: the sampler's netlink socket took any message sent to its port, and the sequence numbers were
  // 1, 2, 3...: another process with CAP_NET_ADMIN (a QEMU run with it, for its tap) could send it answers of its own,
  // which were written as the target's figures (run_periods 4242424242). The socket is now connected to the kernel.
  it('another process cannot send the sampler answers: its sends to the socket are refused, the figures stay the kernel\'s', () => {
    const { sampler } = createProcSampler('/proc', process.pid, 4096, 'native');
    expect(sampler.open()).toBe(0);
    const forger = spawnSync('python3', ['-c', `
import os, re, socket, struct, errno
mine = set()
for fd in os.listdir('/proc/${process.pid}/fd'):
    try:
        m = re.match(r'socket:\\[(\\d+)\\]', os.readlink('/proc/${process.pid}/fd/' + fd))
        if m: mine.add(m.group(1))
    except OSError: pass
ports = [int(f[2]) for f in (l.split() for l in open('/proc/net/netlink').read().splitlines()[1:]) if f[1] == '16' and f[-1] in mine]
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)
s.bind((0, 0))
out = []
for port in ports:
    try:
        s.sendto(struct.pack('IHHII', 20, 0x10, 0, 1, 0) + b'\\0' * 4, (port, 0))
        out.append('accepted')
    except OSError as e:
        out.append(errno.errorcode[e.errno])
print(' '.join(out))`], { encoding: 'utf8' });
    expect(forger.status, forger.stderr).toBe(0);
    const answers = forger.stdout.trim().split(' ');
    expect(answers.length).toBeGreaterThan(0); // the sampler's socket was found
    expect(answers).toEqual(answers.map(() => 'ECONNREFUSED'));
    const v = new Float64Array(PROC_FIELDS.length);
    const err = new Int32Array(SAMPLE_ERRORS);
    sampler.sample(v, err);
    sampler.close();
    expect(err[E_TASKSTATS]).toBe(0);
    expect(v[F.run_periods]!).toBeGreaterThan(0);
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
    const { child } = await pythonProgram(THREADS_THEN_IDLE, /^exited /);
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
