// labtel check: what run would decide, before anything runs. A collector
// whose preflight fails is refused (or skipped when optional), with why.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { checkManifest } from '../../src/cli/commands/check.js';
import { LABTEL_BIN } from '../helpers/cli.js';
import { startHostileQmp } from '../helpers/hostile-qmp-target.js';
import { tmpDir } from '../helpers/tmp.js';

const exec = promisify(execFile);

async function check(manifest: object, json = false, command = 'check') {
  const file = path.join(tmpDir(), 'm.json');
  fs.writeFileSync(file, JSON.stringify({ output_dir: path.join(tmpDir(), 'ep'), ...manifest }));
  return exec(process.execPath, [LABTEL_BIN, command, file, ...(json ? ['--json'] : [])]).then(
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

  // Regression for: check resolved the target without the qmp collector's socket, and run took the
  // pid from whatever thread QEMU named, so a hostile QMP server pointed labtel at another process.
  it("a QMP server naming another process's thread as its vCPU: check and run refuse, naming both pids", async () => {
    const victim = spawn('sleep', ['60'], { stdio: 'ignore' });
    const q = await startHostileQmp(victim.pid!);
    try {
      const why = `target.qmp_socket: QEMU named thread ${victim.pid} (process ${victim.pid} (${fs.readlinkSync(`/proc/${victim.pid}/exe`)})) as vCPU 0, but the socket ${q.socket} belongs to pid ${q.pid} (${fs.readlinkSync(`/proc/${q.pid}/exe`)}); refusing to watch it`;
      const r = await check({ target: { qmp_socket: q.socket }, collectors: { proc: {} } }, true);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).target).toEqual({ ok: false, pid: null, reason: why });
      const ran = await check({ target: { qmp_socket: q.socket }, collectors: { proc: {} } }, false, 'run');
      expect(ran.code).toBe(2);
      expect(ran.stdout).toContain(why);
      // A pidfile target naming the victim, with the server as the qmp collector's socket: refused the same way by check.
      const pidfile = path.join(tmpDir(), 'qemu.pid');
      fs.writeFileSync(pidfile, `${victim.pid}\n`);
      const byPidfile = await check({ target: { pidfile, executables: ['node'] }, collectors: { proc: {}, qmp: { socket: q.socket } } }, true);
      expect(byPidfile.code).toBe(1);
      expect(JSON.parse(byPidfile.stdout).target.reason).toContain(`target.pidfile: checked against collectors.qmp.socket: QEMU named thread ${victim.pid}`);
      expect(JSON.parse(byPidfile.stdout).target.reason).toContain(`belongs to pid ${q.pid}`);
      expect(q.proc.exitCode).toBeNull(); // the server was refused, not crashed into
    } finally {
      victim.kill('SIGKILL');
    }
  });

  it('a QMP server that names its own thread but is node: refused by check, accepted once target.executables names node', async () => {
    const q = await startHostileQmp('self');
    const r = await check({ target: { qmp_socket: q.socket }, collectors: { proc: {} } }, true);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).target.reason).toContain(`belongs to pid ${q.pid} (${fs.readlinkSync(`/proc/${q.pid}/exe`)}), which does not look like QEMU`);
    const ok = await check({ target: { qmp_socket: q.socket, executables: ['node'] }, collectors: { proc: {} } }, true);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).target).toEqual({ ok: true, pid: q.pid, reason: null });
  });
});

describe('checkManifest, a pid target beside another process\'s QMP socket', () => {
  // regression for: check said "target ok pid N" and nothing else when the qmp collector's socket belonged to another
  // process, so its rows would describe another QEMU than proc's and perf's, said only in episode.json's vcpu_note.
  it('accepts the researcher\'s pid and says whose the QMP socket is', async () => {
    const q = await startHostileQmp('self');
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const file = path.join(tmpDir(), 'm.json');
      fs.writeFileSync(file, JSON.stringify({ output_dir: path.join(tmpDir(), 'ep'), target: { pid: other.pid, executables: ['node'] }, collectors: { proc: {}, qmp: { socket: q.socket } } }));
      const r = await checkManifest(file);
      expect(r.target).toMatchObject({ ok: true, pid: other.pid });
      expect(r.target.note).toContain(`the qmp collector's rows describe pid ${q.pid}, proc and perf watch pid ${other.pid}`);
    } finally {
      other.kill('SIGKILL');
    }
  });
});
