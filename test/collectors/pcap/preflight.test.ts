// A capture that cannot run must refuse the episode with the reason before
// anything is spawned: the field's worst bug was a capture that quietly
// wrote nothing. These need tcpdump (CI installs it) but no test network:
// the loopback interface is enough to be refused on.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { pcapConfig } from '../../../src/collectors/pcap/config.js';
import { pcapPreflight } from '../../../src/collectors/pcap/preflight.js';
import { which } from '../../../src/util/which.js';
import { LABTEL_BIN, ROOT } from '../../helpers/cli.js';
import { has, isRoot } from '../../helpers/programs.js';
import { tmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';
import type { CollectorConfigs } from '../../../src/manifest/schema.js';

const exec = promisify(execFile);

/** `labtel run` for 1 s, as root or as `asUser` (with CAP_NET_RAW as an ambient capability when `netRaw`). */
async function run(collectors: object, asUser?: number, netRaw = false) {
  const dir = tmpDir();
  // The user labtel runs as owns it (an output_dir on a path every user can write is refused).
  if (asUser !== undefined) fs.chownSync(dir, asUser, asUser);
  const manifest = path.join(dir, 'm.json');
  fs.writeFileSync(manifest, JSON.stringify({ output_dir: path.join(dir, 'ep'), duration_s: 1, target: { pid: process.pid }, collectors }));
  const argv = [process.execPath, LABTEL_BIN, 'run', manifest];
  const caps = netRaw ? ['--inh-caps=+net_raw', '--ambient-caps=+net_raw'] : [];
  const cmd = asUser === undefined ? argv : ['setpriv', `--reuid=${asUser}`, `--regid=${asUser}`, '--clear-groups', ...caps, ...argv];
  const r = await exec(cmd[0]!, cmd.slice(1)).then(
    (ok) => ({ code: 0, stderr: ok.stderr }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
  return { ...r, started: fs.existsSync(path.join(dir, 'ep')), dir: path.join(dir, 'ep') };
}

/** pcapPreflight in this process with PATH set to `dirs` (which() reads it at each call). */
function preflightWithPath(dirs: string[], config: object) {
  const saved = process.env.PATH;
  process.env.PATH = dirs.join(':');
  try {
    return pcapPreflight(pcapConfig.parse(config) as CollectorConfigs['pcap']);
  } finally {
    process.env.PATH = saved;
  }
}

/**
 * A stand-in setpriv in `dir` that drops --pdeathsig (as an exec that clears the parent-death signal would) and writes
 * its pid, which tcpdump then has, to `dir`/pid; the real setpriv does the rest.
 */
function setprivWithoutPdeathsig(dir: string): void {
  fs.chmodSync(dir, 0o755); // tcpdump's user runs it from there
  fs.writeFileSync(
    path.join(dir, 'setpriv'),
    `#!/bin/bash\necho $$ > ${dir}/pid\na=(); skip=0\nfor x in "$@"; do if [ "$x" = --pdeathsig ]; then skip=1; elif [ $skip = 1 ]; then skip=0; else a+=("$x"); fi; done\nexec ${which('setpriv')} "\${a[@]}"\n`,
    { mode: 0o755 },
  );
}

/** Resolves once the probe's tcpdump `pid` is gone (or a zombie, or the pid another program's): a SIGKILLed process can take a moment to end on a loaded host. */
async function probeEnded(pid: number): Promise<void> {
  await waitFor(() => {
    try {
      const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
      return s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')) !== 'tcpdump' || s.slice(s.lastIndexOf(')') + 2).startsWith('Z');
    } catch {
      return true; // gone
    }
  }, `the probe's tcpdump (pid ${pid}) to end`);
}

/** A directory holding links to the named programs only (a host without the others). */
function onlyPrograms(names: string[]): string {
  const dir = tmpDir();
  for (const n of names) fs.symlinkSync(which(n)!, path.join(dir, n));
  return dir;
}

describe.skipIf(!has('tcpdump'))('pcap preflight refuses what cannot capture, naming why', () => {
  it('an interface that does not exist', async () => {
    const r = await run({ pcap: { iface: 'nosuch-if0' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('collectors.pcap: cannot run: interface nosuch-if0 does not exist on this host');
    expect(r.started).toBe(false);
  });

  it('a filter tcpdump rejects', async () => {
    const r = await run({ pcap: { iface: 'lo', filter: 'port and or' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/collectors\.pcap: cannot run: tcpdump cannot capture on lo as configured: .*syntax error/);
  });

  it('a bad interface name never reaches tcpdump: the manifest is refused', async () => {
    const r = await run({ pcap: { iface: '-w/etc/x' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('collectors.pcap.iface: expected an interface name (1-15 of A-Z a-z 0-9 _ . -), got "-w/etc/x"');
  });

  it.skipIf(!isRoot())('no privilege to capture (the agent run as nobody)', async () => {
    const r = await run({ pcap: { iface: 'lo' } }, 65534);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'collectors.pcap: cannot run: no privilege to capture on lo: labtel runs as nobody (uid 65534) without CAP_NET_RAW; run it as root, or give it CAP_NET_RAW (systemd: AmbientCapabilities=CAP_NET_RAW), which it hands on to tcpdump',
    );
    expect(r.started).toBe(false);
  });

  // Guards against: the setpriv wrapper (which switches user only when labtel is root) breaking the capture of a
  // labtel that is not root: it hands its own CAP_NET_RAW on as an ambient capability, and tcpdump keeps its user.
  it.skipIf(!isRoot())('labtel run as nobody with CAP_NET_RAW captures (tcpdump as nobody, handed the capability)', async () => {
    const r = await run({ pcap: { iface: 'lo', interval_ms: 200 } }, 65534, true);
    expect(r.stderr).toContain('pcap: preflight: tcpdump at ');
    expect(r.code).toBe(0);
    const summary = JSON.parse(fs.readFileSync(path.join(r.dir, 'summary.json'), 'utf8'));
    expect(summary.collectors.pcap.status).toBe('ok');
  });

  it.skipIf(!isRoot())('collectors.pcap.user names another user while labtel is not root: refused, naming both', async () => {
    const r = await run({ pcap: { iface: 'lo', user: 'tcpdump' } }, 65534, true);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'collectors.pcap: cannot run: collectors.pcap.user tcpdump: tcpdump can be switched to another user only when labtel runs as root (it runs as nobody, uid 65534); leave the key out to capture as nobody',
    );
  });

  it('optional: the episode runs without it, and the reason is recorded', async () => {
    const r = await run({ proc: {}, pcap: { iface: 'nosuch-if0', optional: true } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('pcap: skipped: interface nosuch-if0 does not exist on this host');
  });

  it('netflow without pcap: refused, since live netflow has no packets of its own', async () => {
    const r = await run({ netflow: { guest_ip: '10.200.0.10' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('collectors.netflow: cannot run: it takes its input from collectors.pcap: enable that collector too');
  });

  it('netflow beside a pcap that cannot run: refused with pcap\'s reason', async () => {
    const r = await run({ pcap: { iface: 'nosuch-if0', optional: true }, netflow: {} });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('collectors.netflow: cannot run: it takes its input from collectors.pcap, which cannot run: interface nosuch-if0 does not exist on this host');
  });
});

// The mechanism that ends tcpdump with the agent (setpriv: its user from the start, CAP_NET_RAW ambient,
// the parent-death signal) must be there, or the capture is refused with why: never a tcpdump that could
// outlive a killed agent.
describe.skipIf(!has('tcpdump') || !isRoot())('pcap preflight refuses a capture that could outlive the agent', () => {
  it('without setpriv', () => {
    const r = preflightWithPath([onlyPrograms(['tcpdump', 'getent'])], { iface: 'lo' });
    expect(r.error).toBe('setpriv is not installed (Debian: util-linux); without it tcpdump could outlive the agent');
    expect(r.wrapper).toBeNull();
  });

  // Regression for: a tcpdump given file capabilities (setcap) is exec'd with them, the kernel then clears
  // the parent-death signal (and the ambient set), and it outlives a SIGKILLed agent on an idle link.
  it('a tcpdump with file capabilities', () => {
    const dir = tmpDir();
    const copy = path.join(dir, 'tcpdump');
    fs.copyFileSync(which('tcpdump')!, copy);
    fs.chmodSync(copy, 0o755);
    // security.capability, VFS_CAP_REVISION_2 with the effective flag: CAP_NET_RAW permitted (what `setcap cap_net_raw+ep` writes).
    execFileSync('python3', ['-c', 'import os, struct, sys; os.setxattr(sys.argv[1], "security.capability", struct.pack("<5I", 0x02000001, 1 << 13, 0, 0, 0))', copy]);
    const r = preflightWithPath([dir, ...process.env.PATH!.split(':')], { iface: 'lo' });
    expect(r.error).toBe(
      `${copy} has file capabilities, and an exec that grants them clears the parent-death signal that ends tcpdump with labtel: remove them (setcap -r ${copy}); labtel gives tcpdump CAP_NET_RAW itself`,
    );
  });

  // Regression for: the preflight judged the parent-death signal by a proxy (tcpdump's LSM label against
  // labtel's), which refused every capture on a stock Debian host (its AppArmor profile for tcpdump) and
  // passed any tcpdump whose signal was lost another way. It now tests the mechanism: the thread that
  // started tcpdump ends, and tcpdump must end with it. A setpriv that drops --pdeathsig stands in for an
  // exec that clears the signal (an SELinux domain transition; no LSM runs on this test host); tcpdump is real.
  it('a tcpdump that outlives the thread that started it (its parent-death signal lost): refused, and not left running', async () => {
    const dir = tmpDir();
    setprivWithoutPdeathsig(dir);
    const r = preflightWithPath([dir, ...process.env.PATH!.split(':')], { iface: 'lo' });
    expect(r.error).toMatch(
      new RegExp(
        `^tcpdump as user tcpdump \\(uid \\d+\\) with CAP_NET_RAW alone still ran 2 s after the thread that started it ended: its parent-death signal did not survive the exec of ${which('tcpdump')}, so a tcpdump on an idle link would outlive a killed agent; mark collectors.pcap optional to run without it$`,
      ),
    );
    expect(r.wrapper).toBeNull();
    // The probe's tcpdump (the pid the stand-in became) was killed by the preflight, not left behind. SIGKILL is sent as
    // the probe exits, and a loaded host can take a moment to end the process: it is awaited (a tcpdump never killed
    // would hold the test until its timeout), not read once.
    const pid = Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8'));
    expect(pid).toBeGreaterThan(0);
    await probeEnded(pid);
  });

  // Regression for: the probe's SIGKILL to a tcpdump that outlived its thread failed silently where labtel lacks
  // CAP_KILL (tcpdump runs as another user), leaving the tcpdump running unsaid.
  it('a probe tcpdump that labtel cannot kill (no CAP_KILL): the refusal says it still runs, and its pid', async () => {
    const dir = tmpDir();
    setprivWithoutPdeathsig(dir);
    const script = path.join(dir, 'child.mts');
    fs.writeFileSync(
      script,
      `import { pcapConfig } from ${JSON.stringify(path.join(ROOT, 'src/collectors/pcap/config.ts'))};
import { pcapPreflight } from ${JSON.stringify(path.join(ROOT, 'src/collectors/pcap/preflight.ts'))};
process.env.PATH = ${JSON.stringify(dir)} + ':' + process.env.PATH;
console.log(JSON.stringify({ error: pcapPreflight(pcapConfig.parse({ iface: 'lo' })).error ?? null }));
`,
    );
    const r = spawnSync(which('setpriv')!, ['--bounding-set=-kill', '--inh-caps=-kill', process.execPath, '--import', 'tsx', script], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, TSX_DISABLE_CACHE: '1' },
    });
    expect(r.status, r.stderr).toBe(0);
    const pid = Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8'));
    expect(pid).toBeGreaterThan(0);
    try {
      const { error } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { error: string | null };
      expect(error).toMatch(/still ran 2 s after the thread that started it ended/);
      expect(error).toMatch(new RegExp(`; and the probe's tcpdump \\(pid ${pid}\\) is still running: labtel's SIGKILL to it failed with EPERM \\(signalling another user's process needs CAP_KILL\\)$`));
    } finally {
      // This test's process has CAP_KILL: it ends what the probe could not.
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await probeEnded(pid);
  });

  it('a capture user that does not exist', () => {
    const r = preflightWithPath(process.env.PATH!.split(':'), { iface: 'lo', user: 'labtel_no_such_user' });
    expect(r.error).toBe('user labtel_no_such_user does not exist on this host (collectors.pcap.user names it): set collectors.pcap.user to the unprivileged user tcpdump should capture as');
  });

  it('a capture user with uid 0', () => {
    const r = preflightWithPath(process.env.PATH!.split(':'), { iface: 'lo', user: 'root' });
    expect(r.error).toBe('collectors.pcap.user root is root (uid 0): tcpdump captures as an unprivileged user with CAP_NET_RAW alone, never as root');
  });

  it('as root by default: tcpdump as user tcpdump, through setpriv with CAP_NET_RAW alone and the parent-death signal', () => {
    const r = preflightWithPath(process.env.PATH!.split(':'), { iface: 'lo' });
    expect(r.error).toBeNull();
    const pw = /^tcpdump:[^:]*:(\d+):(\d+):/m.exec(fs.readFileSync('/etc/passwd', 'utf8'))!;
    expect(r.identity).toEqual({ user: 'tcpdump', uid: Number(pw[1]), gid: Number(pw[2]), switchUser: true });
    expect(r.wrapper).toEqual([which('setpriv'), `--reuid=${pw[1]}`, `--regid=${pw[2]}`, '--init-groups', '--inh-caps=-all,+net_raw', '--ambient-caps=-all,+net_raw', '--no-new-privs', '--pdeathsig', 'KILL', '--']);
  });
});
