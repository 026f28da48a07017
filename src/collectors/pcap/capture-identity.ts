// Who tcpdump captures as, and a check that it really starts that way: the
// user (Debian's `tcpdump` by default when labtel is root, else labtel's own
// user), with CAP_NET_RAW alone, and ended by the kernel when the thread
// that started it ends (see tcpdump-args.ts for why it is not -Z).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type CaptureIdentity, tcpdumpWrapper } from './tcpdump-args.js';
import { childEnv } from '../../util/child-env.js';

/** The user tcpdump captures as when labtel is root and the manifest names none: the one Debian's package makes (and drops to by default). */
export const DEFAULT_CAPTURE_USER = 'tcpdump';
const CAP_NET_RAW = 13;

/** A capability set's line of /proc/PID/status (CapPrm, CapAmb, ...) as a bit mask; 0n when absent. */
export function capMask(status: string, set: string): bigint {
  const m = new RegExp(`^${set}:\\s*([0-9a-f]+)$`, 'm').exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}
const hasCap = (mask: bigint, cap: number) => ((mask >> BigInt(cap)) & 1n) === 1n;

function passwdEntry(name: string): { uid: number; gid: number } | null {
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('getent is not installed (Debian: libc-bin): the capture user cannot be looked up', { cause: err });
    return null; // exit 2: no such user
  }
  const f = line.trim().split('\n')[0]!.split(':');
  return f.length >= 4 ? { uid: Number(f[2]), gid: Number(f[3]) } : null;
}

/** Who tcpdump will run as, from collectors.pcap.user and labtel's own privileges; or why it cannot capture with them. */
export function captureIdentity(user: string | undefined, iface: string): CaptureIdentity | { error: string } {
  const euid = process.geteuid?.() ?? -1;
  if (euid === 0) {
    const name = user ?? DEFAULT_CAPTURE_USER;
    let pw: { uid: number; gid: number } | null;
    try {
      pw = passwdEntry(name);
    } catch (err) {
      return { error: (err as Error).message };
    }
    if (!pw) {
      const whose = user ? 'collectors.pcap.user names it' : `it is the default, the user Debian's tcpdump package makes`;
      return { error: `user ${name} does not exist on this host (${whose}): set collectors.pcap.user to the unprivileged user tcpdump should capture as` };
    }
    if (pw.uid === 0) return { error: `collectors.pcap.user ${name} is root (uid 0): tcpdump captures as an unprivileged user with CAP_NET_RAW alone, never as root` };
    return { user: name, uid: pw.uid, gid: pw.gid, switchUser: true };
  }
  let own = String(euid);
  try {
    own = os.userInfo().username;
  } catch {
    // a uid without a passwd entry: named by its number
  }
  if (user !== undefined && user !== own) {
    return { error: `collectors.pcap.user ${user}: tcpdump can be switched to another user only when labtel runs as root (it runs as ${own}, uid ${euid}); leave the key out to capture as ${own}` };
  }
  let status = '';
  try {
    status = fs.readFileSync('/proc/self/status', 'utf8');
  } catch {
    // no /proc: no capability either
  }
  if (!hasCap(capMask(status, 'CapPrm'), CAP_NET_RAW)) {
    return {
      error: `no privilege to capture on ${iface}: labtel runs as ${own} (uid ${euid}) without CAP_NET_RAW; run it as root, or give it CAP_NET_RAW (systemd: AmbientCapabilities=CAP_NET_RAW), which it hands on to tcpdump`,
    };
  }
  return { user: own, uid: euid, gid: process.getegid?.() ?? -1, switchUser: false };
}

export const describeIdentity = (id: CaptureIdentity): string => `user ${id.user} (uid ${id.uid}) with CAP_NET_RAW alone`;

