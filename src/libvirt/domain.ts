// A libvirt domain as labtel needs it before anything starts: `virsh dumpxml`
// read once (bounded, with a timeout), refused when the domain does not exist
// or does not run, with virsh's reason and the domain and URI named.
import { parseDomainXml, type DomainChannel, type DomainInterface } from './domain-xml.js';
import type { LibvirtRef } from './ref.js';
import { runVirsh } from './run-virsh.js';

export interface LibvirtDomain extends LibvirtRef {
  /** libvirt's id of the running domain. */
  id: number;
  uuid: string;
  interfaces: DomainInterface[];
  channels: DomainChannel[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const whereDomain = (ref: LibvirtRef): string => `domain ${JSON.stringify(ref.domain)} on ${ref.uri}`;

/** The running domain's uuid, taps and channels; throws naming the domain and URI. */
export async function describeDomain(ref: LibvirtRef): Promise<LibvirtDomain> {
  const xml = await runVirsh(ref, ['dumpxml', '--domain', ref.domain], { what: 'virsh dumpxml' });
  let d;
  try {
    d = parseDomainXml(xml);
  } catch (err) {
    throw new Error(`virsh dumpxml (${whereDomain(ref)}): ${(err as Error).message}`, { cause: err });
  }
  if (d.name !== ref.domain) throw new Error(`virsh dumpxml (${whereDomain(ref)}) describes a domain named ${JSON.stringify(d.name)}; refusing to use it`);
  if (d.uuid === null || !UUID.test(d.uuid)) throw new Error(`virsh dumpxml (${whereDomain(ref)}) gives no uuid of the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, got ${JSON.stringify(d.uuid)}`);
  if (d.id === null) throw new Error(`${whereDomain(ref)} is not running (its XML has no id); start it first (virsh -c ${ref.uri} start ${ref.domain})`);
  return { domain: ref.domain, uri: ref.uri, id: d.id, uuid: d.uuid, interfaces: d.interfaces, channels: d.channels };
}
