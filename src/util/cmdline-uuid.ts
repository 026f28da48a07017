// The -uuid a process was started with (QEMU's command line: libvirt passes
// the domain's uuid to every QEMU it starts), read bounded from /proc.
import { readBounded } from './read-bounded.js';

/** QEMU's command line for a libvirt domain is a few KiB; past this it is not read further (the -uuid is near its start). */
const MAX_CMDLINE = 256 << 10;

/** The value after `-uuid` in the process's command line (lowercased), null when it has none, undefined when it cannot be read. */
export function cmdlineUuid(pid: number, procRoot = '/proc'): string | null | undefined {
  const r = readBounded(`${procRoot}/${pid}/cmdline`, MAX_CMDLINE);
  if ('code' in r) return undefined;
  const argv = r.text.split('\0');
  const i = argv.indexOf('-uuid');
  return i >= 0 && i + 1 < argv.length ? argv[i + 1]!.toLowerCase() : null;
}

/** How a refusal names what the process carries. */
export const describeUuid = (u: string | null | undefined): string =>
  u === undefined ? 'a command line that cannot be read' : u === null ? 'no -uuid in its command line' : `-uuid ${u}`;
