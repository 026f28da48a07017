// The headers of one captured packet, down to L4 ports and flags, never
// reading past caplen: a port of native/core/packet_decode.cc (decode_generic;
// the native fast path gives the same results by construction), with one
// difference the native is being fixed to share: the UDP length of a first
// fragment covers the whole datagram, so it is not checked against the
// fragment's end.
// Link types: Ethernet (1), Linux cooked v1 (113) and v2 (276), raw IP (101,
// 228, 229), BSD loopback (0, and 108). VLAN tags (0x8100, 0x88a8, 0x9100, up
// to 4 deep), IPv4 (options, fragments), IPv6 (extension headers), TCP, UDP,
// ICMP, ICMPv6, ARP.

export const L3_NON_IP = 0; // no network layer found: unsupported link type, or a link header cut short
export const L3_IPV4 = 1;
export const L3_IPV6 = 2;
export const L3_ARP = 3;
export const L3_OTHER = 4; // the link layer names something else (ethertype/AF/LLC): counted as non-IP

/** Filled by decode() (all of it); reused from packet to packet. */
export class Decoded {
  l3 = L3_NON_IP;
  vlanDepth = 0;
  /** After the VLAN tags; 0x0800/0x86dd for raw IP and loopback; 0 when none. */
  ethertype = 0;
  hasSrcMac = false;
  hasDstMac = false;
  /** srcIp/dstIp set: IPv4/IPv6 header present, or ARP sender/target IPv4. */
  hasIps = false;
  /** ipProto set (the IP header, and IPv6 extension chain, were readable). */
  protoKnown = false;
  fragment = false;
  /** TCP/UDP header present (first fragment only). */
  hasPorts = false;
  hasTcpFlags = false;
  hasIcmp = false;
  /** caplen too short for a header the wire length says exists. */
  truncated = false;
  /** Lengths inside the packet that cannot be right. */
  malformed = false;
  ipProto = 0;
  tcpFlags = 0;
  icmpType = 0;
  icmpCode = 0;
  srcPort = 0;
  dstPort = 0;
  arpOp = 0;
  // The addresses are valid only when the matching has* flag is set.
  readonly srcMac = new Uint8Array(6);
  readonly dstMac = new Uint8Array(6);
  /** IPv6, or IPv4 mapped as ::ffff:a.b.c.d. */
  readonly srcIp = new Uint8Array(16);
  readonly dstIp = new Uint8Array(16);

  reset(): void {
    this.l3 = L3_NON_IP;
    this.vlanDepth = 0;
    this.ethertype = 0;
    this.hasSrcMac = this.hasDstMac = this.hasIps = this.protoKnown = false;
    this.fragment = this.hasPorts = this.hasTcpFlags = this.hasIcmp = false;
    this.truncated = this.malformed = false;
    this.ipProto = this.tcpFlags = this.icmpType = this.icmpCode = 0;
    this.srcPort = this.dstPort = this.arpOp = 0;
  }
}

const be16 = (p: Uint8Array, o: number) => (p[o]! << 8) | p[o + 1]!;
const be32 = (p: Uint8Array, o: number) => ((p[o]! << 24) | (p[o + 1]! << 16) | (p[o + 2]! << 8) | p[o + 3]!) >>> 0;
const le32 = (p: Uint8Array, o: number) => ((p[o + 3]! << 24) | (p[o + 2]! << 16) | (p[o + 1]! << 8) | p[o]!) >>> 0;

/** The packet's bytes: cap = caplen, wire = the frame's length on the wire (never below caplen). */
interface View {
  p: Uint8Array;
  cap: number;
  wire: number;
}

// Whether bytes [off, off+n) were captured. If not, says why: past the wire
// end of the enclosing unit is malformed, past caplen only is truncated.
function need(d: Decoded, off: number, n: number, v: View, end: number): boolean {
  if (off + n > end) {
    d.malformed = true;
    return false;
  }
  if (off + n > v.cap) {
    d.truncated = true;
    return false;
  }
  return true;
}

function copy(dst: Uint8Array, p: Uint8Array, o: number, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = p[o + i]!;
}

function mapV4(dst: Uint8Array, p: Uint8Array, o: number): void {
  for (let i = 0; i < 10; i++) dst[i] = 0;
  dst[10] = 0xff;
  dst[11] = 0xff;
  dst[12] = p[o]!;
  dst[13] = p[o + 1]!;
  dst[14] = p[o + 2]!;
  dst[15] = p[o + 3]!;
}

