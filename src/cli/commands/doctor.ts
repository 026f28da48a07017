// `labtel doctor`: what this host and this build can do.
import { probeCollectors } from '../../collectors/index.js';
import type { Availability } from '../../collectors/types.js';
import { nativeStatus, type NativeStatus } from '../../native/addon.js';
import { VERSION } from '../../version.js';

/** What the pure-TypeScript path does, said exactly (the README's "Without the addon" says the same). */
export const PURE_TS_PATH =
  'the same rows as the addon: /proc sampling, and captures (classic pcap and pcapng, records over the snaplen read as libpcap reads them, ' +
  'bad records refused with the same messages at the same offsets, or skipped with --skip-bad) read and bucketed as the addon does them; ' +
  'what differs: it is slower, the clock origin comes from Date.now() (1 ms less certain), and past 65,536 distinct flows, peers or ports ' +
  'in the open buckets it keeps counting exactly (memory grows with them) where the addon switches to an estimate (distinct_estimated), ' +
  'and when the 262,144-flow table is full it may evict flows last seen at the same instant in another order (new_flows)';

export interface DoctorReport {
  labtel_version: string;
  node: string;
  native: NativeStatus;
  /** What the pure-TypeScript path in use does; null when the addon is in use. */
  pure_ts_path: string | null;
  collectors: Record<string, Availability>;
}

export async function doctorReport(): Promise<DoctorReport> {
  const native = nativeStatus();
  return { labtel_version: VERSION, node: process.version, native, pure_ts_path: native.available ? null : PURE_TS_PATH, collectors: await probeCollectors() };
}

export async function doctorCommand(opts: { json?: boolean }): Promise<number> {
  const r = await doctorReport();
  if (opts.json) {
    console.log(JSON.stringify(r, null, 2));
    return 0;
  }
  console.log(`labtel ${r.labtel_version} on Node ${r.node}`);
  console.log(`native addon: ${r.native.available ? 'in use' : 'NOT in use'} — ${r.native.reason}`);
  if (r.pure_ts_path) console.log(`pure-TypeScript path: ${r.pure_ts_path}`);
  for (const [name, a] of Object.entries(r.collectors)) {
    console.log(`${name.padEnd(12)} ${a.available ? 'available  ' : 'unavailable'}  ${a.reason}`);
  }
  return 0;
}
