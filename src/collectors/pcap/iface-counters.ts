// The captured interface's own counters, read for each pcap interval row,
// and its ifindex. Both come from /proc/self/net, which always shows the
// agent's own network namespace: the one it runs tcpdump in. (/sys/class/net
// shows the namespace sysfs was mounted in: under `nsenter --net` without a
// remount it is the host's, where an interface of the same name is another
// interface.) The counters are the interface's line of /proc/self/net/dev
// (cumulative since the interface was created); the ifindex is the ifIndex
// line of /proc/self/net/dev_snmp6/<iface> (every interface with IPv6 state,
// down or up), else the interface's entry in /proc/self/net/igmp (every
// interface that is up with IPv4 state). The ifindex is read before and
// after the counters: a name deleted and created again is another interface
// whose counters started over, and a reader must never subtract across the
// change. Every read is bounded (src/util/read-bounded.ts), never through a
// symlink at the file, and never on a name IFACE_NAME did not pass. For the
// rows, dev and dev_snmp6/<iface> are kept open (IfaceFiles) and read again
// from offset 0: one pread each instead of an open, reads and a close.
import { type Bounded, readBounded } from '../../util/read-bounded.js';
import { KeptFile } from '../../util/kept-file.js';
import { IFACE_NAME } from './iface-name.js';

/** The counters read, as the row names them (if_<name>), in the row's order. */
export const IF_COUNTERS = ['rx_packets', 'tx_packets', 'rx_bytes', 'tx_bytes', 'rx_dropped', 'tx_dropped', 'rx_errors', 'tx_errors'] as const;
export type IfCounter = (typeof IF_COUNTERS)[number];

export type IfaceReading =
  | {
      /** null when neither dev_snmp6 nor igmp lists the interface (ifindexWhy says so): its counters are then not to be differenced. */
      ifindex: number | null;
      ifindexWhy?: string;
      values: Record<IfCounter, number | null>;
      /** Why a counter is null (not a number). */
      reasons: Partial<Record<IfCounter, string>>;
    }
  | { why: string };

/** /proc/self/net/dev and igmp can be long on a host with many interfaces: read at most this much of them. */
export const MAX_PROC_BYTES = 4 << 20;
/** dev_snmp6/<iface>'s ifIndex is its first line. */
const SNMP6_HEAD = 64;

const why = (file: string, code: string) => (code === 'ENOENT' ? `${file} does not exist` : `cannot read ${file}: ${code}`);

/** A decimal counter as the kernel prints it, or null (not digits, or past 2^53). */
const counterOf = (s: string | undefined): number | null => {
  if (s === undefined || !/^\d{1,20}$/.test(s)) return null;
  const v = Number(s);
  return Number.isSafeInteger(v) ? v : null;
};

// /proc/net/dev's columns after "name:": rx bytes packets errs drop fifo frame compressed multicast, tx bytes packets errs drop ...
const DEV_COLUMN: Record<IfCounter, number> = { rx_bytes: 0, rx_packets: 1, rx_errors: 2, rx_dropped: 3, tx_bytes: 8, tx_packets: 9, tx_errors: 10, tx_dropped: 11 };

/**
 * The files of /proc/self/net read for each row, kept open between rows: dev (the namespace's, fixed at open: the
 * agent never changes its network namespace, and tcpdump, its child, is in the same) and dev_snmp6/<iface> (the
 * device's own entry: a read fails once the device is gone or renamed, and KeptFile then opens the name again).
 */
export class IfaceFiles {
  readonly dev: KeptFile;
  readonly snmp6: KeptFile;

  constructor(iface: string, procNet = '/proc/self/net') {
    this.dev = new KeptFile(`${procNet}/dev`);
    this.snmp6 = new KeptFile(`${procNet}/dev_snmp6/${iface}`);
  }

  close(): void {
    this.dev.close();
    this.snmp6.close();
  }
}