// TCP/UDP/ICMP header at off; end is where the IP datagram ends on the wire.
function l4(d: Decoded, v: View, off: number, end: number, v6: boolean): void {
  const p = v.p;
  switch (d.ipProto) {
    case 6: {
      if (!need(d, off, 20, v, end)) return;
      d.srcPort = be16(p, off);
      d.dstPort = be16(p, off + 2);
      d.hasPorts = true;
      d.tcpFlags = p[off + 13]!;
      d.hasTcpFlags = true;
      const doff = (p[off + 12]! >> 4) * 4;
      if (doff < 20 || off + doff > end) d.malformed = true;
      return;
    }
    case 17: {
      if (!need(d, off, 8, v, end)) return;
      d.srcPort = be16(p, off);
      d.dstPort = be16(p, off + 2);
      d.hasPorts = true;
      const ulen = be16(p, off + 4); // 0 is allowed for IPv6 jumbograms
      // A first fragment's UDP length covers the whole datagram, past this fragment's end.
      if (ulen !== 0 && (ulen < 8 || (!d.fragment && off + ulen > end))) d.malformed = true;
      return;
    }
    case 1:
    case 58:
      if ((d.ipProto === 58) !== v6) return; // ICMP in IPv4, ICMPv6 in IPv6
      if (!need(d, off, 4, v, end)) return;
      d.icmpType = p[off]!;
      d.icmpCode = p[off + 1]!;
      d.hasIcmp = true;
      return;
    default:
      return;
  }
}

function ipv4(d: Decoded, v: View, off: number): void {
  d.l3 = L3_IPV4;
  const p = v.p;
  if (!need(d, off, 20, v, v.wire)) return;
  if (p[off]! >> 4 !== 4) {
    d.malformed = true;
    return;
  }
  mapV4(d.srcIp, p, off + 12);
  mapV4(d.dstIp, p, off + 16);
  d.hasIps = true;
  d.ipProto = p[off + 9]!;
  d.protoKnown = true;
  const ihl = (p[off]! & 15) * 4;
  const total = be16(p, off + 2);
  if (ihl < 20 || total < ihl) {
    d.malformed = true;
    return;
  }
  let end = off + total;
  if (end > v.wire) {
    // longer than the frame that carried it
    d.malformed = true;
    end = v.wire;
  }
  const ff = be16(p, off + 6);
  if (ff & 0x3fff) d.fragment = true; // MF or an offset
  if (ff & 0x1fff) return; // not the first fragment: no L4 header here
  if (!need(d, off, ihl, v, end)) return;
  l4(d, v, off + ihl, end, false);
}

function ipv6(d: Decoded, v: View, off: number): void {
  d.l3 = L3_IPV6;
  const p = v.p;
  if (!need(d, off, 40, v, v.wire)) return;
  if (p[off]! >> 4 !== 6) {
    d.malformed = true;
    return;
  }
  copy(d.srcIp, p, off + 8, 16);
  copy(d.dstIp, p, off + 24, 16);
  d.hasIps = true;
  const plen = be16(p, off + 4);
  let nh = p[off + 6]!;
  let end = off + 40 + plen;
  if (plen === 0 && nh !== 59) end = v.wire; // a jumbogram: its length is in an option
  if (end > v.wire) {
    d.malformed = true;
    end = v.wire;
  }
  let pos = off + 40;
  for (;;) {
    // every extension header advances pos by >= 8, within end
    switch (nh) {
      case 0: // hop-by-hop options
      case 43: // routing
      case 60: // destination options
      case 51: {
        // authentication header
        if (!need(d, pos, 2, v, end)) return;
        const hl = nh === 51 ? (p[pos + 1]! + 2) * 4 : (p[pos + 1]! + 1) * 8;
        if (!need(d, pos, hl, v, end)) return;
        nh = p[pos]!;
        pos += hl;
        continue;
      }
      case 44: {
        // fragment
        if (!need(d, pos, 8, v, end)) return;
        const fo = be16(p, pos + 2);
        nh = p[pos]!;
        pos += 8;
        if (fo & 0xfff9) d.fragment = true; // an offset, or M
        if (fo >> 3) {
          // not the first fragment
          d.ipProto = nh;
          d.protoKnown = true;
          return;
        }
        continue;
      }
      default: // an upper layer, ESP (50) or no next header (59)
        d.ipProto = nh;
        d.protoKnown = true;
        l4(d, v, pos, end, true);
        return;
    }
  }
}

