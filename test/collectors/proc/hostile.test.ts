// Inputs a root-run agent must not trust: what a target process names itself,
// odd task entries, out-of-range pids, pidfiles, and a zombie target.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
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
