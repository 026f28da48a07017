// Every program a test runs or checks for is installed by .ci/run: under CI a
// missing one fails its tests (programs.ts), so a program added to a test and
// not to .ci/run's apt-get line fails here first, naming the package to add.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './cli.js';

/** The Debian package each program comes from; null: there before .ci/run installs anything (Debian base, Node itself). */
const PACKAGE_OF: Record<string, string | null> = {
  'apt-get': null,
  sh: null,
  sleep: null,
  cat: null,
  mkfifo: null,
  node: null,
  npm: null,
  chromium: 'chromium',
  cmake: 'cmake',
  'clang++': 'clang',
  ip: 'iproute2',
  'nats-server': 'nats-server',
  perf: 'linux-perf',
  python3: 'python3',
  'qemu-ga': 'qemu-guest-agent',
  'qemu-system-x86_64': 'qemu-system-x86',
  setpriv: 'util-linux',
  unshare: 'util-linux',
  nsenter: 'util-linux',
  rmdir: null,
  getconf: 'libc-bin',
  tcpdump: 'tcpdump',
  tshark: 'tshark',
  cpio: 'cpio',
  'systemd-analyze': 'systemd',
  virsh: 'libvirt-clients',
  cc: 'g++', // /usr/bin/cc is gcc's alternative; g++ depends on gcc
};

/** A name the tests use on purpose for a program that does not exist. */
const ABSENT = new Set(['labtel-no-such-program']);

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return d.name === 'fixtures' ? [] : files(p);
    return d.name.endsWith('.ts') ? [p] : [];
  });
}

describe('.ci/run installs what the tests need', () => {
  const ci = fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8');
  // Every apt-get install line (libvirt has one of its own, without recommends).
  const aptLines = [...ci.matchAll(/^apt-get install .*$/gm)].map((m) => m[0]);
  const installed = new Set(aptLines.flatMap((l) => l.split(/\s+/)).filter((w) => !w.startsWith('-')));

  // Programs named as the first argument of has(), which(), spawn(), exec...() in any test file or helper (not a method .has() of a Set or Map).
  const used = new Map<string, string>();
  for (const f of files(path.join(ROOT, 'test'))) {
    for (const m of fs.readFileSync(f, 'utf8').matchAll(/(?:(?<![.\w])has|\b(?:which|spawn|spawnSync|execFile|execFileSync|exec))\(\s*'([A-Za-z0-9_.+-]+)'/g)) {
      if (!ABSENT.has(m[1]!) && !used.has(m[1]!)) used.set(m[1]!, path.relative(ROOT, f));
    }
  }
  used.set('setpriv', 'test/collectors/pcap/preflight.test.ts'); // run through an argv array there, and by the perf collector

  it('finds the apt-get line and the programs', () => {
    expect(aptLines.length, '.ci/run has no apt-get install line').toBeGreaterThan(0);
    expect(used.size).toBeGreaterThan(10);
  });

  // Regression for: a test that needs a program .ci/run does not install skipped in silence on CI.
  it('every program a test uses comes from a package on that line (or the base system)', () => {
    expect(used.size).toBeGreaterThan(0);
    const missing = [...used].flatMap(([program, file]) => {
      if (!(program in PACKAGE_OF)) return [`${program} (used in ${file}): unknown here; add it to PACKAGE_OF and its package to .ci/run's apt-get line`];
      const pkg = PACKAGE_OF[program];
      return pkg === null || pkg === undefined || installed.has(pkg) ? [] : [`${program} (used in ${file}): .ci/run must apt-get install ${pkg}`];
    });
    expect(missing).toEqual([]);
  });
});
