// tcpdump's command line, as an argument array (never a shell): capture on
// the interface, each packet written to stdout as it is captured (-U), with
// nanosecond timestamps. The filter goes after `--`, so nothing in it can be
// read as an option.
//
// tcpdump is started through setpriv (tcpdumpWrapper), never with -Z: it runs
// as its unprivileged user from its exec on, with CAP_NET_RAW alone (an
// ambient capability), and keeps the parent-death signal setpriv gives it.
// tcpdump's own privilege drop (-Z, or Debian's default drop to user tcpdump
// when run as root) changes its uid after the signal is set, and the kernel
// then clears the signal: a tcpdump on an idle link outlived a SIGKILLed
// agent (issue 17). Started as a user that is not root, tcpdump drops nothing.
import type { CollectorConfigs } from '../../manifest/schema.js';

type PcapConfig = Pick<CollectorConfigs['pcap'], 'iface' | 'snaplen' | 'filter'>;

/** Who tcpdump runs as: a user switched to (the agent is root), or the agent's own user (it is not). */
export interface CaptureIdentity {
  /** The user's name, as in the manifest or Debian's default. */
  user: string;
  uid: number;
  gid: number;
  /** False: the agent's own user, which setpriv keeps (no --reuid). */
  switchUser: boolean;
}

/** The one capability tcpdump keeps: opening a packet socket. */
export const CAPTURE_CAPS = ['net_raw'] as const;

/**
 * setpriv's argv before tcpdump's: the user (numeric ids and that user's
 * groups), CAP_NET_RAW as its only inheritable and ambient capability (so
 * only it survives the exec), no new privileges through the exec (a setuid
 * bit is ignored), and SIGKILL when the thread that started it dies.
 */
export function tcpdumpWrapper(setpriv: string, id: CaptureIdentity): string[] {
  const caps = `-all,${CAPTURE_CAPS.map((c) => `+${c}`).join(',')}`;
  return [
    setpriv,
    ...(id.switchUser ? [`--reuid=${id.uid}`, `--regid=${id.gid}`, '--init-groups'] : []),
    `--inh-caps=${caps}`,
    `--ambient-caps=${caps}`,
    '--no-new-privs',
    '--pdeathsig',
    'KILL',
    '--',
  ];
}

export function tcpdumpCaptureArgs(c: PcapConfig): string[] {
  return ['-i', c.iface, '-U', '-w', '-', '-s', String(c.snaplen), '--time-stamp-precision', 'nano', ...filter(c)];
}

/** `tcpdump -d`: opens the interface and compiles the filter, then exits without capturing (the preflight). */
export function tcpdumpCheckArgs(c: PcapConfig): string[] {
  return ['-d', '-i', c.iface, '-s', String(c.snaplen), ...filter(c)];
}

const filter = (c: PcapConfig) => (c.filter ? ['--', c.filter] : []);
