// Where libvirt's QEMU driver keeps a running domain's pidfile: its state
// directory, /run/libvirt/qemu for the system instance, and
// $XDG_RUNTIME_DIR/libvirt/qemu/run for a user's session instance.
import { isSessionUri, type LibvirtRef } from './ref.js';

export function libvirtPidfile(ref: LibvirtRef, env: NodeJS.ProcessEnv = process.env): string {
  if (isSessionUri(ref.uri)) {
    const run = env.XDG_RUNTIME_DIR;
    if (!run || !run.startsWith('/')) throw new Error(`${ref.uri}: XDG_RUNTIME_DIR is not set, so libvirt's session pidfile for ${ref.domain} cannot be found`);
    return `${run}/libvirt/qemu/run/${ref.domain}.pid`;
  }
  return `/run/libvirt/qemu/${ref.domain}.pid`;
}
