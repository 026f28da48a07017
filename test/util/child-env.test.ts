import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnModuleWorker } from '../../src/util/spawn-worker.js';

const SET = { LABTEL_NATS_TOKEN: 'tok-planted-1234', LABTEL_NATS_PASSWORD: 'pw-planted-1234', LABTEL_OTHER: 'kept' };
afterEach(() => {
  for (const k of Object.keys(SET)) delete process.env[k];
});

describe("NATS credentials in labtel's environment", () => {
  // Regression for: LABTEL_NATS_TOKEN and LABTEL_NATS_PASSWORD (read only by the main thread, to connect) went to
  // every collector worker and every program they start: tcpdump runs as its own capture user, which may read
  // its own /proc/<pid>/environ, so a tcpdump taken over by a hostile packet held the NATS credentials.
  it('a collector worker, and what it starts, never sees LABTEL_NATS_*', async () => {
    Object.assign(process.env, SET);
    const w = spawnModuleWorker(import.meta.url, 'fixtures/env-worker', {});
    const [seen] = (await once(w, 'message')) as [string[]];
    await w.terminate();
    // Of the variables this test set (the test runner sets LABTEL_* of its own).
    expect(seen.filter((k) => k in SET)).toEqual(['LABTEL_OTHER']);
  });

  it('a program started from the main thread (tcpdump preflight) never sees them either', async () => {
    Object.assign(process.env, SET);
    const { childEnv } = await import('../../src/util/child-env.js');
    const out = execFileSync(process.execPath, ['-e', 'console.log(Object.keys(process.env).join("\\n"))'], { env: childEnv(), encoding: 'utf8' });
    const names = out.split('\n').filter((k) => k in SET);
    expect(names).toEqual(['LABTEL_OTHER']);
  });
});
