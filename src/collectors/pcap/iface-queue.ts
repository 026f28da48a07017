// How many frames the captured interface's transmit queues can hold
// (tx_queue_len x the number of tx queues), for verify's cross-check: a tap
// counts tx when QEMU reads a frame from its ring, so up to this many frames
// the capture saw can be counted later (a paused guest). Read from
// /sys/class/net/<iface>, only when sysfs provably shows the agent's own
// network namespace for it: sysfs's ifindex of the name equals the one
// /proc/self/net gave. (sysfs shows the namespace it was mounted in; under
// `nsenter --net` without a remount that is the host's.) Not a measurement:
// a bound on what can be queued. Reads are bounded, never through a symlink
// at the file, and the queues directory is listed up to MAX_QUEUE_ENTRIES.
// Read again only when the ifindex changes, after a read that gave no number,
// and at least every QUEUE_REREAD_MS (TxQueueFrames): the capacity changes
// only by an operator's `ip link set dev X txqueuelen N` or a change in the
// number of tx queues (a multiqueue tap's queues attached or detached), and
// reading it costs some 13 syscalls, more than the counters themselves.
import fs from 'node:fs';
import { readBounded } from '../../util/read-bounded.js';
import { IFACE_NAME } from './iface-name.js';

/** The queues directory holds rx-N and tx-N entries: list at most this many. */
export const MAX_QUEUE_ENTRIES = 4096;

const code = (err: unknown) => (err as NodeJS.ErrnoException)?.code;

/** A small sysfs file's decimal value, or why there is none. */
function readNumber(file: string): number | { why: string } {
  const r = readBounded(file, 31);
  if ('code' in r) return { why: r.code === 'ENOENT' ? `${file} does not exist` : `cannot read ${file}: ${r.code}` };
  const m = r.cut ? null : /^(\d{1,10})\n?$/.exec(r.text);
  return m ? Number(m[1]) : { why: `${file} is not a number, got ${JSON.stringify(r.text.slice(0, 32))}` };
}

/** The number of tx-N entries in the interface's queues directory, or why it is not known. */
function countTxQueues(dir: string): number | { why: string } {
  let d: fs.Dir;
  try {
    d = fs.opendirSync(dir, { bufferSize: 64 });
  } catch (err) {
    return { why: `cannot list ${dir}: ${code(err) ?? String(err)}` };
  }
  try {
    let entries = 0;
    let tx = 0;
    for (let e = d.readSync(); e !== null; e = d.readSync()) {
      if (++entries > MAX_QUEUE_ENTRIES) return { why: `${dir} has more than ${MAX_QUEUE_ENTRIES} entries (listed no further)` };
      if (/^tx-\d+$/.test(e.name)) tx++;
    }
    return tx;
  } finally {
    d.closeSync();
  }
}

/**
 * Frames the transmit queues of `iface` (ifindex `ifindex` in the agent's namespace) can hold, or why it is not
 * known. `sysNet`: /sys/class/net (tests).
 */
export function readTxQueueFrames(iface: string, ifindex: number, sysNet = '/sys/class/net'): number | { why: string } {
  if (!IFACE_NAME.test(iface)) return { why: `${JSON.stringify(iface)} is not an interface name` };
  const dir = `${sysNet}/${iface}`;
  const sysIndex = readNumber(`${dir}/ifindex`);
  if (typeof sysIndex !== 'number') return { why: `${sysIndex.why}: sysfs cannot be shown to be the agent's network namespace` };
  if (sysIndex !== ifindex) {
    return { why: `${dir}/ifindex is ${sysIndex}, not ${ifindex} as in /proc/self/net: sysfs shows another network namespace (mounted in another), or the interface changed` };
  }
  const len = readNumber(`${dir}/tx_queue_len`);
  if (typeof len !== 'number') return len;
  const queues = countTxQueues(`${dir}/queues`);
  if (typeof queues !== 'number') return queues;
  // Read again: the name may have moved to another interface between the reads.
  const again = readNumber(`${dir}/ifindex`);
  if (again !== ifindex) return { why: `interface ${iface} changed while its queues were read` };
  return len * queues;
}

/** The capacity is read again at least this often (ms), whatever else: `ip link set dev X txqueuelen N` shows within it. */
export const QUEUE_REREAD_MS = 10_000;

/**
 * readTxQueueFrames, kept between rows: read again when the ifindex is another than at the last read, when the last
 * read gave no number, or when it is QUEUE_REREAD_MS old (by `nowNs`, a monotonic clock); otherwise the last value.
 */
export class TxQueueFrames {
  /** Reads (for tests: how often sysfs was asked). */
  reads = 0;
  private last: { ifindex: number; atNs: number; frames: number } | null = null;

  constructor(private readonly read: (ifindex: number) => number | { why: string }) {}

  get(ifindex: number, nowNs: number): number | { why: string } {
    const l = this.last;
    if (l && l.ifindex === ifindex && nowNs - l.atNs < QUEUE_REREAD_MS * 1e6 && nowNs >= l.atNs) return l.frames;
    this.reads++;
    const r = this.read(ifindex);
    this.last = typeof r === 'number' ? { ifindex, atNs: nowNs, frames: r } : null;
    return r;
  }

  /** Forget the last value: the next get() reads (the interface was not read, or is gone). */
  forget(): void {
    this.last = null;
  }
}
