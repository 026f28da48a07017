// The host, for episode.json: read directly from os, /proc, /sys and the
// release files (inventory-os.ts, inventory-cpu.ts, inventory-nics.ts), the
// same fields and values systeminformation gave (test/agent/inventory.test.ts
// holds them to it), without its dozens of shells and its ~30 ms import. A
// part that cannot be read is null, with the reason in `errors`.
import fs from 'node:fs';
import os from 'node:os';
import { hostCpu } from './inventory-cpu.js';
import { hostNics } from './inventory-nics.js';
import { hostOs } from './inventory-os.js';

export interface HostInventory {
  hostname: string | null;
  kernel: string | null;
  distro: string | null;
  cpu: { model: string | null; cores: number | null; physical_cores: number | null } | null;
  memory_bytes: number | null;
  network_interfaces: Array<{ name: string; mac: string; ipv4: string; ipv6: string; mtu: number | null; operstate: string }> | null;
  errors: string[];
}

function part<T>(what: string, read: () => T, errors: string[]): T | null {
  try {
    return read();
  } catch (err) {
    errors.push(`${what}: ${(err as Error).message}`);
    return null;
  }
}

/** MemTotal of /proc/meminfo in bytes, else os.totalmem() (as systeminformation's mem()). */
export function memoryBytes(meminfo = '/proc/meminfo'): number {
  let kib = NaN;
  try {
    const m = /^memtotal[^:\n]*:(.*)$/im.exec(fs.readFileSync(meminfo, 'latin1'));
    kib = parseInt(m ? m[1]!.trim() : '', 10);
  } catch {
    // the fallback below
  }
  return kib ? kib * 1024 : os.totalmem();
}

/** Synchronous reads of small kernel files: a few milliseconds, no child process. Async for its callers. */
export async function hostInventory(): Promise<HostInventory> {
  const errors: string[] = [];
  const sys = part('osInfo', hostOs, errors);
  const cpu = part('cpu', hostCpu, errors);
  const mem = part('mem', memoryBytes, errors);
  const nics = part('networkInterfaces', hostNics, errors);
  return {
    hostname: sys?.hostname ?? null,
    kernel: sys?.kernel ?? null,
    distro: sys ? `${sys.distro} ${sys.release}`.trim() : null,
    cpu,
    memory_bytes: mem,
    network_interfaces: nics,
    errors,
  };
}