/** The interface's line of /proc/<self>/net/dev (read through `kept` when given: its descriptor of that file), as counters, or why there is none. */
function readDev(iface: string, procNet: string, kept?: KeptFile): { values: Record<IfCounter, number | null>; reasons: Partial<Record<IfCounter, string>> } | { why: string } {
  const file = `${procNet}/dev`;
  const read = kept ? kept.read(MAX_PROC_BYTES) : readBounded(file, MAX_PROC_BYTES);
  if ('code' in read) return { why: why(file, read.code) };
  const lines = read.text.split('\n');
  if (read.cut) lines.pop(); // the line the bound cut is not whole
  const line = lines.find((l) => l.slice(0, l.indexOf(':')).trim() === iface && l.indexOf(':') > 0);
  if (line === undefined) {
    return { why: read.cut ? `interface ${iface} is not in the first ${MAX_PROC_BYTES} bytes of ${file} (read no further)` : `interface ${iface} does not exist (gone)` };
  }
  const cols = line.slice(line.indexOf(':') + 1).trim().split(/\s+/);
  const values = {} as Record<IfCounter, number | null>;
  const reasons: Partial<Record<IfCounter, string>> = {};
  for (const c of IF_COUNTERS) {
    values[c] = counterOf(cols[DEV_COLUMN[c]]);
    if (values[c] === null) reasons[c] = `${file}: ${iface}'s column ${DEV_COLUMN[c] + 1} is not a counter, got ${JSON.stringify((cols[DEV_COLUMN[c]] ?? '(missing)').slice(0, 32))}`;
  }
  return { values, reasons };
}

/** The interface's ifindex in this network namespace, or why it is not known. */
export function readIfindex(iface: string, procNet = '/proc/self/net', kept?: KeptFile): number | { why: string } {
  const snmp6 = `${procNet}/dev_snmp6/${iface}`;
  const head = kept ? kept.read(SNMP6_HEAD) : readBounded(snmp6, SNMP6_HEAD);
  if ('code' in head) {
    if (head.code !== 'ENOENT') return { why: why(snmp6, head.code) };
  } else {
    const m = /^ifIndex\s+(\d{1,10})\n/.exec(head.text);
    const v = m ? Number(m[1]) : NaN;
    if (Number.isSafeInteger(v) && v > 0) return v;
  }
  // No IPv6 state (a kernel without IPv6, an MTU under 1280): igmp lists every interface that is up with IPv4 state, "<idx>\t<name> : ...".
  const igmp = `${procNet}/igmp`;
  const read: Bounded = readBounded(igmp, MAX_PROC_BYTES);
  if ('code' in read) return { why: `${snmp6} does not exist, and ${why(igmp, read.code)}` };
  for (const line of read.text.split('\n')) {
    const m = /^(\d{1,10})\t(\S{1,15})\s*:/.exec(line);
    if (m && m[2] === iface && Number(m[1]) > 0) return Number(m[1]);
  }
  return { why: `neither ${snmp6} nor ${igmp}${read.cut ? ` (its first ${MAX_PROC_BYTES} bytes)` : ''} lists interface ${iface} (no IPv6 state, and down or without IPv4 state): its counters cannot be told from another interface's under the name` };
}

/**
 * The counters of `iface` now, or why there are none: the capture is on 'any', the name is not an
 * interface name, the interface is gone, or it was re-created while read. `procNet`: /proc/self/net (tests); `files`:
 * its files for `iface`, kept open across rows (a read each instead of an open, reads and a close).
 */
export function readIfaceCounters(iface: string, procNet = '/proc/self/net', files?: IfaceFiles): IfaceReading {
  if (iface === 'any') return { why: "the capture is on 'any' (every interface): there is no one interface's counters" };
  if (!IFACE_NAME.test(iface)) return { why: `${JSON.stringify(iface)} is not an interface name` };
  const before = readIfindex(iface, procNet, files?.snmp6);
  const counters = readDev(iface, procNet, files?.dev);
  if ('why' in counters) return counters;
  const after = readIfindex(iface, procNet, files?.snmp6);
  if (typeof before === 'number' && typeof after === 'number') {
    if (after !== before) return { why: `interface ${iface} was deleted and created again while its counters were read (ifindex ${before} then ${after})` };
    return { ifindex: before, values: counters.values, reasons: counters.reasons };
  }
  if (typeof before === 'number' || typeof after === 'number') return { why: `interface ${iface} changed while its counters were read (its ifindex was known, then not)` };
  return { ifindex: null, ifindexWhy: before.why, values: counters.values, reasons: counters.reasons };
}
