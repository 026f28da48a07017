// What labtel reads of a domain's XML (virsh dumpxml): whether it runs (the
// id attribute a running domain carries), its uuid, its network interfaces
// (the tap libvirt made: <target dev>, with mac and bridge) and its channels
// (virtio-serial ports: name, the host end's mode and path, and whether the
// guest end is connected). Parsed with fast-xml-parser, not patterns: libvirt
// may quote attributes either way, order them as it likes and escape values.
import { XMLParser } from 'fast-xml-parser';

export interface DomainInterface {
  /** libvirt's <interface type>: ethernet, bridge, network, ... */
  type: string | null;
  /** The host's device for it (a tap), <target dev>; only a running domain has one. */
  dev: string | null;
  mac: string | null;
  /** <source bridge> (or <source network>'s bridge when libvirt reports it). */
  bridge: string | null;
}

export interface DomainChannel {
  /** <channel type>: unix, pty, ... */
  type: string | null;
  /** The virtio-serial port's name, <target name> (org.qemu.guest_agent.0, org.labtel.telemetry.0). */
  name: string | null;
  /** <source mode>: bind (QEMU listens) or connect (QEMU connects). */
  mode: string | null;
  /** <source path>: the host end's unix socket. */
  path: string | null;
  /** <target state>: connected or disconnected (the guest end), when libvirt knows. */
  state: string | null;
}

export interface DomainXml {
  name: string | null;
  /** The id attribute: present only while the domain runs. */
  id: number | null;
  uuid: string | null;
  interfaces: DomainInterface[];
  channels: DomainChannel[];
}

/** More devices than this is not a domain labtel was written for: the rest are left unread. */
export const MAX_DEVICES = 256;
const MAX_TEXT = 4096;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  // Only XML's five predefined entities reach the parser (a DOCTYPE is refused below), and each shortens the text: no cap
  // on how many (fast-xml-parser's default of 1,000 refused a domain whose description held 1,001 apostrophes).
  processEntities: { enabled: true, maxTotalExpansions: Infinity },
  // libvirt keeps what libxml2 parses, up to 256 levels deep (<metadata> is any XML): fast-xml-parser's default of 100
  // refused a real running domain with 150-level metadata.
  maxNestedTags: 300,
  // Every element that may repeat is a list, even when there is one.
  isArray: (name, jpath) => jpath === 'domain.devices.interface' || jpath === 'domain.devices.channel',
});

type Node = Record<string, unknown>;
const obj = (v: unknown): Node => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Node) : {});
function str(v: unknown): string | null {
  if (typeof v === 'string') return v.slice(0, MAX_TEXT);
  if (typeof v === 'number') return String(v);
  const t = obj(v)['#text'];
  return typeof t === 'string' ? t.slice(0, MAX_TEXT) : null;
}
const list = (v: unknown): Node[] => (Array.isArray(v) ? v : []).slice(0, MAX_DEVICES).map(obj);

/** Throws when the text is not a domain's XML. */
export function parseDomainXml(xml: string): DomainXml {
  // libvirt writes no DOCTYPE: one is refused before the parser could expand its entities.
  if (/<!DOCTYPE/i.test(xml)) throw new Error('its XML has a DOCTYPE, which libvirt never writes; refusing to read it');
  let doc: Node;
  try {
    doc = obj(parser.parse(xml, true)); // validated: a truncated or malformed document is refused, not half read
  } catch (err) {
    throw new Error(`its XML does not parse: ${(err as Error).message.slice(0, 200)}`);
  }
  if (!('domain' in doc)) throw new Error('its XML has no <domain> element');
  const d = obj(doc.domain);
  const idText = str(d['@id']);
  const id = idText !== null && /^\d{1,9}$/.test(idText) ? Number(idText) : null;
  const devices = obj(d.devices);
  return {
    name: str(d.name),
    id,
    uuid: str(d.uuid)?.trim().toLowerCase() ?? null,
    interfaces: list(devices.interface).map((i) => ({
      type: str(i['@type']),
      dev: str(obj(i.target)['@dev']),
      mac: str(obj(i.mac)['@address']),
      bridge: str(obj(i.source)['@bridge']),
    })),
    channels: list(devices.channel).map((c) => ({
      type: str(c['@type']),
      name: str(obj(c.target)['@name']),
      mode: str(obj(c.source)['@mode']),
      path: str(obj(c.source)['@path']),
      state: str(obj(c.target)['@state']),
    })),
  };
}