// The exec probe, a child node because the preflight is synchronous. A
// worker thread starts the wrapper on `tcpdump -r -` as a capture's worker
// would (its stdin a FIFO this process holds open, so it waits and never
// sees an end of file) and sends tcpdump's /proc status once tcpdump is
// exec'd; the thread is then ended. The parent-death signal must then end
// tcpdump (a zombie of this process then, reparented here): polled in /proc
// for up to 2 s; one that survives is killed here and reported. This tests
// the exact mechanism, whatever clears the signal (a uid change, file
// capabilities, an LSM transition). Short-lived by construction: it gives up
// after 5 s whatever happens (also when the agent was killed meanwhile), and
// kills the tcpdump it started when that was not done already.
const EXEC_PROBE_WORKER = `
const { parentPort, workerData: { name, argv, fd } } = require('node:worker_threads');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
let said = false;
const done = (m) => { if (!said) parentPort.postMessage(m); said = true; }; // the probe then ends this thread
const c = spawn(argv[0], argv.slice(1), { stdio: [fd, 'ignore', 'pipe'], detached: true });
let err = '';
c.stderr.on('data', (d) => { if (err.length < 4096) err += d; });
c.once('error', (e) => done({ error: e.message }));
c.once('exit', (code, signal) => setTimeout(() => done({ exited: signal || code, stderr: err }), 50));
const label = (p) => { try { return fs.readFileSync('/proc/' + p + '/attr/current', 'utf8').replace(/\\0/g, '').trim() || null; } catch { return null; } };
const started = performance.now();
const poll = () => {
  let s = '';
  try { s = fs.readFileSync('/proc/' + c.pid + '/status', 'utf8'); } catch {}
  if (/^Name:\\s*(.*)$/m.exec(s)?.[1] === name && !/^State:\\s*Z/m.test(s)) done({ status: s, label: label(c.pid), ownLabel: label('self') });
  else if (performance.now() - started > 3000) done({ error: 'tcpdump was not running 3 s after it was started' });
  else setTimeout(poll, 2);
};
if (c.pid) { parentPort.postMessage({ pid: c.pid }); poll(); }
`;
const EXEC_PROBE = `
const WORKER = ${JSON.stringify(EXEC_PROBE_WORKER)};
const { Worker } = require('node:worker_threads');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const [name, ...argv] = process.argv.slice(1);
const t0 = performance.now();
let pid = null;
let r = {};
const finish = (x) => { let notKilled; if (pid !== null) { try { process.kill(pid, 'SIGKILL'); } catch (e) { notKilled = { pid, code: e.code || String(e) }; } } process.stdout.write(JSON.stringify({ ...r, ...x, ...(notKilled ? { notKilled } : {}), probeMs: Math.round(performance.now() - t0) })); process.exit(0); };
setTimeout(() => finish({ error: 'the probe did not finish within 5 s' }), 5000).unref();
let fd;
try {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-probe-'));
  try {
    execFileSync('mkfifo', ['-m', '600', path.join(dir, 'in')]);
    fd = fs.openSync(path.join(dir, 'in'), 'r+'); // read-write: a writer stays for as long as this process
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
} catch (e) { finish({ error: 'cannot make a FIFO for its input: ' + e.message }); }
const w = new Worker(WORKER, { eval: true, workerData: { name, argv, fd } });
w.on('message', (m) => {
  if (m.pid !== undefined) pid = m.pid;
  else if (m.status !== undefined) { r = m; w.terminate(); } // the thread that started tcpdump ends, as a capture's worker does
  else { if (m.exited !== undefined) pid = null; finish(m); } // reaped: its pid is no longer ours to kill
});
w.on('error', (e) => finish({ error: e.message }));
const dead = () => { try { const s = fs.readFileSync('/proc/' + pid + '/stat', 'latin1'); return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3) === 'Z'; } catch { return true; } };
w.on('exit', () => {
  if (r.status === undefined || pid === null) return finish({ error: 'the probe thread ended before tcpdump ran' });
  const ended = performance.now();
  const poll = () => {
    if (dead()) { const goneMs = Math.round(performance.now() - ended); pid = null; return finish({ goneMs }); }
    if (performance.now() - ended > 2000) return finish({ survived: true });
    setTimeout(poll, 2);
  };
  poll();
});
`;

