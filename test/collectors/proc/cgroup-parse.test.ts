// The cgroup parsers on crafted file contents (they are pure): what the kernel writes gives numbers, anything else
// gives null with a reason naming the file and the line; a path the target chose is followed only under the mount.
import { describe, expect, it } from 'vitest';
import { parseFlatKeyed, parseMountinfo, parsePressure, parseProcCgroup, parseSingle } from '../../../src/collectors/proc/cgroup-parse.js';
import { cgroupDir, whyAbsent } from '../../../src/collectors/proc/cgroup-path.js';
import { MAX_CGROUP_PROCS, otherProcesses } from '../../../src/collectors/proc/cgroup-loop.js';
import { readCgroup } from '../../../src/collectors/proc/cgroup-read.js';
import fs from 'node:fs';
import path from 'node:path';
import { tmpDir } from '../../helpers/tmp.js';

const PSI = 'some avg10=29.44 avg60=19.77 avg300=10.46 total=16099408931\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n';
const values = (r: ReturnType<typeof parsePressure>) => ('values' in r ? Object.fromEntries(r.values) : r);

describe('cgroup file parsers', () => {
  it('reads the total= of the some and full lines of a pressure file (as this host wrote it)', () => {
    expect(values(parsePressure(PSI, 'cpu.pressure'))).toEqual({ some: 16099408931, full: 0 });
    // A kernel before 5.13 writes no full line for cpu: the full value is absent, not 0.
    expect(values(parsePressure(PSI.split('\n')[0] + '\n', 'cpu.pressure'))).toEqual({ some: 16099408931 });
  });

  it.each([
    ['a line of another form', 'some avg10=1.00 total=5\n', 'malformed /x/cpu.pressure: line 1 is "some avg10=1.00 total=5"'],
    ['a negative total', 'some avg10=0.00 avg60=0.00 avg300=0.00 total=-5\n', 'line 1 is'],
    ['two some lines', 'some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n'.repeat(2), 'malformed /x/cpu.pressure: two "some" lines'],
    ['no newline at the end', PSI.slice(0, -1), 'malformed /x/cpu.pressure: its last line has no newline'],
    ['a trailing blank line', `${PSI}\n`, 'line 3 is ""'],
  ])('refuses a pressure file with %s, naming the file', (_, text, why) => {
    const r = parsePressure(text, '/x/cpu.pressure');
    expect(r).toHaveProperty('why');
    expect((r as { why: string }).why).toContain(why);
  });

  it('refuses a total past 2^53 rather than rounding it', () => {
    const r = parsePressure('some avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551615\n', 'io.pressure');
    expect(values(r)).toEqual({ some: { why: 'total= of the "some" line of io.pressure is 18446744073709551615, past 2^53: not exact as a number' } });
  });

  it('reads a flat keyed file (cpu.stat as this host wrote it) and refuses a malformed or repeated line', () => {
    expect(values(parseFlatKeyed('usage_usec 63620582970\nuser_usec 51547790610\nsystem_usec 12072792359\nnice_usec 552949561\n', 'cpu.stat'))).toEqual({
      usage_usec: 63620582970,
      user_usec: 51547790610,
      system_usec: 12072792359,
      nice_usec: 552949561,
    });
    expect(parseFlatKeyed('usage_usec 1\nnr_throttled x2\n', 'cpu.stat')).toEqual({ values: new Map<string, unknown>([['usage_usec', 1], ['nr_throttled', { why: 'nr_throttled in cpu.stat is "x2", not a decimal count' }]]) });
    expect(parseFlatKeyed('usage_usec 1\nusage_usec 2\n', 'cpu.stat')).toEqual({ why: 'malformed cpu.stat: two "usage_usec" lines' });
    expect(parseFlatKeyed('oom 1 2\n', 'memory.events')).toEqual({ why: 'malformed memory.events: line 1 is "oom 1 2", not "key value"' });
  });

  it('reads memory.current as one number, and nothing else', () => {
    expect(values(parseSingle('123456\n', 'memory.current'))).toEqual({ value: 123456 });
    expect(parseSingle('max\n', 'memory.current')).toEqual({ why: 'malformed memory.current: memory.current is "max", not a decimal count' });
    expect(parseSingle('1\n2\n', 'memory.current')).toEqual({ why: 'malformed memory.current: 2 lines where one number was expected' });
  });
});

