// The frames an interface's transmit queues can hold (iface-queue.ts), read
// from sysfs only when sysfs shows the agent's own namespace for the
// interface: on a /sys/class/net stand-in, on a real veth and bridge, and
// from a process nsenter put in another namespace (sysfs still the host's);
// and kept between rows (TxQueueFrames): read again on another ifindex,
// after a failed read, and once QUEUE_REREAD_MS old, so a live
// `ip link set txqueuelen` shows within it.
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readIfindex } from '../../../src/collectors/pcap/iface-counters.js';
import { MAX_QUEUE_ENTRIES, QUEUE_REREAD_MS, readTxQueueFrames, TxQueueFrames } from '../../../src/collectors/pcap/iface-queue.js';
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

describe('TxQueueFrames (the capacity kept between rows)', () => {
  const S = 1e9;
  const AGE = (QUEUE_REREAD_MS / 1000) * S;
  it('reads sysfs again only on another ifindex, after a read without a number, once QUEUE_REREAD_MS old, after forget(), or when the clock reads earlier (regression for: 13 syscalls on every row)', () => {
    const answers: Array<number | { why: string }> = [1000, 2000, { why: 'gone' }, 3000, 4000, 5000];
    const asked: number[] = [];
    const q = new TxQueueFrames((ifindex) => {
      asked.push(ifindex);
      return answers.shift()!;
    });
    expect(q.get(7, 0)).toBe(1000);
    expect(q.get(7, 1 * S)).toBe(1000); // kept
    expect(q.get(7, AGE - 1)).toBe(1000); // kept, just under the age
    expect(asked).toEqual([7]);
    expect(q.get(7, AGE)).toBe(2000); // old enough: read again
    expect(q.get(8, AGE + 1 * S)).toEqual({ why: 'gone' }); // another interface under the name: read
    expect(q.get(8, AGE + 1.5 * S)).toBe(3000); // a read without a number is not kept
    expect(q.get(8, AGE + 2 * S)).toBe(3000);
    q.forget();
    expect(q.get(8, AGE + 2.5 * S)).toBe(4000);
    expect(q.get(8, 1 * S)).toBe(5000); // a time before the last read: not trusted to be young
    expect(asked).toEqual([7, 7, 8, 8, 8, 8]);
    expect(q.reads).toBe(6);
  });

  it.skipIf(!canMakeNetns())('a live `ip link set txqueuelen` on a real veth: the old capacity until the value is QUEUE_REREAD_MS old, then the new one', () => {
    const name = `lt${crypto.randomBytes(3).toString('hex')}`;
    execFileSync('ip', ['link', 'add', name, 'txqueuelen', '300', 'numtxqueues', '3', 'type', 'veth', 'peer', 'name', `${name}p`]);
    made.push(name);
    execFileSync('ip', ['link', 'set', name, 'up']);
    const idx = readIfindex(name) as number;
    expect(typeof idx).toBe('number');
    const q = new TxQueueFrames((i) => readTxQueueFrames(name, i));
    expect(q.get(idx, 0)).toBe(900);
    execFileSync('ip', ['link', 'set', 'dev', name, 'txqueuelen', '500']);
    expect(q.get(idx, 1 * S)).toBe(900); // the documented lag: the last read, at most QUEUE_REREAD_MS old
    expect(q.get(idx, AGE)).toBe(1500);
  });
});