/**
 * Starts tcpdump through the wrapper as a capture would (EXEC_PROBE) and
 * reads how it runs: its uid, CAP_NET_RAW effective and nothing else,
 * CAP_NET_RAW still ambient (the kernel clears the ambient set exactly when
 * an exec grants privileges from the file: named, as it is a known cause),
 * and that it ends when the thread that started it ends. null when it runs
 * as it must, else why not.
 */
export function checkTcpdumpExec(setpriv: string, tcpdump: string, id: CaptureIdentity): string | null {
  const seen: ProbeEnd = {};
  const why = probeTcpdumpExec(setpriv, tcpdump, id, seen);
  if (why === null || !seen.notKilled) return why;
  // The probe's tcpdump runs as another user: a SIGKILL to it needs CAP_KILL, and one that failed leaves it running.
  return `${why}; and the probe's tcpdump (pid ${seen.notKilled.pid}) is still running: labtel's SIGKILL to it failed with ${seen.notKilled.code} (signalling another user's process needs CAP_KILL)`;
}

/** How the probe ended its tcpdump: notKilled when the SIGKILL it sent failed (the tcpdump may still run). */
interface ProbeEnd {
  notKilled?: { pid: number; code: string };
}

function probeTcpdumpExec(setpriv: string, tcpdump: string, id: CaptureIdentity, seen: ProbeEnd): string | null {
  const argv = [...tcpdumpWrapper(setpriv, id), tcpdump, '-r', '-'];
  const who = describeIdentity(id);
  let r: { status?: string; label?: string | null; ownLabel?: string | null; exited?: string | number; stderr?: string; error?: string; survived?: boolean; goneMs?: number; probeMs?: number; notKilled?: { pid: number; code: string } };
  try {
    const out = execFileSync(process.execPath, ['-e', EXEC_PROBE, path.basename(tcpdump).slice(0, 15), ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000, env: childEnv() });
    r = JSON.parse(out);
  } catch (err) {
    return `cannot start tcpdump as ${who}: ${(err as Error).message}`;
  }
  if (r.notKilled) seen.notKilled = r.notKilled;
  if (r.status === undefined) {
    const said = (r.error ?? r.stderr ?? '').trim().split('\n').slice(0, 2).join(' ');
    const old = /unrecognized option|invalid option/.test(said) ? ' (setpriv from util-linux 2.33 or later is needed, for --ambient-caps and --pdeathsig)' : '';
    return `cannot start tcpdump as ${who}: ${said || `it ended at once (${r.exited})`}${old}`;
  }
  const s = r.status;
  const uids = /^Uid:\s*(.*)$/m.exec(s)?.[1]?.trim().split(/\s+/).map(Number) ?? [];
  if (uids.length === 0 || uids.some((u) => u !== id.uid)) return `tcpdump started as uid ${uids.join('/')}, not as ${who}`;
  if (!hasCap(capMask(s, 'CapAmb'), CAP_NET_RAW)) {
    return `${tcpdump} has file capabilities, and an exec that grants them clears the parent-death signal that ends tcpdump with labtel: remove them (setcap -r ${tcpdump}); labtel gives tcpdump CAP_NET_RAW itself`;
  }
  if (r.survived || r.goneMs === undefined) {
    // A hint, not the test: an LSM label of tcpdump's own is the likely cause (an SELinux domain transition without noatsecure).
    const label = r.label && r.ownLabel && r.label !== r.ownLabel ? ` (it runs under the security label "${r.label}", labtel under "${r.ownLabel}": an exec into that label may clear the signal)` : '';
    return r.survived
      ? `tcpdump as ${who} still ran 2 s after the thread that started it ended: its parent-death signal did not survive the exec of ${tcpdump}${label}, so a tcpdump on an idle link would outlive a killed agent; mark collectors.pcap optional to run without it`
      : `cannot tell whether tcpdump as ${who} ends with the thread that started it: ${r.error ?? 'no answer'}`;
  }
  const eff = capMask(s, 'CapEff');
  if (eff !== 1n << BigInt(CAP_NET_RAW)) return `tcpdump started with capabilities 0x${eff.toString(16)}, not CAP_NET_RAW alone`;
  return null;
}
