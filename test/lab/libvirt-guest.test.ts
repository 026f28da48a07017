// The test guest as a transient libvirt domain, under the REAL libvirtd
// (scripts/start-libvirtd.sh starts one; CI runs it): it boots, its lines
// arrive on labtel's telemetry channel (the <channel> of docs/libvirt.md),
// its real qemu-ga answers through libvirt's own channel beside it, its
// packets reach the peer in the namespace, and after destroy() nothing of it
// is left on the host.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { domainXml, startLibvirtGuest, virsh, type LibvirtGuest } from '../../src/lab/libvirt-guest.js';
import { buildGuest } from '../../src/lab/vm-guest.js';
import { ROOT } from '../helpers/cli.js';
import { canMakeNetns } from '../helpers/guest-net.js';
import { hasLibvirtd } from '../helpers/libvirt.js';
import { has } from '../helpers/programs.js';
import { hasQemu } from '../helpers/qemu.js';
import { waitFor } from '../helpers/wait.js';

/** The ```xml blocks of docs/libvirt.md. */
function docXmlBlocks(): string[] {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'libvirt.md'), 'utf8');
  return [...doc.matchAll(/^```xml\n([\s\S]*?)^```$/gm)].map((m) => m[1]!.replace(/\n$/, ''));
}

const sample = {
  name: 'labtel-lv-000000', kernel: '/k', initrd: '/i', cmdline: 'console=ttyS0', disk: '/d.raw',
  bridge: 'lt000000', tap: 'lv000000', mac: '52:54:00:00:00:01', console: '/c.log', telemetry: '/tmp/x/telemetry.sock',
};

describe('the telemetry channel of docs/libvirt.md', () => {
  // Regression for: the documented channel and the one the tests run drifting apart (a doc nobody ran).
  it('is the domain XML\'s channel, line for line, with only the path replaced', () => {
    const blocks = docXmlBlocks();
    expect(blocks).toHaveLength(1);
    const doc = blocks[0]!;
    expect(doc).toContain("name='org.labtel.telemetry.0'");
    const docPath = /path='([^']+)'/.exec(doc)?.[1];
    expect(docPath).toBeTruthy();
    const expected = doc.replace(`path='${docPath}'`, `path='${sample.telemetry}'`);
    expect(expected).not.toBe(doc);
    const fragment = expected.split('\n').map((l) => `    ${l}`).join('\n');
    expect(domainXml(sample)).toContain(`\n${fragment}\n`);
  });

  it("keeps libvirt's own guest agent channel beside it, without a path", () => {
    expect(domainXml(sample)).toContain("<channel type='unix'>\n      <target type='virtio' name='org.qemu.guest_agent.0'/>\n    </channel>");
  });
});

const ready = canMakeNetns() && hasQemu() && has('apt-get') && hasLibvirtd();

/** /proc/net/snmp of the namespace: `Icmp.InEchos`, `Udp.NoPorts`, ... */
function snmp(ns: string): Record<string, number> {
  const lines = execFileSync('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp'], { encoding: 'utf8' }).split('\n');
  const out: Record<string, number> = {};
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [proto, ...keys] = lines[i]!.split(/\s+/);
    const values = lines[i + 1]!.split(/\s+/).slice(1);
    keys.forEach((k, j) => (out[`${proto!.replace(':', '')}.${k}`] = Number(values[j])));
  }
  return out;
}

const live: LibvirtGuest[] = [];
afterEach(async () => {
  for (const g of live.splice(0)) await g.destroy();
});

/** What is left of a guest on the host after destroy(). */
function leftovers(g: LibvirtGuest): string[] {
  const left: string[] = [];
  const names = execFileSync('virsh', ['-c', g.uri, 'list', '--all', '--name'], { encoding: 'utf8' }).split('\n').map((s) => s.trim());
  if (names.includes(g.name)) left.push(`domain ${g.name}`);
  for (const dev of [g.bridge, g.tap, `${g.bridge}p`]) if (fs.existsSync(`/sys/class/net/${dev}`)) left.push(`interface ${dev}`);
  const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0]);
  if (netns.includes(g.ns)) left.push(`netns ${g.ns}`);
  let cmdline = '';
  try {
    cmdline = fs.readFileSync(`/proc/${g.pid}/cmdline`, 'latin1');
  } catch {
    // gone
  }
  if (cmdline.includes(`guest=${g.name}`)) left.push(`QEMU pid ${g.pid}`);
  if (fs.existsSync(path.dirname(g.telemetry))) left.push(`directory ${path.dirname(g.telemetry)}`);
  if (!fs.statSync('/dev/null').isCharacterDevice()) left.push('/dev/null is no longer a character device');
  return left;
}

