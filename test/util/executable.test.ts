// Which executables look like QEMU, and how target.executables widens that.
import { describe, expect, it } from 'vitest';
import { executableOf, globRegExp, matchesExecutable, QEMU_EXECUTABLES } from '../../src/util/executable.js';

describe('matchesExecutable', () => {
  it("QEMU's names by default, wherever it is installed; nothing else", () => {
    for (const exe of ['/usr/bin/qemu-system-x86_64', '/usr/libexec/qemu-kvm', '/nix/store/abc-qemu-8.2/bin/qemu-system-aarch64']) {
      expect(matchesExecutable(exe, QEMU_EXECUTABLES), exe).toBe(true);
    }
    // regression for: any process was taken as the target, sshd and init included.
    for (const exe of ['/usr/sbin/sshd', '/usr/lib/systemd/systemd', '/usr/bin/node', '/usr/bin/qemu-img', '/tmp/qemu-system-x86_64/sshd']) {
      expect(matchesExecutable(exe, QEMU_EXECUTABLES), exe).toBe(false);
    }
  });

  it('a pattern with a slash matches the whole path; * stays in one component, ** crosses them', () => {
    expect(matchesExecutable('/opt/vm/bin/qemu', ['/opt/vm/bin/*'])).toBe(true);
    expect(matchesExecutable('/opt/vm/bin/sub/qemu', ['/opt/vm/bin/*'])).toBe(false);
    expect(matchesExecutable('/opt/vm/bin/sub/qemu', ['/opt/vm/**'])).toBe(true);
    expect(matchesExecutable('/usr/bin/node', ['no?e'])).toBe(true);
    expect(globRegExp('a.b+(c)').test('a.b+(c)')).toBe(true);
    expect(globRegExp('a.b').test('axb')).toBe(false);
  });

  it('executableOf: the path, without " (deleted)"; null for a kernel thread', () => {
    expect(executableOf(process.pid)).toBe(process.execPath);
    expect(executableOf(2)).toBeNull(); // kthreadd
  });
});
