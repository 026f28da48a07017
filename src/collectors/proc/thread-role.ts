// What a thread of the target does for the VM, so a report can add up what
// the VM costs by kind of work. QMP's answers come first (they name threads
// whatever QEMU called them, debug-threads=on or off), then the kernel's and
// QEMU's own thread names.
export const THREAD_ROLES = ['vcpu', 'vhost', 'main', 'io', 'other'] as const;
export type ThreadRole = (typeof THREAD_ROLES)[number];

/** QEMU's iothread names with debug-threads=on: "IO <object id>" (its monitor's own is "IO mon_iothread"). */
const IO_NAME = /^IO \S/;
/** The kernel's vhost workers (6.4 and later) run as threads of the process that owns them, named "vhost-<tid of that owner>". */
const VHOST_NAME = /^vhost-([1-9]\d{0,9})$/;
/**
 * PF_USER_WORKER in a task's stat flags: the kernel made it (a vhost worker since Linux 6.4). A thread of QEMU's that
 * names itself vhost-N does not have it, so it cannot pass its cost off as the kernel's.
 */
export const USER_WORKER_FLAG = 0x4000;

export interface ThreadRoleInput {
  pid: number;
  tid: number;
  comm: string;
  /** Its vCPU index when it is one (from QMP or from its name), else null. */
  vcpu: number | null;
  /** Thread ids QMP's query-iothreads named. */
  ioThreads?: Readonly<Record<string, string>>;
  /** Every thread id of the process in this sample: a vhost worker names one of them as its owner. */
  tids: ReadonlySet<number>;
  /** Whether the kernel made the thread (PF_USER_WORKER in its stat flags); asked only of a thread named vhost-N. */
  userWorker: () => number | boolean;
}

export function threadRole(t: ThreadRoleInput): ThreadRole {
  if (t.vcpu !== null) return 'vcpu';
  if (t.tid === t.pid) return 'main';
  if (t.ioThreads && Object.hasOwn(t.ioThreads, String(t.tid))) return 'io';
  if (IO_NAME.test(t.comm)) return 'io';
  const v = VHOST_NAME.exec(t.comm);
  if (v && t.tids.has(Number(v[1])) && t.userWorker()) return 'vhost';
  return 'other';
}