describe.skipIf(!ready)('the test guest as a transient libvirt domain', () => {
  let guest: { kernel: string; initrd: string };
  beforeAll(() => {
    guest = buildGuest(ROOT);
  }, 600_000);

  it('boots; telemetry arrives on the channel, qemu-ga answers through libvirt, packets reach the peer; nothing is left', { timeout: 240_000 }, async () => {
    const g = await startLibvirtGuest({ ...guest, seconds: 12 });
    live.push(g);
    let gone = false;
    void g.exited.then(() => (gone = true));

    // libvirt's pidfile names this domain's QEMU, the tap sits on the bridge, the domain waits paused.
    expect(fs.readFileSync(`/proc/${g.pid}/cmdline`, 'latin1')).toContain(`guest=${g.name}`);
    expect(path.basename(fs.readlinkSync(`/sys/class/net/${g.tap}/master`))).toBe(g.bridge);
    expect((await virsh(g.uri, ['domstate', g.name])).trim()).toBe('paused');

    let text = '';
    const sock = net.connect(g.telemetry);
    sock.on('data', (d) => (text += d.toString('utf8')));
    sock.on('error', () => {}); // QEMU closes it when the guest powers off
    await g.resume();

    // The guest's lines (scripts/test-guest/init: seq, uptime, cpu, mem, disk every 200 ms).
    const lines = await waitFor(() => {
      const whole = text.split('\n').slice(0, -1);
      return whole.length >= 3 && whole.map((l) => JSON.parse(l) as Record<string, unknown>);
    }, 'three telemetry lines from the guest', 50);
    expect(lines.map((l) => l.seq).slice(0, 3)).toEqual([0, 1, 2]);
    expect(lines[0]).toMatchObject({ uptime: expect.any(Number), cpu: { user: expect.any(Number), idle: expect.any(Number) }, mem: { total_kb: expect.any(Number) } });

    // The guest's own qemu-ga, through libvirt's channel: asked until it is up, for as long as the guest lives.
    let ping = '';
    let lastError = '';
    while (!ping && !gone) {
      try {
        ping = await virsh(g.uri, ['qemu-agent-command', g.name, '{"execute":"guest-ping"}']);
      } catch (e) {
        lastError = (e as Error).message;
        await sleep(250);
      }
    }
    expect(ping, `qemu-ga never answered before the guest powered off; last: ${lastError}`).not.toBe('');
    expect(JSON.parse(ping)).toEqual({ return: {} });
    const cpustats = JSON.parse(await virsh(g.uri, ['qemu-agent-command', g.name, '{"execute":"guest-get-cpustats"}'])) as { return: Record<string, unknown>[] };
    expect(cpustats.return.length).toBeGreaterThan(0);
    expect(cpustats.return[0]).toMatchObject({ type: 'linux', cpu: 0, user: expect.any(Number), idle: expect.any(Number) });

    // Packets from the guest reached the peer: its pings (echo requests the namespace answered) and its UDP probes (to closed ports).
    const counters = await waitFor(() => {
      const c = snmp(g.ns);
      return c['Icmp.InEchos']! > 0 && c['Udp.NoPorts']! > 0 && c;
    }, 'the guest\'s pings and UDP datagrams in the namespace', 200);
    expect(counters['Icmp.OutEchoReps']).toBeGreaterThan(0);

    // The guest powers itself off after labtel.seconds: QEMU exits and the transient domain vanishes.
    await g.exited;
    expect(spawnSync('virsh', ['-c', g.uri, 'domstate', g.name], { encoding: 'utf8' }).status).not.toBe(0);
    sock.destroy();
    await g.destroy();
    expect(leftovers(g)).toEqual([]);
  });

  it('destroy() of a domain that still runs ends it and leaves nothing; a second call is a no-op', { timeout: 120_000 }, async () => {
    const g = await startLibvirtGuest({ ...guest, seconds: 60 });
    live.push(g);
    expect((await virsh(g.uri, ['domstate', g.name])).trim()).toBe('paused');
    expect(leftovers(g)).not.toEqual([]);
    await g.destroy();
    await g.exited;
    expect(leftovers(g)).toEqual([]);
    await g.destroy();
  });
});
