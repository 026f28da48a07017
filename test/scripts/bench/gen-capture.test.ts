import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateCapture } from '../../../scripts/bench/gen-capture.js';
import { has } from '../../helpers/programs.js';
import { tmpDir } from '../../helpers/tmp.js';

/** Packets libpcap counts in FILE that match FILTER (`tcpdump --count`). */
function count(file: string, filter: string): number {
  const out = execFileSync('tcpdump', ['--count', '-r', file, filter].filter(Boolean), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const m = /^(\d+) packets?/m.exec(out);
  if (!m) throw new Error(`tcpdump --count printed no count for ${JSON.stringify(filter)}: ${out}`);
  return Number(m[1]);
}

// Both forms: libpcap filters see a VLAN-tagged frame only after `vlan`.
const either = (f: string) => `(${f}) or (vlan and ${f})`;

describe.runIf(has('tcpdump'))('gen-capture: what bench:bucketize says it generated is what libpcap reads', () => {
  // Regression for: BENCHMARKS.md described the small-frame capture as "60-byte frames" from the generator's comment,
  // while 8% of its frames (IPv6 TCP) are 74 or 78 bytes; the description now comes from these counts.
  it.each([
    ['small frames', { small: true, seed: 2 }],
    ['mixed sizes', { small: false, seed: 3 }],
  ])('%s: every count matches tcpdump --count', (_name, opts) => {
    const file = path.join(tmpDir(), 'gen.pcap');
    const st = generateCapture(file, 20_000, opts);
    expect(count(file, '')).toBe(st.packets);
    expect(count(file, 'vlan')).toBe(st.vlan);
    expect(count(file, either('arp'))).toBe(st.arp);
    expect(count(file, either('ip6 and tcp'))).toBe(st.ipv6_tcp);
    expect(count(file, either('icmp'))).toBe(st.icmp);
    expect(count(file, either('ip and udp'))).toBe(st.ipv4_udp);
    expect(count(file, either('ip and tcp'))).toBe(st.ipv4_tcp);
    expect(count(file, 'ether src 52:54:00:12:34:56')).toBe(st.from_guest);
    expect(count(file, `less ${st.frame_bytes.min - 1}`)).toBe(0);
    expect(count(file, `greater ${st.frame_bytes.max + 1}`)).toBe(0);
    expect(count(file, `len == ${st.frame_bytes.max}`)).toBeGreaterThan(0);
    if (opts.small) {
      expect(st.frame_bytes).toMatchObject({ min: 60, max: 78 });
      expect(count(file, 'greater 61')).toBe(st.ipv6_tcp);
    }
  });
});