describe('/proc/<pid>/cgroup', () => {
  const HYBRID = '9:name=systemd:/\n4:memory:/process_api/5e9e\n1:cpu:/\n0::/labtel-x\n';
  it('gives the path of the 0:: line (hybrid host, v1 lines beside it)', () => {
    expect(parseProcCgroup(HYBRID, 'f', false)).toEqual({ path: '/labtel-x' });
    expect(parseProcCgroup('0::/a:b c\n', 'f', false)).toEqual({ path: '/a:b c' }); // ':' and ' ' are a name's to have
    // Seen from another cgroup namespace: written as given (cgroup-path.ts refuses to follow it).
    expect(parseProcCgroup('0::/../../qemu\n', 'f', false)).toEqual({ path: '/../../qemu' });
  });

  it.each([
    ['no 0:: line (v1 only)', '1:cpu:/\n', false, 'f has no "0::" line'],
    ['two 0:: lines', '0::/a\n0::/b\n', false, 'malformed f: two "0::" lines'],
    ['a line of another form', 'garbage\n0::/a\n', false, 'malformed f: line 1 is "garbage"'],
    ['a relative path', '0::a\n', false, 'malformed f: line 1 is "0::a"'],
    ['no newline at the end', '0::/a', false, 'malformed f: its last line has no newline'],
    ['a read cut before the 0:: line', `1:cpu:/${'x'.repeat(50)}\n0::/partial`, true, 'f is longer than labtel reads of it: cut before its "0::" line'],
  ])('gives no path for %s, saying why', (_, text, cut, why) => {
    const r = parseProcCgroup(text, 'f', cut);
    expect((r as { why: string }).why).toContain(why);
  });

  it('keeps a 0:: line that ended before the cut', () => {
    expect(parseProcCgroup('0::/a\n1:cpu:/xxxx', 'f', true)).toEqual({ path: '/a' });
  });
});

describe('mountinfo', () => {
  it('finds the cgroup2 mount and the v1 controllers (this host: v2 beside v1 at /sys/fs/cgroup/unified)', () => {
    const text = [
      '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
      '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
      '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
      '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
    ].join('\n');
    const m = parseMountinfo(text);
    expect(m.v2).toEqual({ mountPoint: '/sys/fs/cgroup/unified', root: '/' });
    expect(m.v1.get('cpu')).toBe('/sys/fs/cgroup/cpu');
    expect(m.v1.get('memory')).toBe('/sys/fs/cgroup/memory');
  });

  it("prefers a mount of the hierarchy's root, and unescapes mountinfo's octal escapes", () => {
    const text = '50 1 0:38 /sub /mnt/sub rw - cgroup2 cgroup2 rw\n51 1 0:38 / /mnt/cg\\040v2 rw shared:1 - cgroup2 none rw\n';
    expect(parseMountinfo(text).v2).toEqual({ mountPoint: '/mnt/cg v2', root: '/' });
    expect(parseMountinfo('50 1 0:38 /sub /mnt/sub rw - cgroup2 cgroup2 rw\n').v2).toEqual({ mountPoint: '/mnt/sub', root: '/sub' });
    expect(parseMountinfo('1 1 0:1 / / rw - ext4 /dev/sda rw\n').v2).toBeNull();
  });
});

