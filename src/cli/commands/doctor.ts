// `labtel doctor`: what this host and this build can do.
import { probeCollectors } from '../../collectors/index.js';
import type { Availability } from '../../collectors/types.js';
import { nativeStatus, type NativeStatus } from '../../native/addon.js';
import { VERSION } from '../../version.js';

export interface DoctorReport {
  labtel_version: string;
  node: string;
  native: NativeStatus;
  collectors: Record<string, Availability>;
}

export async function doctorReport(): Promise<DoctorReport> {
  return { labtel_version: VERSION, node: process.version, native: nativeStatus(), collectors: await probeCollectors() };
}

export async function doctorCommand(opts: { json?: boolean }): Promise<number> {
  const r = await doctorReport();
  if (opts.json) {
    console.log(JSON.stringify(r, null, 2));
    return 0;
  }
  console.log(`labtel ${r.labtel_version} on Node ${r.node}`);
  console.log(`native addon: ${r.native.available ? 'in use' : 'NOT in use'} — ${r.native.reason}`);
  for (const [name, a] of Object.entries(r.collectors)) {
    console.log(`${name.padEnd(12)} ${a.available ? 'available  ' : 'unavailable'}  ${a.reason}`);
  }
  return 0;
}
