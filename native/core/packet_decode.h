// Decodes the headers of one captured packet, down to L4 ports and flags,
// without ever reading past caplen. Link types: Ethernet (1), Linux cooked
// v1 (113) and v2 (276), raw IP (101, 228, 229), BSD loopback (0, and 108).
// VLAN tags (0x8100, 0x88a8, 0x9100, up to 4 deep), IPv4 (options,
// fragments), IPv6 (extension headers), TCP, UDP, ICMP, ICMPv6, ARP.
#pragma once
#include <cstdint>

#include "pcap_reader.h"

namespace labtel {

enum class L3Kind : uint8_t {
  non_ip,  // no network layer found: unsupported link type, or a link header cut short
  ipv4,
  ipv6,
  arp,
  other,  // the link layer names something else (ethertype/AF/LLC): counted as non-IP
};

struct Decoded {
  L3Kind l3;
  uint8_t vlan_depth;   // VLAN tags skipped
  uint16_t ethertype;   // after the VLAN tags; 0x0800/0x86dd for raw IP and loopback; 0 when none
  bool has_src_mac;     // the link header carries the source MAC (Ethernet; cooked with a 6-byte address)
  bool has_dst_mac;     // the link header carries the destination MAC (Ethernet)
  bool has_ips;         // src_ip/dst_ip set: IPv4/IPv6 header present, or ARP sender/target IPv4
  bool proto_known;     // ip_proto set (IP header, and IPv6 extension chain, were readable)
  bool fragment;        // part of a fragmented datagram (IPv4 MF/offset, IPv6 fragment header)
  bool has_ports;       // src_port/dst_port set: TCP/UDP header present (first fragment only)
  bool has_tcp_flags;   // tcp_flags set
  bool has_icmp;        // icmp_type/icmp_code set (ICMP for IPv4, ICMPv6 for IPv6)
  bool truncated;       // caplen too short for a header the wire length says exists
  bool malformed;       // lengths inside the packet that cannot be right
  uint8_t ip_proto;     // IPv4 protocol, or IPv6 upper-layer header after the extension headers
  uint8_t tcp_flags;    // FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80
  uint8_t icmp_type;
  uint8_t icmp_code;
  uint16_t src_port;
  uint16_t dst_port;
  uint16_t arp_op;      // ARP opcode when l3 == arp and the header is present
  uint8_t src_mac[6];
  uint8_t dst_mac[6];
  uint8_t src_ip[16];   // IPv6, or IPv4 mapped as ::ffff:a.b.c.d
  uint8_t dst_ip[16];
};

// Fills *d (all of it). Returns whether a network layer was identified
// (l3 != non_ip). Truncated and malformed packets are still decoded as far
// as their bytes allow; the caller counts them.
bool decode(const Packet& p, Decoded* d);

// decode() without its fast path for Ethernet/IPv4/TCP|UDP (the tests and
// the fuzzer check that both give identical results).
bool decode_generic(const Packet& p, Decoded* d);

}  // namespace labtel
