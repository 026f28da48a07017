// KeptFile, a kernel file kept open and read from offset 0: on real
// /proc/self/net files, each read is the kernel's text as it is now (lo's
// counters move between two reads of one descriptor), the descriptor is
// kept (one, whatever the reads), and a per-device entry whose device was
// renamed away (its kept descriptor then fails with EIO) is opened again by
// name, so the read answers for the interface the name is now.
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { KeptFile } from '../../src/util/kept-file.js';
import { canMakeNetns } from '../helpers/netns.js';

const made: string[] = [];
afterEach(() => {
  for (const dev of made.splice(0)) spawnSync('ip', ['link', 'del', dev], { stdio: 'ignore' });
});

/** Descriptors of this process open on `target` (as /proc/self/fd links it). */
const openOn = (target: string) => fs.readdirSync('/proc/self/fd').filter((fd) => {
  try {
    // procfs looks /proc/<pid>/net/* up anew each time: an older descriptor's link then reads " (deleted)", and still reads.
    return fs.readlinkSync(`/proc/self/fd/${fd}`).replace(/ \(deleted\)$/, '') === target;
  } catch {
    return false; // the directory's own descriptor, gone
  }
}).length;

const text = (r: ReturnType<KeptFile['read']>) => {
  if ('code' in r) throw new Error(`read failed: ${r.code}`);
  return r.text;
};
const loTxPackets = (dev: string) => Number(dev.split('\n').find((l) => l.trim().startsWith('lo:'))!.split(':')[1]!.trim().split(/\s+/)[9]);

describe('KeptFile', () => {
  it("/proc/self/net/dev through one kept descriptor: lo's counters move between reads (after another lookup of the name too), and one descriptor is open until close()", async () => {
    const dev = new KeptFile('/proc/self/net/dev');
    const target = `/proc/${process.pid}/net/dev`;
    try {
      const before = loTxPackets(text(dev.read(4 << 20)));
      expect(openOn(target)).toBe(1);
      fs.readFileSync('/proc/self/net/dev'); // a lookup of the name: the kept descriptor's dentry is dropped, its reads go on
      const s = dgram.createSocket('udp4');
      for (let i = 0; i < 5; i++) await new Promise<void>((resolve, reject) => s.send('x', 9, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
      s.close();
      const after = loTxPackets(text(dev.read(4 << 20)));
      expect(after - before).toBeGreaterThanOrEqual(5);
      expect(openOn(target)).toBe(1); // the same descriptor, not one more per read
    } finally {
      dev.close();
    }
    expect(openOn(target)).toBe(0);
  });

  it.skipIf(!canMakeNetns())('a device renamed away and another given its name: the read answers for the new one (regression for: the kept descriptor of the old entry failed with EIO)', () => {
    const a = `lt${crypto.randomBytes(3).toString('hex')}`;
    const b = `lt${crypto.randomBytes(3).toString('hex')}`;
    for (const n of [a, b]) {
      execFileSync('ip', ['link', 'add', n, 'type', 'veth', 'peer', 'name', `${n}p`]);
      made.push(n);
      execFileSync('ip', ['link', 'set', n, 'up']); // dev_snmp6 lists it
    }
    const ifindex = (n: string) => Number(fs.readFileSync(`/sys/class/net/${n}/ifindex`, 'utf8'));
    const snmp6 = new KeptFile(`/proc/self/net/dev_snmp6/${a}`);
    try {
      const first = /^ifIndex\s+(\d+)/.exec(text(snmp6.read(64)))?.[1];
      expect(Number(first)).toBe(ifindex(a));
      const old = ifindex(a);
      execFileSync('ip', ['link', 'set', a, 'name', `${a}x`]);
      made.push(`${a}x`);
      execFileSync('ip', ['link', 'set', b, 'name', a]); // b now answers to a's name
      const now = /^ifIndex\s+(\d+)/.exec(text(snmp6.read(64)))?.[1];
      expect(Number(now)).toBe(ifindex(a));
      expect(Number(now)).not.toBe(old);
    } finally {
      snmp6.close();
    }
  });

  it('a name that does not exist: the error code, and no descriptor kept', () => {
    const k = new KeptFile('/proc/self/net/dev_snmp6/ltnosuch0');
    expect(k.read(64)).toEqual({ code: 'ENOENT' });
    expect(openOn('/proc/self/net/dev_snmp6/ltnosuch0')).toBe(0);
    k.close();
  });
});