function arp(d: Decoded, v: View, off: number): void {
  d.l3 = L3_ARP;
  const p = v.p;
  if (!need(d, off, 8, v, v.wire)) return;
  const ptype = be16(p, off + 2);
  const hlen = p[off + 4]!;
  const plen = p[off + 5]!;
  d.arpOp = be16(p, off + 6);
  if (!need(d, off, 8 + 2 * hlen + 2 * plen, v, v.wire)) return;
  if (ptype === 0x0800 && plen === 4) {
    mapV4(d.srcIp, p, off + 8 + hlen);
    mapV4(d.dstIp, p, off + 8 + 2 * hlen + 4);
    d.hasIps = true;
  }
}

// From an ethertype whose payload starts at off: skips VLAN tags, then
// decodes the network layer it names.
function fromEthertype(d: Decoded, v: View, et: number, off: number): void {
  while ((et === 0x8100 || et === 0x88a8 || et === 0x9100) && d.vlanDepth < 4) {
    if (!need(d, off, 4, v, v.wire)) {
      d.ethertype = et;
      return; // the inner protocol is unknown
    }
    et = be16(v.p, off + 2);
    off += 4;
    d.vlanDepth++;
  }
  d.ethertype = et;
  switch (et) {
    case 0x0800:
      ipv4(d, v, off);
      break;
    case 0x86dd:
      ipv6(d, v, off);
      break;
    case 0x0806:
      arp(d, v, off);
      break;
    default:
      d.l3 = L3_OTHER; // incl. 802.3 lengths and tags deeper than 4
      break;
  }
}

const afInet6 = (af: number) => af === 24 || af === 28 || af === 30;

/**
 * Decodes p (data holds caplen bytes) into d. Returns whether a network
 * layer was identified. Truncated and malformed packets are still decoded as
 * far as their bytes allow; the caller counts them.
 */
export function decode(data: Uint8Array, wirelen: number, linktype: number, d: Decoded): boolean {
  d.reset();
  const cap = data.length;
  const v: View = { p: data, cap, wire: Math.max(wirelen, cap) };
  const p = data;
  switch (linktype) {
    case 1: // Ethernet
      if (!need(d, 0, 14, v, v.wire)) break;
      copy(d.dstMac, p, 0, 6);
      copy(d.srcMac, p, 6, 6);
      d.hasDstMac = d.hasSrcMac = true;
      fromEthertype(d, v, be16(p, 12), 14);
      break;
    case 113: // Linux cooked v1: type, ARPHRD, addr len, addr[8], protocol
      if (!need(d, 0, 16, v, v.wire)) break;
      if (be16(p, 2) === 1 && be16(p, 4) === 6) {
        copy(d.srcMac, p, 6, 6);
        d.hasSrcMac = true;
      }
      fromEthertype(d, v, be16(p, 14), 16);
      break;
    case 276: // Linux cooked v2: protocol, reserved, ifindex, ARPHRD, type, addr len, addr[8]
      if (!need(d, 0, 20, v, v.wire)) break;
      if (be16(p, 8) === 1 && p[11] === 6) {
        copy(d.srcMac, p, 12, 6);
        d.hasSrcMac = true;
      }
      fromEthertype(d, v, be16(p, 0), 20);
      break;
    case 101: // raw IP: the version nibble says which
      if (!need(d, 0, 1, v, v.wire)) break;
      if (p[0]! >> 4 === 4) {
        d.ethertype = 0x0800;
        ipv4(d, v, 0);
      } else if (p[0]! >> 4 === 6) {
        d.ethertype = 0x86dd;
        ipv6(d, v, 0);
      } else {
        d.l3 = L3_OTHER;
        d.malformed = true;
      }
      break;
    case 228:
      d.ethertype = 0x0800;
      ipv4(d, v, 0);
      break;
    case 229:
      d.ethertype = 0x86dd;
      ipv6(d, v, 0);
      break;
    case 0: // BSD loopback: AF in the capturing host's byte order
    case 108: {
      // OpenBSD loopback: AF in network order
      if (!need(d, 0, 4, v, v.wire)) break;
      const a = le32(p, 0);
      const b = be32(p, 0);
      if (a === 2 || b === 2) {
        d.ethertype = 0x0800;
        ipv4(d, v, 4);
      } else if (afInet6(a) || afInet6(b)) {
        d.ethertype = 0x86dd;
        ipv6(d, v, 4);
      } else {
        d.l3 = L3_OTHER;
      }
      break;
    }
    default: // a link type we do not decode
      break;
  }
  return d.l3 !== L3_NON_IP;
}
