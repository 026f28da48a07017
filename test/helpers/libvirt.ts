// A libvirtd for the tests of libvirt-managed guests. Outside CI, no libvirtd
// (or no virsh) skips them; under CI, which starts one (.ci/run runs
// scripts/start-libvirtd.sh), it throws instead (see programs.ts).
import { spawnSync } from 'node:child_process';
import { DEFAULT_LIBVIRT_URI } from '../../src/libvirt/ref.js';
import { available, has } from './programs.js';

const answered = new Map<string, boolean>();

/** Whether `virsh -c URI version` answers (virsh installed, libvirtd running with its QEMU driver); under CI a no throws. */
export function hasLibvirtd(uri = DEFAULT_LIBVIRT_URI): boolean {
  if (!has('virsh')) return false;
  if (!answered.has(uri)) answered.set(uri, spawnSync('virsh', ['-c', uri, 'version'], { stdio: 'ignore', timeout: 30_000 }).status === 0);
  return available(answered.get(uri)!, `libvirtd does not answer on ${uri} (\`virsh -c ${uri} version\` failed; as root, \`bash scripts/start-libvirtd.sh\` starts one)`);
}
