// Writes a synthetic classic-pcap capture for benchmarks (microsecond
// timestamps, snaplen 262144, Ethernet): a guest (10.200.0.10) behind a bridge
// talking to 200 peers over 2000 flows, half the packets each way. Drawn per
// packet: 70% IPv4 TCP, 15% IPv4 UDP, 8% IPv6 TCP, 4% ICMP, 3% ARP; 5%
// VLAN-tagged; 1 to 1999 µs apart (uniform). Frame sizes: --small asks 60
// bytes for every frame, otherwise 60% are 60-127 bytes and 40% 1200-1513
// (uniform); IPv6 TCP frames are at least 74 bytes (78 tagged), so even
// --small has some longer frames. It returns (and the CLI prints) what it
// actually wrote, so a benchmark describes its capture from these counts.
//
//   tsx scripts/bench/gen-capture.ts OUT.pcap PACKETS [--small] [--seed N]
import fs from 'node:fs';

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a generated capture holds, counted while writing it. */
export interface CaptureStats {
  packets: number;
  file_bytes: number;
  small: boolean;
  seed: number;
  ipv4_tcp: number;
  ipv4_udp: number;
  icmp: number;
  ipv6_tcp: number;
  arp: number;
  vlan: number;
  from_guest: number;
  frame_bytes: { min: number; max: number; mean: number };
  span_s: number;
}

export function generateCapture(out: string, packets: number, opts: { small?: boolean; seed?: number } = {}): CaptureStats {
  const st: CaptureStats = {
    packets,
    file_bytes: 0,
    small: opts.small ?? false,
    seed: opts.seed ?? 1,
    ipv4_tcp: 0,
    ipv4_udp: 0,
    icmp: 0,
    ipv6_tcp: 0,
    arp: 0,
    vlan: 0,
    from_guest: 0,
    frame_bytes: { min: 0, max: 0, mean: 0 },
    span_s: 0,
  };
  let frameBytes = 0;
  let minFrame = Infinity;
  let maxFrame = 0;
  const r = rng(opts.seed ?? 1);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo));
  const guest = [10, 200, 0, 10];
  const peers = Array.from({ length: 200 }, () => [10, 200, int(1, 255), int(1, 255)]);
  const flows = Array.from({ length: 2000 }, () => ({ peer: peers[int(0, 200)]!, sport: int(1024, 65535), dport: [22, 80, 443, 53, 4444, 8080, int(1, 65535)][int(0, 7)]! }));
  const macGuest = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
  const macBridge = [0xfe, 0x54, 0, 0xab, 0xcd, 0xef];
  const fd = fs.openSync(out, 'w');
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(262144, 16);
  head.writeUInt32LE(1, 20);
  fs.writeSync(fd, head);
  const batch = Buffer.alloc(16 * 1024 * 1024);
  let used = 0;
  const ts0 = 1_700_000_000_000_000; // µs
  let ts = ts0;
  for (let i = 0; i < packets; i++) {
    ts += int(1, 2000);
    const out = r() < 0.5;
    const f = flows[int(0, 2000)]!;
    const [src, dst] = out ? [guest, f.peer] : [f.peer, guest];
    const [sport, dport] = out ? [f.sport, f.dport] : [f.dport, f.sport];
    const kind = r();
    const size = opts.small ? 60 : r() < 0.6 ? int(60, 128) : int(1200, 1514);
    const vlan = r() < 0.05;
    // IPv6 + TCP headers need 74 bytes (78 tagged): such frames are longer than `size`.
    const frame = Buffer.alloc(Math.max(size, kind >= 0.03 && kind < 0.11 ? (vlan ? 78 : 74) : 60));
    frameBytes += frame.length;
    minFrame = Math.min(minFrame, frame.length);
    maxFrame = Math.max(maxFrame, frame.length);
    if (vlan) st.vlan++;
    if (out) st.from_guest++;
    if (kind < 0.03) st.arp++;
    else if (kind < 0.11) st.ipv6_tcp++;
    else if (kind < 0.15) st.icmp++;
    else if (kind < 0.3) st.ipv4_udp++;
    else st.ipv4_tcp++;
    let o = 0;
    for (const b of out ? [...macBridge, ...macGuest] : [...macGuest, ...macBridge]) frame[o++] = b;
    if (vlan) o = frame.writeUInt16BE(100, frame.writeUInt16BE(0x8100, o));
    if (kind < 0.03) {
      o = frame.writeUInt16BE(0x0806, o);
      for (const b of [0, 1, 8, 0, 6, 4, 0, 1, ...macGuest, ...guest, 0, 0, 0, 0, 0, 0, ...f.peer]) if (o < frame.length) frame[o++] = b;
    } else if (kind < 0.11) {
      o = frame.writeUInt16BE(0x86dd, o);
      const plen = frame.length - o - 40;
      o = frame.writeUInt32BE(0x60000000, o);
      o = frame.writeUInt16BE(plen, o);
      frame[o++] = 6;
      frame[o++] = 64;
      for (const a of [src, dst]) {
        frame[o] = 0xfd;
        o += 12;
        for (const b of a) frame[o++] = b;
      }
      if (o + 20 <= frame.length) {
        o = frame.writeUInt16BE(sport, o);
        o = frame.writeUInt16BE(dport, o);
        o = frame.writeUInt32BE(i >>> 0, o) + 4;
        frame[o++] = 0x50;
        frame[o++] = [0x02, 0x10, 0x18, 0x11, 0x04][int(0, 5)]!;
      }
    } else {
      o = frame.writeUInt16BE(0x0800, o);
      const proto = kind < 0.15 ? 1 : kind < 0.3 ? 17 : 6;
      const total = frame.length - o;
      frame[o] = 0x45;
      frame.writeUInt16BE(total, o + 2);
      frame.writeUInt16BE(i & 0xffff, o + 4);
      frame[o + 8] = 64;
      frame[o + 9] = proto;
      for (let k = 0; k < 4; k++) {
        frame[o + 12 + k] = src[k]!;
        frame[o + 16 + k] = dst[k]!;
      }
      o += 20;
      if (proto === 1) frame[o] = 8;
      else {
        frame.writeUInt16BE(sport, o);
        frame.writeUInt16BE(dport, o + 2);
        if (proto === 17) frame.writeUInt16BE(total - 20, o + 4);
        else {
          frame[o + 12] = 0x50;
          frame[o + 13] = [0x02, 0x10, 0x18, 0x11, 0x04, 0x12][int(0, 6)]!;
        }
      }
    }
    if (used + 16 + frame.length > batch.length) {
      fs.writeSync(fd, batch, 0, used);
      used = 0;
    }
    used = batch.writeUInt32LE(Math.floor(ts / 1e6), used);
    used = batch.writeUInt32LE(ts % 1e6, used);
    used = batch.writeUInt32LE(frame.length, used);
    used = batch.writeUInt32LE(frame.length, used);
    used += frame.copy(batch, used);
  }
  fs.writeSync(fd, batch, 0, used);
  fs.closeSync(fd);
  st.file_bytes = fs.statSync(out).size;
  st.frame_bytes = packets > 0 ? { min: minFrame, max: maxFrame, mean: Math.round((frameBytes / packets) * 10) / 10 } : { min: 0, max: 0, mean: 0 };
  st.span_s = (ts - ts0) / 1e6;
  return st;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [out, n] = process.argv.slice(2);
  const seedAt = process.argv.indexOf('--seed');
  console.log(JSON.stringify(generateCapture(out!, Number(n), { small: process.argv.includes('--small'), seed: seedAt > 0 ? Number(process.argv[seedAt + 1]) : 1 })));
}