describe('cgroupDir (hostile paths)', () => {
  const mount = { mountPoint: '/sys/fs/cgroup/unified', root: '/' };
  it('follows a path of plain names under the mount, and the root', () => {
    expect(cgroupDir(mount, '/machine.slice/qemu-1.scope', 'f')).toEqual({ dir: '/sys/fs/cgroup/unified/machine.slice/qemu-1.scope' });
    expect(cgroupDir(mount, '/', 'f')).toEqual({ dir: '/sys/fs/cgroup/unified' });
    expect(cgroupDir({ mountPoint: '/mnt/sub', root: '/sub' }, '/sub/a', 'f')).toEqual({ dir: '/mnt/sub/a' });
  });

  it.each([
    ['a path above the namespace root', '/../..', 'f names "/../..", which leaves the cgroup v2 hierarchy labtel sees (a cgroup namespace\'s view, or a forged path): not followed'],
    ['a .. in the middle', '/a/../../etc', 'which leaves the cgroup v2 hierarchy'],
    ['a . name', '/a/./b', 'not a path of plain names'],
    ['an empty name', '/a//b', 'not a path of plain names'],
    ['a trailing slash', '/a/', 'not a path of plain names'],
    ['a NUL', '/a\0b', 'not a path of plain names'],
    ['a removed cgroup', '/a (deleted)', 'f names "/a (deleted)": the cgroup was removed'],
    ['a huge path', `/${'a'.repeat(5000)}`, 'f names a path of 5001 characters, longer than PATH_MAX: not followed'],
  ])('does not follow %s', (_, path, why) => {
    const r = cgroupDir(mount, path, 'f');
    expect(r).toHaveProperty('why');
    expect((r as { why: string }).why).toContain(why);
    expect((r as { why: string }).why.length).toBeLessThan(400); // a huge path is not copied into every row
  });

  it("does not follow any path where labtel's own cgroup namespace hides where its root is (mountinfo root \"/..\")", () => {
    expect(cgroupDir({ mountPoint: '/sys/fs/cgroup', root: '/..' }, '/a', 'f')).toEqual({
      why: 'f names "/a", and labtel is in a cgroup namespace whose root is not the mount\'s (/proc/self/mountinfo shows its root as "/.."): not followed',
    });
  });

  it('does not follow a path outside the subtree a bind mount shows', () => {
    expect(cgroupDir({ mountPoint: '/mnt/sub', root: '/sub' }, '/other', 'f')).toEqual({ why: 'f names "/other", outside the cgroup "/sub" mounted at /mnt/sub: not followed' });
    expect(cgroupDir({ mountPoint: '/mnt/sub', root: '/sub' }, '/subx', 'f')).toHaveProperty('why');
  });
});

describe('whyAbsent', () => {
  const v1 = new Map([['cpu', '/sys/fs/cgroup/cpu']]);
  it('says the controller is not enabled, and where v1 has it', () => {
    expect(whyAbsent('cpu.stat has no nr_throttled', 'cpu', { root: false, controllers: [], v1 })).toBe(
      'cpu.stat has no nr_throttled: the cpu controller is not enabled for this cgroup (its cgroup.controllers is empty); cpu is on cgroup v1 here (/sys/fs/cgroup/cpu), which labtel does not read',
    );
    expect(whyAbsent('memory.current is absent', 'memory', { root: false, controllers: ['hugetlb'], v1 })).toBe('memory.current is absent: the memory controller is not enabled for this cgroup (its cgroup.controllers lists hugetlb)');
  });

  it('says the root cgroup has none, where the controller is on v2', () => {
    expect(whyAbsent('memory.current is absent', 'memory', { root: true, controllers: ['cpu', 'memory'], v1: new Map() })).toBe(
      'memory.current is absent: the root cgroup has no memory controller files (the kernel keeps them for the cgroups below it)',
    );
  });
});

describe('cgroup.procs (other processes in the cgroup)', () => {
  const procs = (text: string) => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'cgroup.procs'), text);
    return dir;
  };

  it('counts the pids other than the target', () => {
    expect(otherProcesses(procs('12\n34\n56\n'), 34)).toBe(2);
    expect(otherProcesses(procs('34\n'), 34)).toBe(0);
    expect(otherProcesses(procs(''), 34)).toBe(0);
  });

  // Regression for: an unbounded read of the root cgroup's cgroup.procs on a busy host.
  it('reads at most 64 KiB and then says "at least N", not a count', () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => String(100_000 + i));
    const r = otherProcesses(procs(`${lines.join('\n')}\n`), 100_000);
    expect(r).toEqual({ why: expect.stringMatching(/^at least 9361 other processes: .*\/cgroup\.procs is longer than 65536 bytes, cut/) });
    expect(MAX_CGROUP_PROCS).toBe(65536);
  });

  it('refuses a line that is not a pid', () => {
    expect(otherProcesses(procs('12\nx\n'), 34)).toEqual({ why: expect.stringContaining('a line is "x", not a pid') });
  });
});

describe('reasons naming a long cgroup directory', () => {
  // Regression for: a 4095-character path chosen by the target quoted in full in each of 18 reasons (84 KB rows).
  it('quote at most 256 characters of it', () => {
    const dir = `/sys/fs/cgroup/unified/${'d'.repeat(250)}/`.repeat(16).slice(0, 4095 + 22);
    const { reasons } = readCgroup(dir, { root: false, v1: new Map() });
    const all = Object.values(reasons);
    expect(all.length).toBe(18);
    for (const why of all) expect(why.length, why).toBeLessThan(400);
    expect(all[0]).toContain(`...(${dir.length - 256} more characters)/cpu.pressure`);
  });
});
