#include "packet_decode.h"

#include <algorithm>
#include <cstring>

namespace labtel {

namespace {

inline uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
inline uint32_t le32(const uint8_t* p) { return uint32_t(p[3]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0]; }

// The packet's bytes: cap = caplen, wire = the frame's length on the wire
// (never below caplen).
struct View {
  const uint8_t* p;
  uint64_t cap;
  uint64_t wire;
};

// Whether bytes [off, off+n) were captured. If not, says why: past the wire
// end of the enclosing unit is malformed, past caplen only is truncated.
inline bool need(Decoded* d, uint64_t off, uint64_t n, const View& v, uint64_t end) {
  if (off + n > end) {
    d->malformed = true;
    return false;
  }
  if (off + n > v.cap) {
    d->truncated = true;
    return false;
  }
  return true;
}

// IPv4 address as ::ffff:a.b.c.d, written as two 8-byte words so that the
// bucketizer's 8-byte loads of it are store-forwarded (byte-wise stores
// would stall them).
inline void map_v4(uint8_t* dst, const uint8_t* src) {
  uint32_t a;
  std::memcpy(&a, src, 4);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t hi = 0xffff0000ull | uint64_t(a) << 32;
#else
  uint64_t hi = 0x0000ffff00000000ull | a;
#endif
  uint64_t lo = 0;
  std::memcpy(dst, &lo, 8);
  std::memcpy(dst + 8, &hi, 8);
}

// TCP/UDP/ICMP header at off; end is where the IP datagram ends on the wire.
void l4(Decoded* d, const View& v, uint64_t off, uint64_t end, bool v6) {
  const uint8_t* p = v.p;
  switch (d->ip_proto) {
    case 6: {
      if (!need(d, off, 20, v, end)) return;
      d->src_port = be16(p + off);
      d->dst_port = be16(p + off + 2);
      d->has_ports = true;
      d->tcp_flags = p[off + 13];
      d->has_tcp_flags = true;
      uint64_t doff = uint64_t(p[off + 12] >> 4) * 4;
      if (doff < 20 || off + doff > end) d->malformed = true;
      return;
    }
    case 17: {
      if (!need(d, off, 8, v, end)) return;
      d->src_port = be16(p + off);
      d->dst_port = be16(p + off + 2);
      d->has_ports = true;
      uint16_t ulen = be16(p + off + 4);  // 0 is allowed for IPv6 jumbograms
      // A first fragment's UDP length covers the whole datagram, past this packet.
      if (ulen != 0 && (ulen < 8 || (!d->fragment && off + ulen > end))) d->malformed = true;
      return;
    }
    case 1:
    case 58:
      if ((d->ip_proto == 58) != v6) return;  // ICMP in IPv4, ICMPv6 in IPv6
      if (!need(d, off, 4, v, end)) return;
      d->icmp_type = p[off];
      d->icmp_code = p[off + 1];
      d->has_icmp = true;
      return;
    default:
      return;
  }
}

void ipv4(Decoded* d, const View& v, uint64_t off) {
  d->l3 = L3Kind::ipv4;
  const uint8_t* p = v.p;
  if (!need(d, off, 20, v, v.wire)) return;
  if ((p[off] >> 4) != 4) {
    d->malformed = true;
    return;
  }
  map_v4(d->src_ip, p + off + 12);
  map_v4(d->dst_ip, p + off + 16);
  d->has_ips = true;
  d->ip_proto = p[off + 9];
  d->proto_known = true;
  uint32_t ihl = (p[off] & 15u) * 4u, total = be16(p + off + 2);
  if (ihl < 20 || total < ihl) {
    d->malformed = true;
    return;
  }
  uint64_t end = off + total;
  if (end > v.wire) {  // longer than the frame that carried it
    d->malformed = true;
    end = v.wire;
  }
  uint16_t ff = be16(p + off + 6);
  if (ff & 0x3fff) d->fragment = true;  // MF or an offset
  if (ff & 0x1fff) return;              // not the first fragment: no L4 header here
  if (!need(d, off, ihl, v, end)) return;
  l4(d, v, off + ihl, end, false);
}

void ipv6(Decoded* d, const View& v, uint64_t off) {
  d->l3 = L3Kind::ipv6;
  const uint8_t* p = v.p;
  if (!need(d, off, 40, v, v.wire)) return;
  if ((p[off] >> 4) != 6) {
    d->malformed = true;
    return;
  }
  std::memcpy(d->src_ip, p + off + 8, 16);
  std::memcpy(d->dst_ip, p + off + 24, 16);
  d->has_ips = true;
  uint32_t plen = be16(p + off + 4);
  uint8_t nh = p[off + 6];
  uint64_t end = off + 40 + plen;
  if (plen == 0 && nh != 59) end = v.wire;  // a jumbogram: its length is in an option
  if (end > v.wire) {
    d->malformed = true;
    end = v.wire;
  }
  uint64_t pos = off + 40;
  for (;;) {  // every extension header advances pos by >= 8, within end
    switch (nh) {
      case 0:    // hop-by-hop options
      case 43:   // routing
      case 60:   // destination options
      case 51: {  // authentication header
        if (!need(d, pos, 2, v, end)) return;
        uint64_t hl = nh == 51 ? (p[pos + 1] + 2u) * 4u : (p[pos + 1] + 1u) * 8u;
        if (!need(d, pos, hl, v, end)) return;
        nh = p[pos];
        pos += hl;
        continue;
      }
      case 44: {  // fragment
        if (!need(d, pos, 8, v, end)) return;
        uint16_t fo = be16(p + pos + 2);
        nh = p[pos];
        pos += 8;
        if (fo & 0xfff9) d->fragment = true;  // an offset, or M
        if (fo >> 3) {  // not the first fragment
          d->ip_proto = nh;
          d->proto_known = true;
          return;
        }
        continue;
      }
      default:  // an upper layer, ESP (50) or no next header (59)
        d->ip_proto = nh;
        d->proto_known = true;
        l4(d, v, pos, end, true);
        return;
    }
  }
}

void arp(Decoded* d, const View& v, uint64_t off) {
  d->l3 = L3Kind::arp;
  const uint8_t* p = v.p;
  if (!need(d, off, 8, v, v.wire)) return;
  uint16_t ptype = be16(p + off + 2);
  uint32_t hlen = p[off + 4], plen = p[off + 5];
  d->arp_op = be16(p + off + 6);
  if (!need(d, off, 8 + 2 * hlen + 2 * plen, v, v.wire)) return;
  if (ptype == 0x0800 && plen == 4) {
    map_v4(d->src_ip, p + off + 8 + hlen);
    map_v4(d->dst_ip, p + off + 8 + 2 * hlen + 4);
    d->has_ips = true;
  }
}

// From an ethertype whose payload starts at off: skips VLAN tags, then
// decodes the network layer it names.
void from_ethertype(Decoded* d, const View& v, uint16_t et, uint64_t off) {
  while ((et == 0x8100 || et == 0x88a8 || et == 0x9100) && d->vlan_depth < 4) {
    if (!need(d, off, 4, v, v.wire)) {
      d->ethertype = et;
      return;  // the inner protocol is unknown
    }
    et = be16(v.p + off + 2);
    off += 4;
    d->vlan_depth++;
  }
  d->ethertype = et;
  switch (et) {
    case 0x0800: ipv4(d, v, off); break;
    case 0x86DD: ipv6(d, v, off); break;
    case 0x0806: arp(d, v, off); break;
    default: d->l3 = L3Kind::other; break;  // incl. 802.3 lengths and tags deeper than 4
  }
}

inline bool af_inet6(uint32_t af) { return af == 24 || af == 28 || af == 30; }

// The common case in one piece: Ethernet, IPv4 without options or
// fragmentation, a TCP or UDP header, all captured and all lengths
// consistent. Fills exactly what decode_generic() would; false otherwise.
inline bool decode_fast(const Packet& pk, Decoded* d) {
  const uint8_t* p = pk.data;
  if (pk.linktype != 1 || pk.caplen < 42 || p[12] != 0x08 || p[13] != 0x00 || p[14] != 0x45) return false;
  if ((p[20] & 0x3f) != 0 || p[21] != 0) return false;  // MF or an offset: a fragment
  uint32_t total = be16(p + 16), wire = std::max(pk.wirelen, pk.caplen);
  if (14 + total > wire) return false;
  uint8_t proto = p[23];
  if (proto == 6) {
    if (pk.caplen < 54 || total < 40) return false;
    uint32_t doff = uint32_t(p[46] >> 4) * 4;
    if (doff < 20 || 20 + doff > total) return false;
  } else if (proto == 17) {
    if (total < 28) return false;
    uint32_t ulen = be16(p + 38);
    if (ulen != 0 && (ulen < 8 || 20 + ulen > total)) return false;
  } else {
    return false;
  }
  std::memset(d, 0, sizeof *d);
  d->l3 = L3Kind::ipv4;
  d->ethertype = 0x0800;
  std::memcpy(d->dst_mac, p, 6);
  std::memcpy(d->src_mac, p + 6, 6);
  d->has_dst_mac = d->has_src_mac = true;
  map_v4(d->src_ip, p + 26);
  map_v4(d->dst_ip, p + 30);
  d->has_ips = true;
  d->ip_proto = proto;
  d->proto_known = true;
  d->src_port = be16(p + 34);
  d->dst_port = be16(p + 36);
  d->has_ports = true;
  if (proto == 6) {
    d->tcp_flags = p[47];
    d->has_tcp_flags = true;
  }
  return true;
}

}  // namespace

bool decode(const Packet& pk, Decoded* d) { return decode_fast(pk, d) || decode_generic(pk, d); }

bool decode_generic(const Packet& pk, Decoded* d) {
  std::memset(d, 0, sizeof *d);
  const View v{pk.data, pk.caplen, std::max(pk.wirelen, pk.caplen)};
  const uint8_t* p = pk.data;
  switch (pk.linktype) {
    case 1:  // Ethernet
      if (!need(d, 0, 14, v, v.wire)) break;
      std::memcpy(d->dst_mac, p, 6);
      std::memcpy(d->src_mac, p + 6, 6);
      d->has_dst_mac = d->has_src_mac = true;
      from_ethertype(d, v, be16(p + 12), 14);
      break;
    case 113:  // Linux cooked v1: type, ARPHRD, addr len, addr[8], protocol
      if (!need(d, 0, 16, v, v.wire)) break;
      if (be16(p + 2) == 1 && be16(p + 4) == 6) {
        std::memcpy(d->src_mac, p + 6, 6);
        d->has_src_mac = true;
      }
      from_ethertype(d, v, be16(p + 14), 16);
      break;
    case 276:  // Linux cooked v2: protocol, reserved, ifindex, ARPHRD, type, addr len, addr[8]
      if (!need(d, 0, 20, v, v.wire)) break;
      if (be16(p + 8) == 1 && p[11] == 6) {
        std::memcpy(d->src_mac, p + 12, 6);
        d->has_src_mac = true;
      }
      from_ethertype(d, v, be16(p), 20);
      break;
    case 101:  // raw IP: the version nibble says which
      if (!need(d, 0, 1, v, v.wire)) break;
      if ((p[0] >> 4) == 4) {
        d->ethertype = 0x0800;
        ipv4(d, v, 0);
      } else if ((p[0] >> 4) == 6) {
        d->ethertype = 0x86DD;
        ipv6(d, v, 0);
      } else {
        d->l3 = L3Kind::other;
        d->malformed = true;
      }
      break;
    case 228:
      d->ethertype = 0x0800;
      ipv4(d, v, 0);
      break;
    case 229:
      d->ethertype = 0x86DD;
      ipv6(d, v, 0);
      break;
    case 0:     // BSD loopback: AF in the capturing host's byte order
    case 108: {  // OpenBSD loopback: AF in network order
      if (!need(d, 0, 4, v, v.wire)) break;
      uint32_t a = le32(p), b = be32(p);
      if (a == 2 || b == 2) {
        d->ethertype = 0x0800;
        ipv4(d, v, 4);
      } else if (af_inet6(a) || af_inet6(b)) {
        d->ethertype = 0x86DD;
        ipv6(d, v, 4);
      } else {
        d->l3 = L3Kind::other;
      }
      break;
    }
    default:  // a link type we do not decode
      break;
  }
  return d->l3 != L3Kind::non_ip;
}

}  // namespace labtel
