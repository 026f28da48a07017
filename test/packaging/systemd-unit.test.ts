// The systemd unit template (packaging/systemd/labtel@.service): systemd
// accepts it, and its ExecStart, run the way systemd runs it (no terminal, the
// unit's capability bounding set, no_new_privs, its umask, a working directory
// standing in for /var/lib/labtel), records a whole episode with every
// collector ok, and stops cleanly on the SIGTERM systemd sends it
// (KillMode=mixed), leaving nothing running.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LABTEL_BIN, ROOT } from '../helpers/cli.js';
import { has, isRoot } from '../helpers/programs.js';
import { readJsonl, tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

const UNIT = path.join(ROOT, 'packaging', 'systemd', 'labtel@.service');
const unitText = fs.readFileSync(UNIT, 'utf8');

/** The values of KEY in the unit's [Service] section, in order (comments and other sections left out). */
function serviceValues(key: string): string[] {
  const section = /^\[Service\]$([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(unitText)?.[1] ?? '';
  return section.split('\n').flatMap((l) => (l.startsWith(`${key}=`) ? [l.slice(key.length + 1)] : []));
}
const one = (key: string): string => {
  const v = serviceValues(key);
  if (v.length !== 1) throw new Error(`${UNIT}: expected one ${key}=, found ${v.length}`);
  return v[0]!;
};

/** A copy of the unit whose ExecStart runs this checkout's bin/labtel.js (verify checks that the program exists). */
function unitCopy(edit: (text: string) => string = (t) => t): string {
  const dir = tmpDir('labtel-unit-');
  const file = path.join(dir, 'labtel@.service');
  fs.writeFileSync(file, edit(unitText.replace(/^ExecStart=\/usr\/local\/bin\/labtel /m, `ExecStart=${LABTEL_BIN} `)));
  return file;
}

function verify(file: string): { status: number | null; said: string } {
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  return { status: r.status, said: `${r.stdout}${r.stderr}`.trim() };
}

describe('the unit file', () => {
  it('runs `labtel run /etc/labtel/%i.json` with the stop, restart and capture settings the README describes', () => {
    expect(one('ExecStart')).toBe('/usr/local/bin/labtel run /etc/labtel/%i.json');
    // Regression for: control-group also sends SIGTERM to tcpdump and perf, which the summary then records as errors.
    expect(one('KillMode')).toBe('mixed');
    expect(one('KillSignal')).toBe('SIGTERM');
    expect(one('Restart')).toBe('on-failure');
    expect(one('RestartPreventExitStatus')).toBe('1');
    expect(one('WorkingDirectory')).toBe('/var/lib/labtel');
    expect(one('StateDirectory')).toBe('labtel');
    expect(one('NoNewPrivileges')).toBe('yes');
    // Regression for: a private /tmp hides the QMP and qemu-ga sockets that live there.
    expect(serviceValues('PrivateTmp')).toEqual([]);
    // Node's JIT needs writable and executable memory.
    expect(serviceValues('MemoryDenyWriteExecute')).toEqual([]);
    expect(one('CapabilityBoundingSet').split(' ')).toEqual(expect.arrayContaining(['CAP_NET_RAW', 'CAP_NET_ADMIN', 'CAP_SETUID', 'CAP_SETGID', 'CAP_SYS_PTRACE', 'CAP_KILL', 'CAP_PERFMON']));
  });
});

describe.skipIf(!has('systemd-analyze'))('systemd-analyze verify', () => {
  it('accepts the template and an instance of it, saying nothing', () => {
    const file = unitCopy();
    for (const f of [file, path.join(path.dirname(file), 'labtel@lab1.service')]) {
      expect(verify(f)).toEqual({ status: 0, said: '' });
    }
  });

  // The check above can fail: verify names a bad directive (and exits 0), or a missing program (and exits 1).
  it('names a directive it cannot parse and an ExecStart that does not exist', () => {
    const bad = verify(unitCopy((t) => t.replace(/^KillMode=mixed$/m, 'KillMode=mixes')));
    expect(bad.said).toMatch(/kill mode/i);
    const missing = verify(unitCopy((t) => t.replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/labtel')));
    expect(missing.status).not.toBe(0);
    expect(missing.said).toContain('/nonexistent/labtel');
  });
});

// systemd's PATH for services, and nothing else from the test's environment but the addon's path.
const SERVICE_ENV: NodeJS.ProcessEnv = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  ...(process.env.LABTEL_NATIVE_PATH ? { LABTEL_NATIVE_PATH: process.env.LABTEL_NATIVE_PATH } : {}),
};

/** The ExecStart command line for manifest `manifest`, under the unit's bounding set, no_new_privs and umask, as systemd starts it. */
function startAsService(manifest: string, cwd: string): { child: ChildProcess; out: () => string; err: () => string } {
  const caps = one('CapabilityBoundingSet').split(' ').map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`);
  const nnp = one('NoNewPrivileges') === 'yes' ? ['--no-new-privs'] : [];
  const [, ...args] = one('ExecStart').replace('/etc/labtel/%i.json', manifest).split(' ');
  const argv = ['setpriv', `--bounding-set=-all,${caps.join(',')}`, ...nnp, '--', LABTEL_BIN, ...args];
  // sh sets the umask and execs setpriv, which execs labtel: the pid is labtel's.
  const child = spawn('sh', ['-c', `umask ${one('UMask')} && exec "$@"`, 'sh', ...argv], { cwd, env: SERVICE_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return { child, out: () => out, err: () => err };
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));

/** Every descendant of pid, with its command name, from /proc. */
function descendants(pid: number): Map<number, string> {
  const parent = new Map<number, { ppid: number; comm: string }>();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      parent.set(Number(e), { ppid: Number(stat.slice(close + 2).split(' ')[1]), comm: stat.slice(stat.indexOf('(') + 1, close) });
    } catch {
      // gone meanwhile
    }
  }
  const found = new Map<number, string>();
  let grew = true;
  while (grew) {
    grew = false;
    for (const [p, { ppid, comm }] of parent) {
      if (!found.has(p) && (ppid === pid || found.has(ppid))) {
        found.set(p, comm);
        grew = true;
      }
    }
  }
  return found;
}

/** labtel's descendants (pid → command name) once tcpdump and perf both run under it. */
function captureChildren(pid: number): Promise<Map<number, string>> {
  return waitFor(() => {
    const d = descendants(pid);
    return [...d.values()].includes('tcpdump') && [...d.values()].includes('perf') && d;
  }, 'tcpdump and perf running under labtel');
}

/**
 * A target that wakes 50 times a second, so perf has something to count, and
 * runs as another user (nobody), as QEMU runs as libvirt-qemu: reading its
 * /proc files and counting it takes the unit's CAP_SYS_PTRACE.
 */
function startTarget(): ChildProcess {
  return spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', 'sh', '-c', 'while :; do sleep 0.02; done'], { stdio: 'ignore' });
}

function writeManifest(dir: string, targetPid: number, durationS?: number): string {
  const file = path.join(dir, 'lab1.json');
  const m = {
    output_dir: 'ep',
    ...(durationS ? { duration_s: durationS } : {}),
    target: { pid: targetPid },
    collectors: { proc: {}, perf: {}, pcap: { iface: 'lo' } },
  };
  fs.writeFileSync(file, JSON.stringify(m));
  return file;
}

type Summary = { exit_reason: string; collectors: Record<string, { status: string; errors: unknown[] }> };
const summaryOf = (cwd: string) => JSON.parse(fs.readFileSync(path.join(cwd, 'ep', 'summary.json'), 'utf8')) as Summary;

/** Every collector ok, and no value anywhere left null because the unit's capabilities did not allow reading it. */
function expectAllOk(s: Summary, cwd: string): void {
  const names = Object.keys(s.collectors);
  expect(names.length).toBe(3);
  expect(names.sort()).toEqual(['pcap', 'perf', 'proc']);
  for (const n of names) expect({ n, status: s.collectors[n]!.status, errors: s.collectors[n]!.errors }).toEqual({ n, status: 'ok', errors: [] });
  // Regression for: without CAP_SYS_PTRACE the proc collector stays ok, but the target's io fields are null ("EACCES reading /proc/PID/io").
  const denied: string[] = [];
  for (const n of names) {
    const rows = readJsonl(path.join(cwd, 'ep', `telemetry-${n}.jsonl`));
    expect(rows.length, `telemetry-${n}.jsonl has rows`).toBeGreaterThan(0);
    for (const r of rows) {
      for (const [field, why] of Object.entries((r.null_reasons ?? {}) as Record<string, string>)) {
        if (/EACCES|EPERM|permission|not permitted/i.test(why)) denied.push(`${n}: ${field}: ${why}`);
      }
    }
  }
  expect([...new Set(denied)]).toEqual([]);
}

/** journald keeps what labtel writes as it is: no terminal escapes, no \r progress, whole lines. */
function expectPlain(text: string, what: string): void {
  expect(text, `${what} is empty`).not.toBe('');
  expect(text.includes('\x1b'), `${what} has an ANSI escape`).toBe(false);
  expect(text.includes('\r'), `${what} has a carriage return`).toBe(false);
  expect(text.endsWith('\n'), `${what} ends mid-line`).toBe(true);
}

describe.skipIf(!isRoot() || !has('setpriv') || !has('tcpdump') || !has('perf'))('ExecStart as systemd runs it', () => {
  it('records an episode to its end with proc, perf and pcap ok, in plain lines', async () => {
    const target = startTarget();
    try {
      const cwd = tmpDir('labtel-state-');
      const run = startAsService(writeManifest(cwd, target.pid!, 2), cwd);
      const code = await exited(run.child);
      expect(code, `labtel said:\n${run.err()}`).toBe(0);
      const s = summaryOf(cwd);
      expect(s.exit_reason).toBe('duration');
      expectAllOk(s, cwd);
      expectPlain(run.out(), 'stdout');
      expectPlain(run.err(), 'stderr');
      // Every stderr line is one of labtel's log lines.
      expect(run.err().trimEnd().split('\n').filter((l) => !l.startsWith('labtel: '))).toEqual([]);
      // UMask and labtel's own modes: no access for others.
      expect(fs.statSync(path.join(cwd, 'ep', 'summary.json')).mode & 0o777).toBe(0o640);
    } finally {
      target.kill('SIGKILL');
    }
  });

  it('stops cleanly on the SIGTERM systemd sends labtel (KillMode=mixed), ending tcpdump and perf itself', async () => {
    const target = startTarget();
    try {
      const cwd = tmpDir('labtel-state-');
      const run = startAsService(writeManifest(cwd, target.pid!), cwd);
      const pid = run.child.pid!;
      // Stopped only once each collector has measured something: an episode stopped before that fails the collector, rightly.
      const rows = (c: string) => {
        try {
          return fs.readFileSync(path.join(cwd, 'ep', `telemetry-${c}.jsonl`), 'utf8').split('\n').length - 1;
        } catch {
          return 0;
        }
      };
      await waitFor(() => ['proc', 'perf', 'pcap'].every((c) => rows(c) >= 3), 'three rows from each of proc, perf and pcap');
      const kids = await captureChildren(pid);
      expect(kids.size).toBeGreaterThan(0);
      // KillMode=mixed: SIGTERM to the main process alone; labtel stops its children itself.
      process.kill(pid, 'SIGTERM');
      const code = await exited(run.child);
      expect(code, `labtel said:\n${run.err()}`).toBe(0);
      const s = summaryOf(cwd);
      expect(s.exit_reason).toBe('SIGTERM');
      expectAllOk(s, cwd);
      expectPlain(run.err(), 'stderr');
      await waitFor(() => [...kids.keys()].every((p) => !fs.existsSync(`/proc/${p}`)), `labtel's children ${[...kids].join(', ')} gone`);
    } finally {
      target.kill('SIGKILL');
    }
  });
  // Why KillMode=mixed: under control-group tcpdump and perf get SIGTERM too, and
  // when labtel sees them end before its own SIGTERM (here: for certain, by sending
  // theirs first) the summary records their ends as errors.
  it('records errors when tcpdump and perf are signalled before labtel (what control-group risks)', async () => {
    const target = startTarget();
    try {
      const cwd = tmpDir('labtel-state-');
      const run = startAsService(writeManifest(cwd, target.pid!), cwd);
      const pid = run.child.pid!;
      const kids = await captureChildren(pid);
      expect(kids.size).toBeGreaterThan(0);
      for (const p of kids.keys()) process.kill(p, 'SIGTERM');
      // labtel saw them end when it has started new ones.
      await waitFor(() => {
        const fresh = [...descendants(pid)].filter(([p]) => !kids.has(p)).map(([, comm]) => comm);
        return fresh.includes('tcpdump') && fresh.includes('perf');
      }, 'labtel to restart tcpdump and perf');
      process.kill(pid, 'SIGTERM');
      await exited(run.child);
      const s = summaryOf(cwd);
      expect(s.collectors.perf!.errors.join('\n')).toMatch(/perf killed by SIGTERM/);
      expect(s.collectors.pcap!.errors.join('\n')).toMatch(/tcpdump (killed by SIGTERM|exited with code 0)/);
    } finally {
      target.kill('SIGKILL');
    }
  });
});
