// Which libvirt domain, on which local connection: the manifest's
// target.libvirt_domain (with target.libvirt_uri), and what the qmp and
// guest_agent collectors are handed when libvirtd owns QEMU's monitor and
// the guest agent's channel. Only local QEMU connections: labtel reads the
// domain's process on this host, so a remote URI could never be its target.
// No zod here: the collectors' worker threads load this (their manifest pieces are in ref-config.ts).

/** libvirt's default for a root lab host. */
export const DEFAULT_LIBVIRT_URI = 'qemu:///system';

/** A domain name labtel passes to virsh and finds a pidfile by: 1-64 letters, digits, ".", "_", "+", "-", not starting with "-" or ".". */
export const LIBVIRT_DOMAIN = /^[A-Za-z0-9_+][A-Za-z0-9._+-]{0,63}$/;
/** qemu:///system, qemu:///session, or either over a named local socket (qemu+unix:///system?socket=/path). */
export const LIBVIRT_URI = /^qemu(\+unix)?:\/\/\/(system|session)(\?socket=\/[A-Za-z0-9._/-]+)?$/;

/**
 * virsh looks a --domain up by id first (a name strtol reads whole: "215", "+7"), then by uuid (36 hex digits and
 * dashes), and only then by name: such a name would reach whichever domain later takes that id or uuid.
 */
export function virshReadsAsIdOrUuid(name: string): boolean {
  return /^\+?\d+$/.test(name) || (name.length === 36 && /^[0-9A-Fa-f-]+$/.test(name));
}

export interface LibvirtRef {
  /** The domain's name. */
  domain: string;
  /** The connection, e.g. qemu:///system. */
  uri: string;
  /**
   * The domain's uuid, when it was read from the running domain (filled from target.libvirt_domain): the running
   * domain found by name must have it (runningDomainId), and events are asked for by it, so that another domain
   * created under the same name (destroyed, then created from another XML) is never asked in its place.
   */
  uuid?: string;
}

/** A session connection's (qemu:///session, qemu+unix:///session...): its libvirtd runs as labtel's own user. */
export const isSessionUri = (uri: string): boolean => /^qemu(\+unix)?:\/\/\/session/.test(uri);

/** How messages of the libvirt links name the domain: "libvirt domain NAME (URI)". */
export const linkWhere = (ref: LibvirtRef): string => `libvirt domain ${ref.domain} (${ref.uri})`;

/** What virsh's --domain gets where no id is pinned (qemu-monitor-event, probes): the uuid when known, else the name. */
export const virshDomain = (ref: LibvirtRef): string => ref.uuid ?? ref.domain;
