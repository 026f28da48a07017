// The interface's own counters against the real kernel: a veth pair made
// here (root namespace, random names, no addresses), the silent test
// network's bridge port, on which exactly what sendPackets() sent crosses,
// and a network namespace with an interface of the same name as one in the
// host's, read from a process that nsenter put in it without remounting
// /sys (there /sys/class/net is still the host's).
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IF_COUNTERS, MAX_PROC_BYTES, readIfaceCounters, type IfaceReading } from '../../../src/collectors/pcap/iface-counters.js';
import { canMakeNetns, makeGuestNet, sendPackets } from '../../helpers/netns.js';
import { tmpDir } from '../../helpers/tmp.js';

const made: string[] = [];
afterEach(() => {
  for (const dev of made.splice(0)) spawnSync('ip', ['link', 'del', dev], { stdio: 'ignore' });
});
const veth = (name: string) => {
  execFileSync('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
  if (!made.includes(name)) made.push(name);
};
const counters = (r: IfaceReading) => {
  if ('why' in r) throw new Error(`no counters: ${r.why}`);
  return r;
};

/** A /proc/self/net stand-in: dev with one line per [name, 16 columns], dev_snmp6/<name> ifIndex files, an igmp text. */
function procNet(dev: Array<[string, string]>, snmp6: Record<string, number>, igmp = 'Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n'): string {
  const root = tmpDir();
  const head = 'Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n';
  fs.writeFileSync(path.join(root, 'dev'), head + dev.map(([n, cols]) => `${n.padStart(6)}: ${cols}\n`).join(''));
  fs.mkdirSync(path.join(root, 'dev_snmp6'));
  for (const [n, i] of Object.entries(snmp6)) fs.writeFileSync(path.join(root, 'dev_snmp6', n), `ifIndex                         \t${i}\nIp6InReceives                   \t0\n`);
  fs.writeFileSync(path.join(root, 'igmp'), igmp);
  return root;
}
// rx bytes packets errs drop fifo frame compressed multicast, tx bytes packets errs drop fifo colls carrier compressed
const COLS = '1000 10 1 2 0 0 0 0 2000 20 3 4 0 0 0 0';

describe('readIfaceCounters, on /proc/self/net files', () => {
  it("null with a reason for 'any', a name that is no interface name (no path built), and an interface that does not exist", () => {
    expect(readIfaceCounters('any')).toEqual({ why: "the capture is on 'any' (every interface): there is no one interface's counters" });
    // A root of files that would answer, were the path built from the name: it must not be.
    const root = procNet([['x', COLS]], { x: 3 });
    expect(readIfaceCounters('../x', path.join(root, 'sub'))).toEqual({ why: '"../x" is not an interface name' });
    expect(readIfaceCounters('ltnosuch0')).toEqual({ why: 'interface ltnosuch0 does not exist (gone)' });
  });

  it("reads the interface's line by its columns, the ifindex from dev_snmp6, else igmp, else null with the reason", () => {
    const root = procNet([['eth9', COLS], ['veryverylongnam', '5 6 0 0 0 0 0 0 7 8 0 0 0 0 0 0']], { eth9: 7 }, 'Idx\tDevice    : Count Querier\n12\tveryverylongnam:     1      V3\n\t\t\t\t010000E0     1 0:00000000\t\t0\n');
    expect(readIfaceCounters('eth9', root)).toEqual({
      ifindex: 7,
      values: { rx_packets: 10, tx_packets: 20, rx_bytes: 1000, tx_bytes: 2000, rx_dropped: 2, tx_dropped: 4, rx_errors: 1, tx_errors: 3 },
      reasons: {},
    });
    expect(readIfaceCounters('veryverylongnam', root)).toMatchObject({ ifindex: 12, values: { rx_packets: 6, tx_packets: 8, rx_bytes: 5, tx_bytes: 7 } });
    const lone = procNet([['eth3', COLS]], {});
    expect(readIfaceCounters('eth3', lone)).toMatchObject({
      ifindex: null,
      ifindexWhy: `neither ${lone}/dev_snmp6/eth3 nor ${lone}/igmp lists interface eth3 (no IPv6 state, and down or without IPv4 state): its counters cannot be told from another interface's under the name`,
      values: { rx_packets: 10 },
    });
  });

  it('a column that holds no counter (or one past 2^53) is null with the reason; the others are read', () => {
    const root = procNet([['eth9', '1000 10 x 2 0 0 0 0 2000 99999999999999999999 3']], { eth9: 7 });
    const r = counters(readIfaceCounters('eth9', root));
    expect(r.values).toMatchObject({ rx_packets: 10, rx_errors: null, tx_packets: null, tx_dropped: null, tx_bytes: 2000 });
    expect(r.reasons).toEqual({
      rx_errors: `${root}/dev: eth9's column 3 is not a counter, got "x"`,
      tx_packets: `${root}/dev: eth9's column 10 is not a counter, got "99999999999999999999"`,
      tx_dropped: `${root}/dev: eth9's column 12 is not a counter, got "(missing)"`,
    });
  });

  it('reads at most 4 MiB of dev: an interface past the bound is null with the reason, not gone', () => {
    // Regression guard for: an unbounded read of a file a host with many interfaces makes long.
    const many: Array<[string, string]> = Array.from({ length: (4 * 1024 * 1024) / 40 + 1000 }, (_, i) => [`d${i}`, COLS]);
    const root = procNet([...many, ['eth9', COLS]], { eth9: 7 });
    expect(fs.statSync(path.join(root, 'dev')).size).toBeGreaterThan(MAX_PROC_BYTES);
    expect(readIfaceCounters('eth9', root)).toEqual({ why: `interface eth9 is not in the first ${MAX_PROC_BYTES} bytes of ${root}/dev (read no further)` });
    expect(readIfaceCounters('d1', root)).toMatchObject({ ifindex: null, values: { rx_packets: 10 } });
  });
});

describe.skipIf(!canMakeNetns())('readIfaceCounters on real interfaces', () => {
  it('reads a veth, and after it is deleted and created again under the same name: gone, then a new ifindex and counters started over', () => {
    const name = `lt${crypto.randomBytes(3).toString('hex')}`;
    veth(name);
    const a = counters(readIfaceCounters(name));
    expect(a.ifindex).toBe(Number(fs.readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8')));
    expect(Object.keys(a.values)).toEqual([...IF_COUNTERS]);
    expect(IF_COUNTERS.length).toBeGreaterThan(0);
    for (const c of IF_COUNTERS) expect(a.values[c], c).toBe(0); // down, never up: nothing counted
    expect(a.reasons).toEqual({});
    execFileSync('ip', ['link', 'del', name]);
    expect(readIfaceCounters(name)).toEqual({ why: `interface ${name} does not exist (gone)` });
    veth(name);
    const b = counters(readIfaceCounters(name));
    expect(b.ifindex).not.toBe(a.ifindex);
    expect(b.values.rx_packets).toBe(0);
  });

  it('counts exactly what crossed the bridge port of the silent test network: rx the guest sent, tx its replies', async () => {
    const net = await makeGuestNet();
    const before = counters(readIfaceCounters(net.tap));
    const e = await sendPackets(net, { tcpSyn: 4, udp: 6, icmpEcho: 5 });
    const after = counters(readIfaceCounters(net.tap));
    expect(after.ifindex).toBe(before.ifindex);
    expect({
      rx: after.values.rx_packets! - before.values.rx_packets!,
      tx: after.values.tx_packets! - before.values.tx_packets!,
      rxBytes: after.values.rx_bytes! - before.values.rx_bytes!,
      txBytes: after.values.tx_bytes! - before.values.tx_bytes!,
    }).toEqual({ rx: e.out, tx: e.in, rxBytes: e.bytesOut, txBytes: e.bytesIn });
    expect(after.values).toMatchObject({ rx_dropped: 0, tx_dropped: 0, rx_errors: 0, tx_errors: 0 });
  });

  it("read from a process in another network namespace (nsenter --net, /sys not remounted): that namespace's interface, not the host's of the same name", () => {
    // Regression for: /sys/class/net is the namespace sysfs was mounted in (the host's here), so the rows carried the host's interface's counters and ifindex.
    const name = `lt${crypto.randomBytes(3).toString('hex')}`;
    const ns = `ltns${crypto.randomBytes(3).toString('hex')}`;
    veth(name); // the host's: down, nothing counted
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      execFileSync('ip', ['-n', ns, 'link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
      execFileSync('ip', ['-n', ns, 'addr', 'add', '10.231.0.1/24', 'dev', name]);
      execFileSync('ip', ['-n', ns, 'link', 'set', name, 'up']);
      execFileSync('ip', ['-n', ns, 'link', 'set', `${name}p`, 'up']);
      // ARP asking for an address no one has, out of the namespace's interface: its tx grows, the host's stays 0.
      spawnSync('ip', ['netns', 'exec', ns, 'ping', '-c', '2', '-i', '0.2', '-W', '1', '-I', name, '10.231.0.9'], { stdio: 'ignore' });
      const nsIndex = (JSON.parse(execFileSync('ip', ['-n', ns, '-j', 'link', 'show', name], { encoding: 'utf8' })) as Array<{ ifindex: number }>)[0]!.ifindex;
      const hostIndex = Number(fs.readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'));
      expect(nsIndex).not.toBe(hostIndex);
      const src = path.resolve(__dirname, '../../../src/collectors/pcap/iface-counters.ts');
      const code = `import { readIfaceCounters } from ${JSON.stringify(src)}; import fs from 'node:fs'; console.log(JSON.stringify({ r: readIfaceCounters(${JSON.stringify(name)}), sys: fs.readFileSync('/sys/class/net/${name}/ifindex', 'utf8').trim() }));`;
      const tsx = path.resolve(__dirname, '../../../node_modules/.bin/tsx');
      const out = JSON.parse(execFileSync('nsenter', [`--net=/run/netns/${ns}`, tsx, '-e', code], { encoding: 'utf8' })) as { r: IfaceReading; sys: string };
      expect(Number(out.sys)).toBe(hostIndex); // the child's /sys/class/net is still the host's: what the reader must not use
      const r = counters(out.r);
      expect(r.ifindex).toBe(nsIndex);
      expect(r.values.tx_packets).toBeGreaterThan(0);
      expect(counters(readIfaceCounters(name)).values.tx_packets).toBe(0); // the host's, read here
    } finally {
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    }
  });
});
