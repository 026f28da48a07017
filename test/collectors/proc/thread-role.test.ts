// Thread roles from QMP's answers and the names the kernel and QEMU give.
// vhost workers cannot be made on these machines (no vhost-net: no
// /dev/vhost-net, CONFIG_VHOST_NET unset), so that rule is held here to the
// names the kernel gives them ("vhost-<tid of the owner>", kernel/vhost_task.c
// and drivers/vhost/vhost.c), and the rest also against a real QEMU
// (test/collectors/proc/qemu-roles.test.ts).
import { describe, expect, it } from 'vitest';
import { threadRole, type ThreadRoleInput } from '../../../src/collectors/proc/thread-role.js';

const PID = 4000;
const TIDS = new Set([4000, 4001, 4002, 4003, 4004, 4005, 4006]);
const base = (tid: number, comm: string, extra: Partial<ThreadRoleInput> = {}): ThreadRoleInput => ({ pid: PID, tid, comm, vcpu: null, tids: TIDS, userWorker: () => true, ...extra });

describe('threadRole', () => {
  it('takes vCPU first, then the main thread, then iothreads QMP named, whatever QEMU called them (debug-threads=off)', () => {
    const io = { '4003': 'iothread1' };
    const got = [
      threadRole(base(4000, 'qemu-system-x86')),
      threadRole(base(4001, 'qemu-system-x86')),
      threadRole(base(4002, 'qemu-system-x86', { vcpu: 0 })),
      threadRole(base(4003, 'qemu-system-x86', { ioThreads: io })),
      threadRole(base(4000, 'qemu-system-x86', { vcpu: 3 })),
    ];
    expect(got).toEqual(['main', 'other', 'vcpu', 'io', 'vcpu']);
  });

  it("names QEMU's iothreads by their debug-threads names, and only those", () => {
    const names = ['IO iothread1', 'IO mon_iothread', 'IO', 'IOthread', 'io iothread1', ' IO x'];
    const got = names.map((n) => threadRole(base(4004, n)));
    expect(got).toEqual(['io', 'io', 'other', 'other', 'other', 'other']);
  });

  it('names a vhost worker only when the thread it names is one of the process', () => {
    const names = ['vhost-4000', 'vhost-4005', 'vhost-999', 'vhost-04000', 'vhost-', 'vhost-4000x', 'vhost-99999999999'];
    const got = names.map((n) => threadRole(base(4006, n)));
    expect(got).toEqual(['vhost', 'vhost', 'other', 'other', 'other', 'other', 'other']);
  });

  // Regression for: a thread of QEMU's that named itself vhost-<pid> (prctl, or a write to its comm) was counted as
  // the kernel's vhost work; only a thread the kernel made (PF_USER_WORKER) is.
  it('names a vhost worker only when the kernel made it, and asks only of threads with that name', () => {
    let asked = 0;
    const made = (flag: boolean) => () => (asked++, flag);
    expect(threadRole(base(4006, 'vhost-4000', { userWorker: made(false) }))).toBe('other');
    expect(threadRole(base(4006, 'vhost-4000', { userWorker: made(true) }))).toBe('vhost');
    expect(threadRole(base(4006, 'qemu-system-x86', { userWorker: made(true) }))).toBe('other');
    expect(asked).toBe(2);
  });

  it('does not take a hostile iothread map key that is not a thread id of its own', () => {
    const io = JSON.parse('{"__proto__": "x", "constructor": "y"}') as Record<string, string>;
    expect(threadRole(base(4001, 'qemu-system-x86', { ioThreads: io }))).toBe('other');
  });
});
