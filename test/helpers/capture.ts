// Small captures built in tests: classic pcap and pcapng, Ethernet/IPv4/TCP.
export const GUEST = [10, 200, 0, 10];
export const PEER = [10, 200, 0, 1];

export function tcpFrame(src: number[], dst: number[], flags = 0x02): Buffer {
  const f = Buffer.alloc(54);
  Buffer.from([0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0x08, 0x00]).copy(f);
  f[14] = 0x45;
  f.writeUInt16BE(40, 16);
  f[22] = 64;
  f[23] = 6;
  Buffer.from(src).copy(f, 26);
  Buffer.from(dst).copy(f, 30);
  f.writeUInt16BE(1234, 34);
  f.writeUInt16BE(80, 36);
  f[46] = 0x50;
  f[47] = flags;
  return f;
}

export function pcapHeader(snaplen = 65535): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(snaplen, 16);
  h.writeUInt32LE(1, 20);
  return h;
}

export function pcapRecord(tsUs: number, data: Buffer, caplen = data.length, wirelen = data.length): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(Math.floor(tsUs / 1e6), 0);
  h.writeUInt32LE(tsUs % 1e6, 4);
  h.writeUInt32LE(caplen, 8);
  h.writeUInt32LE(wirelen, 12);
  return Buffer.concat([h, data]);
}

export function ngBlock(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(type, 0);
  h.writeUInt32LE(12 + body.length, 4);
  const t = Buffer.alloc(4);
  t.writeUInt32LE(12 + body.length, 0);
  return Buffer.concat([h, body, t]);
}

export function ngSection(): Buffer {
  const shb = Buffer.alloc(16);
  shb.writeUInt32LE(0x1a2b3c4d, 0);
  shb.writeUInt16LE(1, 4);
  shb.writeBigInt64LE(-1n, 8);
  const idb = Buffer.alloc(8);
  idb.writeUInt16LE(1, 0);
  idb.writeUInt32LE(65535, 4);
  return Buffer.concat([ngBlock(0x0a0d0d0a, shb), ngBlock(1, idb)]);
}

export function ngPacket(iface: number, tsUs: bigint, data: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt32LE(iface, 0);
  h.writeUInt32LE(Number(tsUs >> 32n), 4);
  h.writeUInt32LE(Number(tsUs & 0xffffffffn), 8);
  h.writeUInt32LE(data.length, 12);
  h.writeUInt32LE(data.length, 16);
  return ngBlock(6, Buffer.concat([h, data, Buffer.alloc((4 - (data.length % 4)) % 4)]));
}

/** Wall-clock µs of the first test packet (2023-11-14, 22:13:21 UTC). */
export const T0_US = 1_700_000_001_000_000;
/** Three good packets, 60 ms apart from T0: two 100 ms buckets of rows. */
export const threeGood = () => [0, 1, 2].map((i) => pcapRecord(T0_US + i * 60_000, tcpFrame(PEER, GUEST)));
export const threeGoodNg = () => [0, 1, 2].map((i) => ngPacket(0, 1_700_000_000_000_000n + BigInt(i * 60_000), tcpFrame(PEER, GUEST)));
