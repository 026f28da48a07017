// labtel check: what run would decide, before anything runs. A collector
// whose preflight fails is refused (or skipped when optional), with why.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { LABTEL_BIN } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const exec = promisify(execFile);

async function check(manifest: object, json = false) {
  const file = path.join(tmpDir(), 'm.json');
  fs.writeFileSync(file, JSON.stringify({ output_dir: path.join(tmpDir(), 'ep'), ...manifest }));
  return exec(process.execPath, [LABTEL_BIN, 'check', file, ...(json ? ['--json'] : [])]).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout + e.stderr }),
  );
}

describe('labtel check', () => {
  it('says run would start, with each collector\'s preflight and the target', async () => {
    const r = await check({ target: { pid: process.pid }, collectors: { proc: {} } });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`target       ok       pid ${process.pid}\nproc         run      native sampler\n\nlabtel run would start this episode\n`);
  });

  it('refuses a collector whose preflight fails, and skips it when it is optional', async () => {
    const refused = await check({ target: { pid: process.pid }, collectors: { proc: {}, qmp: { socket: '/nonexistent/qmp.sock' } } });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('qmp          refuse   QMP socket /nonexistent/qmp.sock: ENOENT');
    expect(refused.stdout).toContain('labtel run would refuse this episode');
    const skipped = await check({ target: { pid: process.pid }, collectors: { proc: {}, qmp: { socket: '/nonexistent/qmp.sock', optional: true } } }, true);
    expect(skipped.code).toBe(0);
    expect(JSON.parse(skipped.stdout)).toMatchObject({ ok: true, refusals: [], collectors: { qmp: { decision: 'skip', optional: true, reason: 'QMP socket /nonexistent/qmp.sock: ENOENT' } } });
  });

  it('a target that does not exist: refused, naming it', async () => {
    const r = await check({ target: { pid: 0x3ffffff0 }, collectors: { proc: {} } }, true);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).target).toEqual({ ok: false, pid: null, reason: 'target: no process with pid 1073741808' });
  });

  it('a bad manifest: every bad key named, exit 2', async () => {
    const r = await check({ target: { pid: 1 }, collectors: { proc: { interval_ms: 'fast' } } });
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('collectors.proc.interval_ms: expected a positive integer, got "fast"');
  });
});
