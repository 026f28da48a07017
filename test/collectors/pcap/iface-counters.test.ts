// The interface's own counters against the real kernel: a veth pair made
// here (root namespace, random names, no addresses), and the silent test
// network's bridge port, on which exactly what sendPackets() sent crosses.
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IF_COUNTERS, readIfaceCounters, type IfaceReading } from '../../../src/collectors/pcap/iface-counters.js';
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

describe('readIfaceCounters, without an interface', () => {
  it("null with a reason for 'any', a name that is no interface name (no path built), and an interface that does not exist", () => {
    expect(readIfaceCounters('any')).toEqual({ why: "the capture is on 'any' (every interface): there is no one interface's counters" });
    // A root of files that would answer, were the path built from the name: it must not be.
    const root = tmpDir();
    fs.mkdirSync(path.join(root, 'x', 'statistics'), { recursive: true });
    fs.writeFileSync(path.join(root, 'x', 'ifindex'), '3\n');
    expect(readIfaceCounters('../x', path.join(root, 'sub'))).toEqual({ why: '"../x" is not an interface name' });
    expect(readIfaceCounters('ltnosuch0')).toEqual({ why: 'interface ltnosuch0 does not exist (gone)' });
  });

  it('a counter file that holds no counter, or is too long, is null with the reason naming the file; the others are read', () => {
    const root = tmpDir();
    const dir = path.join(root, 'eth9');
    fs.mkdirSync(path.join(dir, 'statistics'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'ifindex'), '7\n');
    for (const c of IF_COUNTERS) fs.writeFileSync(path.join(dir, 'statistics', c), '12\n');
    fs.writeFileSync(path.join(dir, 'statistics', 'rx_errors'), '-1\n');
    fs.writeFileSync(path.join(dir, 'statistics', 'tx_errors'), '9'.repeat(100));
    fs.rmSync(path.join(dir, 'statistics', 'tx_dropped'));
    const r = counters(readIfaceCounters('eth9', root));
    expect(r.ifindex).toBe(7);
    expect(r.values).toMatchObject({ rx_packets: 12, tx_bytes: 12, rx_errors: null, tx_errors: null, tx_dropped: null });
    expect(r.reasons).toEqual({
      rx_errors: `${dir}/statistics/rx_errors does not hold a counter, got "-1\\n"`,
      tx_errors: `${dir}/statistics/tx_errors does not hold a counter, got "${'9'.repeat(32)}"`,
      tx_dropped: `${dir}/statistics/tx_dropped does not exist`,
    });
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
});
