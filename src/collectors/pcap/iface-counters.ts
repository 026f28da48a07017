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
// change. Every read is bounded, never through a symlink at the file, and
// never on a name IFACE_NAME did not pass.
import fs from 'node:fs';
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

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
/** /proc/self/net/dev and igmp can be long on a host with many interfaces: read at most this much of them. */
export const MAX_PROC_BYTES = 4 << 20;
/** dev_snmp6/<iface>'s ifIndex is its first line. */
const SNMP6_HEAD = 64;

/** Up to `max` bytes of a /proc file (read to its end or the bound), and whether the bound cut it. */
function readBounded(file: string, max: number): { text: string; cut: boolean } {
  const fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.alloc(Math.min(64 << 10, max + 1 - total));
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      if (total > max) break;
    }
    const all = Buffer.concat(chunks);
    return { text: all.toString('latin1', 0, Math.min(total, max)), cut: total > max };
  } finally {
    fs.closeSync(fd);
  }
}

const code = (err: unknown) => (err as NodeJS.ErrnoException)?.code;
const why = (file: string, err: unknown) => (code(err) === 'ENOENT' ? `${file} does not exist` : code(err) ? `cannot read ${file}: ${code(err)}` : String((err as Error)?.message ?? err));

/** A decimal counter as the kernel prints it, or null (not digits, or past 2^53). */
const counterOf = (s: string | undefined): number | null => {
  if (s === undefined || !/^\d{1,20}$/.test(s)) return null;
  const v = Number(s);
  return Number.isSafeInteger(v) ? v : null;
};

// /proc/net/dev's columns after "name:": rx bytes packets errs drop fifo frame compressed multicast, tx bytes packets errs drop ...
const DEV_COLUMN: Record<IfCounter, number> = { rx_bytes: 0, rx_packets: 1, rx_errors: 2, rx_dropped: 3, tx_bytes: 8, tx_packets: 9, tx_errors: 10, tx_dropped: 11 };

/** The interface's line of /proc/<self>/net/dev, as counters, or why there is none. */
function readDev(iface: string, procNet: string): { values: Record<IfCounter, number | null>; reasons: Partial<Record<IfCounter, string>> } | { why: string } {
  const file = `${procNet}/dev`;
  let read: { text: string; cut: boolean };
  try {
    read = readBounded(file, MAX_PROC_BYTES);
  } catch (err) {
    return { why: why(file, err) };
  }
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
export function readIfindex(iface: string, procNet = '/proc/self/net'): number | { why: string } {
  const snmp6 = `${procNet}/dev_snmp6/${iface}`;
  try {
    const m = /^ifIndex\s+(\d{1,10})\n/.exec(readBounded(snmp6, SNMP6_HEAD).text);
    const v = m ? Number(m[1]) : NaN;
    if (Number.isSafeInteger(v) && v > 0) return v;
  } catch (err) {
    if (code(err) !== 'ENOENT') return { why: why(snmp6, err) };
  }
  // No IPv6 state (a kernel without IPv6, an MTU under 1280): igmp lists every interface that is up with IPv4 state, "<idx>\t<name> : ...".
  const igmp = `${procNet}/igmp`;
  let read: { text: string; cut: boolean };
  try {
    read = readBounded(igmp, MAX_PROC_BYTES);
  } catch (err) {
    return { why: `${snmp6} does not exist, and ${why(igmp, err)}` };
  }
  for (const line of read.text.split('\n')) {
    const m = /^(\d{1,10})\t(\S{1,15})\s*:/.exec(line);
    if (m && m[2] === iface && Number(m[1]) > 0) return Number(m[1]);
  }
  return { why: `neither ${snmp6} nor ${igmp}${read.cut ? ` (its first ${MAX_PROC_BYTES} bytes)` : ''} lists interface ${iface} (no IPv6 state, and down or without IPv4 state): its counters cannot be told from another interface's under the name` };
}

/**
 * The counters of `iface` now, or why there are none: the capture is on 'any', the name is not an
 * interface name, the interface is gone, or it was re-created while read. `procNet`: /proc/self/net (tests).
 */
export function readIfaceCounters(iface: string, procNet = '/proc/self/net'): IfaceReading {
  if (iface === 'any') return { why: "the capture is on 'any' (every interface): there is no one interface's counters" };
  if (!IFACE_NAME.test(iface)) return { why: `${JSON.stringify(iface)} is not an interface name` };
  const before = readIfindex(iface, procNet);
  const dev = readDev(iface, procNet);
  if ('why' in dev) return dev;
  const after = readIfindex(iface, procNet);
  if (typeof before === 'number' && typeof after === 'number') {
    if (after !== before) return { why: `interface ${iface} was deleted and created again while its counters were read (ifindex ${before} then ${after})` };
    return { ifindex: before, values: dev.values, reasons: dev.reasons };
  }
  if (typeof before === 'number' || typeof after === 'number') return { why: `interface ${iface} changed while its counters were read (its ifindex was known, then not)` };
  return { ifindex: null, ifindexWhy: before.why, values: dev.values, reasons: dev.reasons };
}
