// Who tcpdump captures as, and a check that it really starts that way: the
// user (Debian's `tcpdump` by default when labtel is root, else labtel's own
// user), with CAP_NET_RAW alone, and with the parent-death signal that ends
// it with the agent still set (see tcpdump-args.ts for why it is not -Z).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type CaptureIdentity, tcpdumpWrapper } from './tcpdump-args.js';

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

// Runs the wrapper on `tcpdump -r -`, which waits on its stdin; once tcpdump
// is exec'd (its name in /proc), prints its /proc status and kills it. A
// child node, because the preflight is synchronous. Short-lived by
// construction: it gives up after 5 s whatever happens (also when the agent
// was killed meanwhile), and its tcpdump dies with it (the wrapper's signal).
const EXEC_PROBE = `
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const [name, ...argv] = process.argv.slice(1);
const c = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'ignore', 'pipe'] });
let err = '';
c.stderr.on('data', (d) => { if (err.length < 4096) err += d; });
const finish = (r) => { try { c.kill('SIGKILL'); } catch {} process.stdout.write(JSON.stringify(r)); process.exit(0); };
c.once('error', (e) => finish({ error: e.message }));
c.once('exit', (code, signal) => setTimeout(() => finish({ exited: signal || code, stderr: err }), 50));
// The LSM label (AppArmor profile, SELinux context), or null where there is none.
const label = (pid) => { try { return fs.readFileSync('/proc/' + pid + '/attr/current', 'utf8').replace(/\\0/g, '').trim() || null; } catch { return null; } };
const poll = () => {
  let s = '';
  try { s = fs.readFileSync('/proc/' + c.pid + '/status', 'utf8'); } catch {}
  if (/^Name:\\s*(.*)$/m.exec(s)?.[1] === name && !/^State:\\s*Z/m.test(s)) finish({ status: s, label: label(c.pid), ownLabel: label('self') });
  else setTimeout(poll, 2);
};
if (c.pid) poll();
setTimeout(() => finish({ error: 'tcpdump was not running 5 s after it was started' }), 5000).unref();
`;

/**
 * Starts tcpdump through the wrapper as a capture would and reads how it
 * runs: its uid, CAP_NET_RAW effective and nothing else, and CAP_NET_RAW
 * still ambient. The kernel clears the ambient set exactly when an exec
 * grants privileges from the file (file capabilities; a setuid or setgid
 * bit is ignored under no_new_privs), and such an exec also clears the
 * parent-death signal: a tcpdump that lost its ambient capability would
 * outlive a killed agent. So does an exec into another LSM label (AppArmor
 * profile, SELinux domain), which is compared too. null when it runs as it
 * must, else why not.
 */
export function checkTcpdumpExec(setpriv: string, tcpdump: string, id: CaptureIdentity): string | null {
  const argv = [...tcpdumpWrapper(setpriv, id), tcpdump, '-r', '-'];
  const who = describeIdentity(id);
  let r: { status?: string; label?: string | null; ownLabel?: string | null; exited?: string | number; stderr?: string; error?: string };
  try {
    const out = execFileSync(process.execPath, ['-e', EXEC_PROBE, path.basename(tcpdump).slice(0, 15), ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    r = JSON.parse(out);
  } catch (err) {
    return `cannot start tcpdump as ${who}: ${(err as Error).message}`;
  }
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
  // AppArmor and SELinux clear the parent-death signal when an exec moves the process to another label (Debian's
  // tcpdump package ships an AppArmor profile for /usr/bin/tcpdump): refused rather than a tcpdump that could outlive us.
  if (r.label && r.ownLabel && r.label !== r.ownLabel) {
    return `tcpdump runs under the security label "${r.label}" (an AppArmor profile or SELinux domain for ${tcpdump}) and labtel under "${r.ownLabel}": the kernel clears the parent-death signal on that change, so a tcpdump on an idle link would outlive a killed agent; take the profile off tcpdump (AppArmor: aa-disable ${tcpdump}) or mark collectors.pcap optional`;
  }
  const eff = capMask(s, 'CapEff');
  if (eff !== 1n << BigInt(CAP_NET_RAW)) return `tcpdump started with capabilities 0x${eff.toString(16)}, not CAP_NET_RAW alone`;
  return null;
}
