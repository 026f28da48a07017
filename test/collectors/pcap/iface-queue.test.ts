// The frames an interface's transmit queues can hold (iface-queue.ts), read
// from sysfs only when sysfs shows the agent's own namespace for the
// interface: on a /sys/class/net stand-in, on a real veth and bridge, and
// from a process nsenter put in another namespace (sysfs still the host's).
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readIfindex } from '../../../src/collectors/pcap/iface-counters.js';
import { MAX_QUEUE_ENTRIES, readTxQueueFrames } from '../../../src/collectors/pcap/iface-queue.js';
import { canMakeNetns } from '../../helpers/netns.js';
import { tmpDir } from '../../helpers/tmp.js';

/** A /sys/class/net stand-in holding one interface: its ifindex, tx_queue_len and queues/<entries>. */
function sysNet(name: string, ifindex: string, txQueueLen: string, queues: string[]): string {
  const root = tmpDir();
  const dir = path.join(root, name);
  fs.mkdirSync(path.join(dir, 'queues'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'ifindex'), ifindex);
  fs.writeFileSync(path.join(dir, 'tx_queue_len'), txQueueLen);
  for (const q of queues) fs.mkdirSync(path.join(dir, 'queues', q));
  return root;
}

const made: string[] = [];
afterEach(() => {
  for (const dev of made.splice(0)) spawnSync('ip', ['link', 'del', dev], { stdio: 'ignore' });
});

describe('readTxQueueFrames', () => {
  it('tx_queue_len times the tx queues, when sysfs gives the ifindex /proc/self/net gave; 0 frames when tx_queue_len is 0', () => {
    expect(readTxQueueFrames('tap0', 7, sysNet('tap0', '7\n', '1000\n', ['rx-0', 'rx-1', 'tx-0', 'tx-1']))).toBe(2000);
    expect(readTxQueueFrames('br0', 3, sysNet('br0', '3\n', '0\n', ['rx-0', 'tx-0']))).toBe(0);
  });

  it('null with the reason when sysfs shows another ifindex (another namespace), or nothing for the name', () => {
    // Regression guard for: sysfs is the namespace it was mounted in; the host's interface of the same name is another one.
    const root = sysNet('tap0', '2\n', '1000\n', ['tx-0']);
    expect(readTxQueueFrames('tap0', 7, root)).toEqual({
      why: `${root}/tap0/ifindex is 2, not 7 as in /proc/self/net: sysfs shows another network namespace (mounted in another), or the interface changed`,
    });
    expect(readTxQueueFrames('tap1', 7, root)).toEqual({ why: `${root}/tap1/ifindex does not exist: sysfs cannot be shown to be the agent's network namespace` });
    expect(readTxQueueFrames('../x', 7, root)).toEqual({ why: '"../x" is not an interface name' });
    expect(readTxQueueFrames('tap0', 2, sysNet('tap0', '2\n', 'lots\n', ['tx-0']))).toMatchObject({ why: expect.stringContaining('tx_queue_len is not a number, got "lots\\n"') });
  });

  it(`a queues directory of more than ${MAX_QUEUE_ENTRIES} entries is not listed further: null with the reason`, () => {
    const queues = Array.from({ length: MAX_QUEUE_ENTRIES + 1 }, (_, i) => `rx-${i}`);
    const root = sysNet('tap0', '7\n', '1000\n', queues);
    expect(readTxQueueFrames('tap0', 7, root)).toEqual({ why: `${root}/tap0/queues has more than ${MAX_QUEUE_ENTRIES} entries (listed no further)` });
  });

  it.skipIf(!canMakeNetns())('a real veth and a real bridge: what sysfs says of them, the bridge 0 when its tx_queue_len is 0', () => {
    const name = `lt${crypto.randomBytes(3).toString('hex')}`;
    execFileSync('ip', ['link', 'add', name, 'txqueuelen', '300', 'numtxqueues', '3', 'type', 'veth', 'peer', 'name', `${name}p`]);
    made.push(name);
    execFileSync('ip', ['link', 'set', name, 'up']); // dev_snmp6 lists it (IPv6 state)
    const idx = readIfindex(name);
    expect(typeof idx).toBe('number');
    expect(readTxQueueFrames(name, idx as number)).toBe(900);
    const br = `lb${crypto.randomBytes(3).toString('hex')}`;
    execFileSync('ip', ['link', 'add', br, 'txqueuelen', '0', 'type', 'bridge']);
    made.push(br);
    execFileSync('ip', ['link', 'set', br, 'up']);
    expect(readTxQueueFrames(br, readIfindex(br) as number)).toBe(0);
  });

  it.skipIf(!canMakeNetns())('from a process nsenter put in another namespace (sysfs the host\'s): null, never the host\'s queue', () => {
    // Regression guard for: under nsenter --net, /sys/class/net/<name> is the host's interface of the same name.
    const name = `lt${crypto.randomBytes(3).toString('hex')}`;
    const ns = `ltns${crypto.randomBytes(3).toString('hex')}`;
    execFileSync('ip', ['link', 'add', name, 'txqueuelen', '777', 'type', 'veth', 'peer', 'name', `${name}p`]);
    made.push(name);
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      execFileSync('ip', ['-n', ns, 'link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
      execFileSync('ip', ['-n', ns, 'link', 'set', name, 'up']);
      const hostIndex = Number(fs.readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'));
      const nsIndex = (JSON.parse(execFileSync('ip', ['-n', ns, '-j', 'link', 'show', name], { encoding: 'utf8' })) as Array<{ ifindex: number }>)[0]!.ifindex;
      expect(nsIndex).not.toBe(hostIndex);
      const src = (f: string) => JSON.stringify(path.resolve(__dirname, `../../../src/collectors/pcap/${f}`));
      const code = `import { readIfindex } from ${src('iface-counters.ts')}; import { readTxQueueFrames } from ${src('iface-queue.ts')}; const i = readIfindex(${JSON.stringify(name)}); console.log(JSON.stringify({ i, q: readTxQueueFrames(${JSON.stringify(name)}, i) }));`;
      const tsx = path.resolve(__dirname, '../../../node_modules/.bin/tsx');
      const out = JSON.parse(execFileSync('nsenter', [`--net=/run/netns/${ns}`, tsx, '-e', code], { encoding: 'utf8' })) as { i: number; q: unknown };
      expect(out.i).toBe(nsIndex);
      expect(out.q).toEqual({ why: `/sys/class/net/${name}/ifindex is ${hostIndex}, not ${nsIndex} as in /proc/self/net: sysfs shows another network namespace (mounted in another), or the interface changed` });
    } finally {
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    }
  });
});
