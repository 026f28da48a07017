// The CPU part of the host inventory: model, logical and physical cores, read
// from /proc/cpuinfo and the sysfs topology the way systeminformation 5's
// cpu() derives them from lscpu on Linux, without its shells.
import fs from 'node:fs';
import os from 'node:os';

export interface HostCpu {
  model: string;
  cores: number;
  physical_cores: number;
}

/** The first `model name` of /proc/cpuinfo (what lscpu prints as "Model name" on x86), else Node's. */
function modelLine(cpuinfo: string): string {
  const m = /^model name[^:\n]*:(.*)$/im.exec(cpuinfo);
  const fromKernel = m ? m[1]!.trim() : '';
  return fromKernel || os.cpus()[0]?.model || '';
}

function manufacturerOf(brand: string): string {
  let result = brand;
  const s = brand.toLowerCase();
  const table: Array<[string, string]> = [
    ['intel', 'Intel'], ['amd', 'AMD'], ['qemu', 'QEMU'], ['hygon', 'Hygon'], ['centaur', 'WinChip/Via'], ['vmware', 'VMware'],
  ];
  for (const [needle, name] of table) if (s.indexOf(needle) >= 0) result = name;
  if (s.indexOf('Xen') >= 0) result = 'Xen Hypervisor'; // never true on the lowered string, as in systeminformation
  for (const [needle, name] of [['tcg', 'QEMU'], ['apple', 'Apple'], ['sifive', 'SiFive'], ['thead', 'T-Head'], ['andestech', 'Andes Technology']] as const) {
    if (s.indexOf(needle) >= 0) result = name;
  }
  return result;
}

/** "manufacturer brand" from a model line, as systeminformation's cpuBrandManufacturer() cleans it. */
export function cpuModel(line: string): string {
  let brand = line.replace(/To Be Filled By O.E.M./g, '').split('@')[0]!.trim();
  if (brand.indexOf('Unknown') >= 0) brand = brand.split('Unknown')[0]!.trim();
  brand = brand.replace(/\(R\)+/g, '®').replace(/\s+/g, ' ').trim();
  brand = brand.replace(/\(TM\)+/g, '™').replace(/\s+/g, ' ').trim();
  brand = brand.replace(/\(C\)+/g, '©').replace(/\s+/g, ' ').trim();
  brand = brand.replace(/CPU+/g, '').replace(/\s+/g, ' ').trim();
  const manufacturer = manufacturerOf(brand);
  const parts = brand.split(' ');
  parts.shift();
  return `${manufacturer} ${parts.join(' ')}`.trim();
}

/** Physical cores: distinct (package, core) pairs of the online CPUs, as lscpu's sockets × cores per socket; the logical count when sysfs has no topology. */
export function physicalCores(cores: number, sysCpu = '/sys/devices/system/cpu'): number {
  const packages = new Set<string>();
  const pairs = new Set<string>();
  let names: string[];
  try {
    names = fs.readdirSync(sysCpu).filter((n) => /^cpu\d+$/.test(n));
  } catch {
    return cores;
  }
  for (const n of names) {
    try {
      const pkg = fs.readFileSync(`${sysCpu}/${n}/topology/physical_package_id`, 'latin1').trim();
      const core = fs.readFileSync(`${sysCpu}/${n}/topology/core_id`, 'latin1').trim();
      packages.add(pkg);
      pairs.add(`${pkg}/${core}`);
    } catch {
      // offline CPU: no topology directory
    }
  }
  if (!packages.size) return cores;
  return Math.floor(pairs.size / packages.size) * packages.size || cores;
}

export function hostCpu(): HostCpu {
  const cores = os.cpus().length;
  return { model: cpuModel(modelLine(fs.readFileSync('/proc/cpuinfo', 'utf8'))), cores, physical_cores: physicalCores(cores) };
}
