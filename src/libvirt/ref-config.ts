// The manifest's form of a LibvirtRef, for the collectors that reach QEMU
// through libvirt (qmp, guest_agent): {"domain": NAME, "uri": URI}.
import { z } from 'zod';
import { expected } from '../schema/common.js';
import { DEFAULT_LIBVIRT_URI, libvirtDomainName, libvirtUri } from './ref.js';

export const libvirtRef = z.strictObject(
  {
    domain: libvirtDomainName.describe('The libvirt domain.'),
    uri: libvirtUri.default(DEFAULT_LIBVIRT_URI).describe('Its libvirt connection (default qemu:///system).'),
  },
  { error: expected('{"domain": NAME, "uri": URI}') },
);
