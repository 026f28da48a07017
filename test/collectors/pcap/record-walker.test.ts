// tcpdump's output arrives in pipe-sized pieces that cut records anywhere;
// the saved files and netflow must only ever see whole records.
import { describe, expect, it } from 'vitest';
import { PcapRecordWalker, PcapStreamError } from '../../../src/collectors/pcap/record-walker.js';
import { GUEST, PEER, pcapHeader, pcapRecord, tcpFrame, T0_US } from '../../helpers/capture.js';

const records = [0, 1, 2, 3, 4].map((i) => pcapRecord(T0_US + i * 1000, tcpFrame(PEER, GUEST), 54, 60 + i));
const stream = Buffer.concat([pcapHeader(), ...records]);

describe('PcapRecordWalker', () => {
  it('gives whole records, counts packets and wire bytes, whatever the chunk size', () => {
    for (const size of [1, 7, 16, 24, 70, 1000]) {
      const w = new PcapRecordWalker();
      const out: Buffer[] = [];
      let packets = 0;
      let wire = 0;
      for (let at = 0; at < stream.length; at += size) {
        const r = w.push(stream.subarray(at, at + size));
        out.push(Buffer.from(r.records));
        packets += r.packets;
        wire += r.wireBytes;
      }
      expect(Buffer.concat(out)).toEqual(Buffer.concat(records));
      expect(packets).toBe(5);
      expect(wire).toBe(60 + 61 + 62 + 63 + 64);
      expect(w.header).toEqual(pcapHeader());
      expect(w.pending).toBe(0);
    }
  });

  it('holds back a record cut short and says how many bytes it holds (tcpdump killed mid-write)', () => {
    const w = new PcapRecordWalker();
    const r = w.push(stream.subarray(0, stream.length - 10));
    expect(r.packets).toBe(4);
    expect(w.pending).toBe(records[4]!.length - 10);
  });

  it('refuses a stream that is not pcap, and a record longer than the snaplen', () => {
    expect(() => new PcapRecordWalker().push(Buffer.alloc(64))).toThrow(PcapStreamError);
    const long = Buffer.concat([pcapHeader(100), pcapRecord(T0_US, Buffer.alloc(101))]);
    expect(() => new PcapRecordWalker().push(long)).toThrow('tcpdump wrote a record of 101 bytes, more than the snaplen 100');
  });
});
