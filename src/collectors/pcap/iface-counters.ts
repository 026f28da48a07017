// The captured interface's own counters, as the kernel keeps them in
// /sys/class/net/<iface>/statistics (cumulative since the interface was
// created), and its ifindex, read for each pcap interval row. The ifindex is
// read before and after the counters: a name deleted and created again is
// another interface whose counters started over, and a reader must never
// subtract across the change. Every read is bounded (64 bytes), never
// through a symlink at the file, and never on a name IFACE_NAME did not pass.
import fs from 'node:fs';
import { IFACE_NAME } from './iface-name.js';

/** The counters read, as the row names them (if_<name>), in the row's order. */
export const IF_COUNTERS = ['rx_packets', 'tx_packets', 'rx_bytes', 'tx_bytes', 'rx_dropped', 'tx_dropped', 'rx_errors', 'tx_errors'] as const;
export type IfCounter = (typeof IF_COUNTERS)[number];

export type IfaceReading =
  | { ifindex: number; values: Record<IfCounter, number | null>; /** Why a counter is null (unreadable, not a number). */ reasons: Partial<Record<IfCounter, string>> }
  | { why: string };

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
const MAX_BYTES = 64;

/** A sysfs number file: decimal digits and a newline, at most 64 bytes; the error names the file. */
function readNumber(file: string): number {
  const fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  try {
    const buf = Buffer.alloc(MAX_BYTES);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const text = buf.toString('latin1', 0, n);
    const m = /^(\d{1,20})\n?$/.exec(text);
    const v = m ? Number(m[1]) : NaN;
    if (!Number.isSafeInteger(v)) throw new Error(`${file} does not hold a counter, got ${JSON.stringify(text.slice(0, 32))}`);
    return v;
  } finally {
    fs.closeSync(fd);
  }
}

const code = (err: unknown) => (err as NodeJS.ErrnoException)?.code;
/** Why a file could not be read: its errno, or what it held (readNumber's message names the file). */
const why = (file: string, err: unknown) =>
  code(err) === 'ENOENT' ? `${file} does not exist` : code(err) ? `cannot read ${file}: ${code(err)}` : String((err as Error)?.message ?? err);

/**
 * The counters of `iface` now, or why there are none: the capture is on 'any', the name is not an
 * interface name, the interface is gone, or it was re-created while read. `root`: /sys/class/net (tests).
 */
export function readIfaceCounters(iface: string, root = '/sys/class/net'): IfaceReading {
  if (iface === 'any') return { why: "the capture is on 'any' (every interface): there is no one interface's counters" };
  if (!IFACE_NAME.test(iface)) return { why: `${JSON.stringify(iface)} is not an interface name` };
  const dir = `${root}/${iface}`;
  let ifindex: number;
  try {
    ifindex = readNumber(`${dir}/ifindex`);
  } catch (err) {
    return { why: code(err) === 'ENOENT' ? `interface ${iface} does not exist (gone)` : why(`${dir}/ifindex`, err) };
  }
  const values = {} as Record<IfCounter, number | null>;
  const reasons: Partial<Record<IfCounter, string>> = {};
  for (const c of IF_COUNTERS) {
    try {
      values[c] = readNumber(`${dir}/statistics/${c}`);
    } catch (err) {
      values[c] = null;
      reasons[c] = why(`${dir}/statistics/${c}`, err);
    }
  }
  let after: number | null;
  try {
    after = readNumber(`${dir}/ifindex`);
  } catch {
    after = null;
  }
  if (after === null) return { why: `interface ${iface} does not exist (gone while its counters were read)` };
  if (after !== ifindex) return { why: `interface ${iface} was deleted and created again while its counters were read (ifindex ${ifindex} then ${after})` };
  return { ifindex, values, reasons };
}
