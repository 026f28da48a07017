// The probe domain (src/lab/libvirt-probe-domain.ts: paused, TCG, a QMP socket
// of QEMU's own beside libvirt's monitor) for tests, destroyed after each.
import { afterEach } from 'vitest';
import { startProbeDomain as start, type ProbeDomain } from '../../src/lab/libvirt-probe-domain.js';
import { DEFAULT_LIBVIRT_URI } from '../../src/libvirt/ref.js';

export { hasLibvirtd } from './libvirt.js';
export const TEST_URI = DEFAULT_LIBVIRT_URI;

const made: ProbeDomain[] = [];
afterEach(() => {
  for (const d of made.splice(0)) d.destroy();
});

/** `name`: the domain's name (default: labtel-t- and a random suffix). */
export async function startProbeDomain(o: { name?: string } = {}): Promise<ProbeDomain> {
  const d = await start({ prefix: 'labtel-t-', ...o });
  made.push(d);
  return d;
}
