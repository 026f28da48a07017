// tcpdump's command line, as an argument array (never a shell): capture on
// the interface, each packet written to stdout as it is captured (-U), with
// nanosecond timestamps. The filter goes after `--`, so nothing in it can be
// read as an option.
import type { CollectorConfigs } from '../../manifest/schema.js';

type PcapConfig = Pick<CollectorConfigs['pcap'], 'iface' | 'snaplen' | 'filter' | 'user'>;

export function tcpdumpCaptureArgs(c: PcapConfig): string[] {
  return ['-i', c.iface, '-U', '-w', '-', '-s', String(c.snaplen), '--time-stamp-precision', 'nano', ...common(c)];
}

/** `tcpdump -d`: opens the interface and compiles the filter, then exits without capturing (the preflight). */
export function tcpdumpCheckArgs(c: PcapConfig): string[] {
  return ['-d', '-i', c.iface, '-s', String(c.snaplen), ...common(c)];
}

const common = (c: PcapConfig) => [...(c.user ? ['-Z', c.user] : []), ...(c.filter ? ['--', c.filter] : [])];
