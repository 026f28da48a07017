// Inputs a root-run agent must not trust: what a target process names itself,
// odd task entries, out-of-range pids, pidfiles, and a zombie target.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { readPidfile } from '../../../src/util/pidfile.js';
import { resolveTarget } from '../../../src/agent/target.js';
import { runLoop } from '../../../src/collectors/proc/run-loop.js';
import { createProcSampler } from '../../../src/collectors/proc/sampler.js';
import { never, readJsonl, tmpDir } from '../../helpers/tmp.js';

const STAT_TAIL = 'S 1 1 1 0 -1 4194560 10 0 0 0 7 3 0 0 20 0 1 0 500 1000000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n';

describe('proc sampler on hostile /proc contents', () => {
  it('reads comm bytes the same way on both paths (non-UTF-8, cut mid-character) and ignores non-canonical task names', () => {
    const root = tmpDir();
    const dir = path.join(root, '4242');
    fs.mkdirSync(path.join(dir, 'task', '4242'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'task', '4243'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'task', '04243'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'task', '99999999999'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'stat'), Buffer.concat([Buffer.from('4242 (qemu'), Buffer.from([0xc3]), Buffer.from(') ' + STAT_TAIL)]));
    fs.writeFileSync(path.join(dir, 'task', '4242', 'stat'), Buffer.concat([Buffer.from('4242 (CPU 0/KVM '), Buffer.from([0xe9, 0xff]), Buffer.from(') ' + STAT_TAIL)]));
    fs.writeFileSync(path.join(dir, 'task', '4243', 'stat'), '4243 (worker) ' + STAT_TAIL);
    fs.writeFileSync(path.join(dir, 'task', '04243', 'stat'), '4243 (dup) ' + STAT_TAIL);
    fs.writeFileSync(path.join(dir, 'task', '99999999999', 'stat'), '1 (big) ' + STAT_TAIL);
    const threadsOf = (kind: 'native' | 'ts') => {
      const { sampler } = createProcSampler(root, 4242, 4096, kind);
      expect(sampler.open()).toBe(0);
      const t = sampler.threads().sort((a, b) => a.tid - b.tid);
      sampler.close();
      return t;
    };
    const native = threadsOf('native');
    expect(native.map((t) => [t.tid, t.comm])).toEqual([[4242, 'CPU 0/KVM \u00e9\u00ff'], [4243, 'worker']]);
    expect(threadsOf('ts')).toEqual(native);
  });

  // Regression for: schedstat read loosely on one path (a sign, a 21st digit, a wrapped 2^64, text after the
  // newline taken as a number), so the two samplers disagreed, or a bad schedstat lost the thread's sample.
  it('reads hostile task/<tid>/schedstat contents the same way on both paths, and never drops the thread', () => {
    const { EBADMSG, EISDIR, ENOENT } = os.constants.errno;
    const hostile: string[] = [
      '', '\n', '1 2 3', '1 2\n', '1 2 3 4\n', '-1 2 3\n', '1 -2 3\n', '+1 2 3\n', '18446744073709551616 2 3\n',
      '1 2 000000000000000000001\n', '123456789012345678901 2 3\n', '1  2 3\n', ' 1 2 3\n', '1 2 3 \n', '1 2 3\n\n',
      '1\t2 3\n', '1 2 3\r\n', '1 2 3\0', '1 2\x003\n', '\0\0\0\0\0\0', '1 2 0x3\n', '1 2 3e2\n',
      '7'.repeat(1 << 20), '7'.repeat(1 << 20) + ' 1 1\n',
    ];
    // [content, cpu_time_ns, run_delay_ns, run_periods]: what a valid line gives, leading zeros included.
    const good: Array<[string, number, number, number]> = [
      ['54920992 10250362 99\n', 54920992, 10250362, 99],
      ['0 0 0\n', 0, 0, 0],
      ['18446744073709551615 9007199254740993 9007199254740995\n', 2 ** 64, 2 ** 53, 2 ** 53 + 4],
      ['007 00000000000000000001 01844674407370955161\n', 7, 1, 1844674407370955161],
    ];
    const root = tmpDir();
    const dir = path.join(root, '4242');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'stat'), '4242 (qemu) ' + STAT_TAIL);
    // One thread per content: tid 5000 + i.
    const contents = [...hostile, ...good.map(([c]) => c)];
    const thread = (tid: number) => {
      fs.mkdirSync(path.join(dir, 'task', String(tid)), { recursive: true });
      fs.writeFileSync(path.join(dir, 'task', String(tid), 'stat'), `${tid} (t${tid}) ` + STAT_TAIL);
      return path.join(dir, 'task', String(tid), 'schedstat');
    };
    contents.forEach((c, i) => fs.writeFileSync(thread(5000 + i), c, 'latin1'));
    thread(4000); // no schedstat: ENOENT
    fs.mkdirSync(thread(4001)); // a schedstat that opens but cannot be read: EISDIR
    const threadsOf = (kind: 'native' | 'ts') => {
      const { sampler } = createProcSampler(root, 4242, 4096, kind);
      expect(sampler.open()).toBe(0);
      const first = sampler.threads().sort((a, b) => a.tid - b.tid);
      const second = sampler.threads().sort((a, b) => a.tid - b.tid); // re-read through the open descriptors
      sampler.close();
      expect(second).toEqual(first);
      return first;
    };
    const native = threadsOf('native');
    expect(threadsOf('ts')).toEqual(native);
    expect(native.map((t) => t.tid)).toEqual([4000, 4001, ...contents.map((_, i) => 5000 + i)]);
    const sched = (t: (typeof native)[number]) => [t.sched_error, t.cpu_time_ns, t.run_delay_ns, t.run_periods];
    expect(native.length).toBeGreaterThan(0);
    for (const t of native) expect([t.error, t.comm, t.cpu_user_jiffies]).toEqual([0, `t${t.tid}`, 7]); // stat read as ever
    expect(native.slice(0, 2).map(sched)).toEqual([[ENOENT, null, null, null], [EISDIR, null, null, null]]);
    expect(native.slice(2, 2 + hostile.length).map(sched)).toEqual(hostile.map(() => [EBADMSG, null, null, null]));
    expect(native.slice(2 + hostile.length).map(sched)).toEqual(good.map(([, a, b, c]) => [0, a, b, c]));
  });

  // Regression for: a thread's schedstat descriptor left open when the thread goes (only its stat one closed),
  // or opened again at every sample.
  it.each(['native', 'ts'] as const)('keeps two descriptors per thread on the %s path and closes both when the thread goes', (kind) => {
    const root = tmpDir();
    const dir = path.join(root, '4242');
    for (const tid of [4242, 4243, 4244]) {
      fs.mkdirSync(path.join(dir, 'task', String(tid)), { recursive: true });
      fs.writeFileSync(path.join(dir, 'task', String(tid), 'stat'), `${tid} (t) ` + STAT_TAIL);
      fs.writeFileSync(path.join(dir, 'task', String(tid), 'schedstat'), '1 2 3\n');
    }
    fs.writeFileSync(path.join(dir, 'stat'), '4242 (qemu) ' + STAT_TAIL);
    const openFds = () => fs.readdirSync('/proc/self/fd').length;
    const { sampler } = createProcSampler(root, 4242, 4096, kind);
    expect(sampler.open()).toBe(0);
    const base = openFds();
    expect(sampler.threads().map((t) => t.run_periods)).toEqual([3, 3, 3]);
    const withThree = openFds();
    expect(sampler.threads()).toHaveLength(3);
    expect(openFds()).toBe(withThree); // the same descriptors, read again
    fs.rmSync(path.join(dir, 'task', '4244'), { recursive: true });
    expect(sampler.threads()).toHaveLength(2);
    const withTwo = openFds();
    sampler.close();
    const closed = openFds();
    // Two per thread; close() also closes the process's stat (its other files do not exist here) and, on the
    // native path, the process and task/ directories.
    expect([withThree - withTwo, withTwo - closed - 1 - (kind === 'native' ? 2 : 0), closed <= base]).toEqual([2, 4, true]);
  });

  it.each(['native', 'ts'] as const)('refuses a pid outside 1..2^31-1 on the %s path instead of wrapping onto another process', (kind) => {
    for (const pid of [0, -1, 2 ** 32 + 1, 1.5]) expect(() => createProcSampler('/proc', pid, 4096, kind)).toThrow(RangeError);
  });

  it('records a zombie target as exited, not as a process with zero memory', async () => {
    // sh starts a short child and execs into a long sleep that never reaps it.
    const sh = spawn('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const pid = await new Promise<number>((resolve) => sh.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
    const out = path.join(tmpDir(), 'rows.jsonl');
    try {
      await runLoop({ pid, outputPath: out, tMonoOriginNs: 0, intervalMs: 20, signal: never() });
    } finally {
      sh.kill();
    }
    const rows = readJsonl(out);
    expect(rows.at(-1)!.process_event).toBe('exited');
    expect(rows.filter((r) => r.state === 'Z')).toEqual([]);
    // Between releasing its memory and becoming a zombie an exiting process really has
    // rss 0; then its address space is gone too. Any other zero would be invented.
    expect(rows.filter((r) => r.rss_bytes === 0 && r.vsize_bytes !== 0)).toEqual([]);
  });
});

describe('pidfile', () => {
  const write = (content: string) => {
    const f = path.join(tmpDir(), 'qemu.pid');
    fs.writeFileSync(f, content);
    return f;
  };

  it('accepts digits and one newline, as QEMU writes it', () => {
    expect(readPidfile(write(`${process.pid}\n`)).pid).toBe(process.pid);
  });

  it.each(['0x1', '1e0', ' +1 ', '0b1', '', '1\n2\n', '99999999999', '0'])('refuses %j instead of reading some pid out of it', (content) => {
    const f = write(content);
    expect(() => readPidfile(f)).toThrow(`${f} does not hold a pid, got ${JSON.stringify(content)}`);
  });

  it('refuses a symlink and a FIFO rather than following or blocking', async () => {
    const dir = tmpDir();
    const link = path.join(dir, 'link.pid');
    fs.symlinkSync('/dev/zero', link);
    expect(() => readPidfile(link)).toThrow(/ELOOP/);
    const fifo = path.join(dir, 'fifo.pid');
    execFileSync('mkfifo', [fifo]);
    await expect(resolveTarget({ pidfile: fifo })).rejects.toThrow(`target.pidfile: ${fifo} is not a regular file`);
  });
});
