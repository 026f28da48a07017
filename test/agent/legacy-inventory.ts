// Frozen: src/agent/inventory.ts as it was before issue 19 (systeminformation), the
// reference test/agent/inventory.test.ts holds the direct reads to.
import si from 'systeminformation';

interface HostInventory {
  hostname: string | null;
  kernel: string | null;
  distro: string | null;
  cpu: { model: string | null; cores: number | null; physical_cores: number | null } | null;
  memory_bytes: number | null;
  network_interfaces: Array<{ name: string; mac: string; ipv4: string; ipv6: string; mtu: number | null; operstate: string }> | null;
  errors: string[];
}

async function within<T>(what: string, ms: number, p: Promise<T>, errors: string[]): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => {
      errors.push(`${what}: no answer within ${ms} ms`);
      resolve(null);
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } catch (err) {
    errors.push(`${what}: ${(err as Error).message}`);
    return null;
  } finally {
    clearTimeout(timer);
  }
}

export async function legacyHostInventory(timeoutMs = 5000): Promise<HostInventory> {
  const errors: string[] = [];
  const [os, cpu, mem, nics] = await Promise.all([
    within('osInfo', timeoutMs, si.osInfo(), errors),
    within('cpu', timeoutMs, si.cpu(), errors),
    within('mem', timeoutMs, si.mem(), errors),
    within('networkInterfaces', timeoutMs, si.networkInterfaces(), errors),
  ]);
  const list = nics === null ? null : Array.isArray(nics) ? nics : [nics];
  return {
    hostname: os?.hostname ?? null,
    kernel: os?.kernel ?? null,
    distro: os ? `${os.distro} ${os.release}`.trim() : null,
    cpu: cpu ? { model: `${cpu.manufacturer} ${cpu.brand}`.trim(), cores: cpu.cores, physical_cores: cpu.physicalCores } : null,
    memory_bytes: mem?.total ?? null,
    network_interfaces:
      list?.map((n) => ({ name: n.iface, mac: n.mac, ipv4: n.ip4, ipv6: n.ip6, mtu: n.mtu ?? null, operstate: n.operstate })) ?? null,
    errors,
  };
}
