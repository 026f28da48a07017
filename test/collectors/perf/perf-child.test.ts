// perf's child process without execa: what the run loop reads of it (how it ended,
// the end of its stderr) and how it is stopped must be what execa gave it.
import { describe, expect, it } from 'vitest';
import { PerfChild } from '../../../src/collectors/perf/perf-child.js';

const sh = (script: string) => ['/bin/sh', '-c', script];

describe('PerfChild', () => {
  it('an exit status and stderr without its final newline, stdout readable', async () => {
    const c = new PerfChild(sh('echo out; echo one >&2; echo two >&2; exit 3'), new AbortController().signal);
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d));
    expect(await c.done).toEqual({ signal: undefined, exitCode: 3, stderr: 'one\ntwo' });
    expect(out).toBe('out\n');
  });

  // regression for: the episode's stop must end perf with SIGTERM, and SIGKILL when it ignores that, as execa's cancelSignal and forceKillAfterDelay did.
  it('the abort stops it with SIGTERM, then SIGKILL when it ignores SIGTERM', async () => {
    const ac = new AbortController();
    const polite = new PerfChild(sh('exec sleep 30'), ac.signal);
    const stubborn = new PerfChild(sh("trap '' TERM; while :; do sleep 0.05; done"), ac.signal);
    await new Promise((r) => setTimeout(r, 200));
    ac.abort();
    expect((await polite.done).signal).toBe('SIGTERM');
    expect((await stubborn.done).signal).toBe('SIGKILL');
  });

  it('SIGINT alone is sent as asked, with no SIGKILL after it', async () => {
    const c = new PerfChild(sh("trap 'exit 7' INT; while :; do sleep 0.05; done"), new AbortController().signal);
    await new Promise((r) => setTimeout(r, 200));
    c.kill('SIGINT');
    expect(await c.done).toMatchObject({ signal: undefined, exitCode: 7 });
  });

  // regression for: execa's maxBuffer ended a perf that wrote more than 64 KiB of stderr instead of holding it all.
  it('more than 64 KiB of stderr ends it, and what was kept is reported', async () => {
    const c = new PerfChild(sh('exec yes e >&2'), new AbortController().signal);
    const r = await c.done;
    expect(r.signal).toBe('SIGTERM');
    expect(r.stderr.startsWith('e\ne\n')).toBe(true);
  });

  it('a program that cannot start ends with neither signal nor status', async () => {
    const c = new PerfChild(['/nonexistent/perf'], new AbortController().signal);
    expect(await c.done).toEqual({ signal: undefined, exitCode: undefined, stderr: '' });
  });
});
