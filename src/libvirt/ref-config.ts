// The manifest's forms of libvirt's names: a domain name and a local URI
// (target.libvirt_domain, target.libvirt_uri), and the LibvirtRef of the
// collectors that reach QEMU through libvirt (qmp, guest_agent):
// {"domain": NAME, "uri": URI}. zod lives here, not in ref.ts, which the
// collectors' worker threads load.
import { z } from 'zod';
import { expected } from '../schema/common.js';
import { DEFAULT_LIBVIRT_URI, LIBVIRT_DOMAIN, LIBVIRT_URI, virshReadsAsIdOrUuid } from './ref.js';

export const libvirtDomainName = z
  .string({ error: expected('a libvirt domain name') })
  .regex(LIBVIRT_DOMAIN, { error: expected('a libvirt domain name of 1 to 64 letters, digits, ".", "_", "+" or "-", not starting with "-" or "."') })
  .refine((n) => !virshReadsAsIdOrUuid(n), {
    error: expected('a libvirt domain name virsh cannot read as a domain id or uuid (it looks those up before names, so another domain could answer): rename the domain'),
  });

export const libvirtUri = z
  .string({ error: expected('a local libvirt QEMU URI') })
  .regex(LIBVIRT_URI, { error: expected('a local libvirt QEMU URI: qemu:///system, qemu:///session, or qemu+unix:///system?socket=/path') });

export const libvirtRef = z.strictObject(
  {
    domain: libvirtDomainName.describe('The libvirt domain.'),
    uri: libvirtUri.default(DEFAULT_LIBVIRT_URI).describe('Its libvirt connection (default qemu:///system).'),
  },
  { error: expected('{"domain": NAME, "uri": URI}') },
);
