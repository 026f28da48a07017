// The domain XML as libvirt writes it, and as it might be bent: parsed, not
// pattern-matched, so quoting, attribute order and escapes change nothing.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDomainXml, MAX_DEVICES } from '../../src/libvirt/domain-xml.js';
import { fillFromDomain } from '../../src/libvirt/fill-configs.js';
import { libvirtPidfile } from '../../src/libvirt/pidfile-path.js';
import { parseManifest } from '../../src/manifest/load.js';
import type { LibvirtDomain } from '../../src/libvirt/domain.js';
import { unsafeServedSocketDir } from '../../src/util/unix-listen.js';
import { tmpDir } from '../helpers/tmp.js';

const RUNNING = `<domain type='qemu' id='7'>
  <name>lab&apos;vm</name>
  <uuid>6A2977EA-798B-465E-A824-95C569DDA7AC</uuid>
  <devices>
    <interface type="ethernet"><mac address='52:54:00:aa:bb:cc'/><target managed='yes' dev="tap-a"/></interface>
    <interface type='bridge'><source bridge='br0'/><target dev='vnet3'/><mac address='52:54:00:00:00:01'/></interface>
    <channel type='unix'><source mode='bind' path='/tmp/a&amp;b/tel.sock'/><target type='virtio' name='org.labtel.telemetry.0' state='connected'/></channel>
  </devices>
</domain>`;

describe('the domain XML', () => {
  it('reads id, uuid, interfaces and channels whatever the quoting, order and escapes', () => {
    const d = parseDomainXml(RUNNING);
    expect(d).toEqual({
      name: "lab'vm",
      id: 7,
      uuid: '6a2977ea-798b-465e-a824-95c569dda7ac',
      interfaces: [
        { type: 'ethernet', dev: 'tap-a', mac: '52:54:00:aa:bb:cc', bridge: null },
        { type: 'bridge', dev: 'vnet3', mac: '52:54:00:00:00:01', bridge: 'br0' },
      ],
      channels: [{ type: 'unix', name: 'org.labtel.telemetry.0', mode: 'bind', path: '/tmp/a&b/tel.sock', state: 'connected' }],
    });
  });

  it('a domain that is not running has no id; one device is a list of one; none is an empty list', () => {
    const d = parseDomainXml(`<domain type='qemu'><name>x</name><uuid>u</uuid><devices><interface type='network'><source network='default'/></interface></devices></domain>`);
    expect(d.id).toBeNull();
    expect(d.interfaces).toEqual([{ type: 'network', dev: null, mac: null, bridge: null }]);
    expect(parseDomainXml(`<domain><name>x</name></domain>`)).toMatchObject({ interfaces: [], channels: [], uuid: null });
  });

  it("reads a domain whose XML holds more than 1,000 escaped characters (libvirt escapes every ' \" < > in text and attributes)", () => {
    // regression for: fast-xml-parser's default cap of 1,000 entity expansions refused a real running domain whose
    // <description> held 1,001 apostrophes ("its XML does not parse: Entity expansion limit exceeded: 1001 > 1000").
    const desc = "it&apos;s a lab vm &lt;-&gt; &quot;x&quot; ".repeat(1000);
    const d = parseDomainXml(RUNNING.replace('<devices>', `<description>${desc}</description><devices>`));
    expect(d.name).toBe("lab'vm");
    expect(d.channels.map((c) => c.path)).toEqual(['/tmp/a&b/tel.sock']);
  });

  it('reads a domain whose <metadata> nests as deep as libvirt keeps (libxml2 stops at 256 levels)', () => {
    // regression for: fast-xml-parser's default of 100 levels refused a real running domain with 150-level metadata.
    const meta = `<m:a xmlns:m='http://x/'>${'<m:a>'.repeat(250)}${'</m:a>'.repeat(250)}</m:a>`;
    expect(parseDomainXml(RUNNING.replace('<devices>', `<metadata>${meta}</metadata><devices>`)).uuid).toBe('6a2977ea-798b-465e-a824-95c569dda7ac');
  });

  it('refuses what is not a domain, and reads at most MAX_DEVICES of each device', () => {
    expect(() => parseDomainXml('<network><name>x</name></network>')).toThrow('its XML has no <domain> element');
    expect(() => parseDomainXml('<domain><name>x</domain>')).toThrow(/its XML does not parse/);
    // Regression for: entity expansion (a billion laughs) inside labtel's process.
    expect(() => parseDomainXml('<!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><domain><name>&b;</name></domain>')).toThrow('its XML has a DOCTYPE, which libvirt never writes; refusing to read it');
    const many = `<domain id='1'><name>x</name><devices>${'<interface type="ethernet"><target dev="t"/></interface>'.repeat(MAX_DEVICES + 5)}</devices></domain>`;
    expect(parseDomainXml(many).interfaces).toHaveLength(MAX_DEVICES);
  });

  it("libvirt's pidfile: the system instance's state directory, or the session's under XDG_RUNTIME_DIR", () => {
    expect(libvirtPidfile({ domain: 'vm', uri: 'qemu:///system' })).toBe('/run/libvirt/qemu/vm.pid');
    expect(libvirtPidfile({ domain: 'vm', uri: 'qemu+unix:///system?socket=/run/l.sock' })).toBe('/run/libvirt/qemu/vm.pid');
    expect(libvirtPidfile({ domain: 'vm', uri: 'qemu:///session' }, { XDG_RUNTIME_DIR: '/run/user/1000' })).toBe('/run/user/1000/libvirt/qemu/run/vm.pid');
    expect(() => libvirtPidfile({ domain: 'vm', uri: 'qemu:///session' }, {})).toThrow('qemu:///session: XDG_RUNTIME_DIR is not set');
  });
});

describe('filling the collectors from a domain', () => {
  const domain = (over: Partial<LibvirtDomain>): LibvirtDomain => ({ domain: 'vm', uri: 'qemu:///system', id: 1, uuid: 'u', interfaces: [], channels: [], ...over });
  const six = parseManifest({ output_dir: 'ep', target: { libvirt_domain: 'vm' }, collectors: { proc: {}, pcap: {}, qmp: {}, guest_agent: {} } }).collectors;

  it('a telemetry channel QEMU connects (mode connect) is not filled: labtel would have to listen', () => {
    const f = fillFromDomain(six, domain({ channels: [{ type: 'unix', name: 'org.labtel.telemetry.0', mode: 'connect', path: '/t.sock', state: null }] }));
    expect(f.problems.guest_agent).toBe(`domain "vm" on qemu:///system's org.labtel.telemetry.0 channel has source mode connect (QEMU connects to /t.sock); labtel fills only mode bind, where QEMU listens: name collectors.guest_agent.socket and mode`);
    expect(f.collectors.guest_agent!.socket).toBeUndefined();
  });

  it('a tap beside an interface with no host device is filled, and the one not captured is named', () => {
    // regression for: a real domain with a user (slirp) interface and one tap had pcap filled "from its one interface",
    // while the guest's traffic through the other interface was not captured.
    const f = fillFromDomain(six, domain({ interfaces: [{ type: 'user', dev: null, mac: '52:54:00:48:a1:09', bridge: null }, { type: 'ethernet', dev: 'tap0', mac: '52:54:00:a2:23:c7', bridge: null }] }));
    expect(f.collectors.pcap!.iface).toBe('tap0');
    expect(f.filled.find((x) => x.key === 'collectors.pcap.iface')!.source).toBe(
      'domain "vm" on qemu:///system: the <target dev> of its one interface with a host device (mac 52:54:00:a2:23:c7); not captured: its other interface (type user mac 52:54:00:48:a1:09), with no host device',
    );
  });

  it("netflow's direction comes from the captured interface's MAC, unless the manifest says how to tell it", () => {
    const withNetflow = parseManifest({ output_dir: 'ep', target: { libvirt_domain: 'vm' }, collectors: { pcap: {}, netflow: {} } }).collectors;
    const tap = { type: 'bridge', dev: 'vnet0', mac: '52:54:00:a2:23:c7', bridge: 'br0' };
    const f = fillFromDomain(withNetflow, domain({ interfaces: [tap] }));
    expect(f.collectors.netflow!.guest_mac).toBe('52:54:00:a2:23:c7');
    expect(f.filled.find((x) => x.key === 'collectors.netflow.guest_mac')!.source).toBe('domain "vm" on qemu:///system: the <mac address> of the interface pcap captures (vnet0)');
    const named = parseManifest({ output_dir: 'ep', target: { libvirt_domain: 'vm' }, collectors: { pcap: {}, netflow: { guest_ip: '10.0.0.2' } } }).collectors;
    expect(fillFromDomain(named, domain({ interfaces: [tap] })).collectors.netflow!.guest_mac).toBeUndefined();
  });

  it("the telemetry channel's socket is filled only where no one but root, labtel's user and QEMU's can change the way to it", () => {
    const ch = (p: string) => [{ type: 'unix', name: 'org.labtel.telemetry.0', mode: 'bind', path: p, state: null }];
    const safe = tmpDir('labtel-chan-');
    fs.chmodSync(safe, 0o755);
    expect(fillFromDomain(six, domain({ channels: ch(path.join(safe, 't.sock')) })).collectors.guest_agent!.socket).toBe(path.join(safe, 't.sock'));
    // Regression for: a channel path in a directory any user can write was connected to (another user's socket there would be read as the guest's).
    const open = tmpDir('labtel-chan-');
    fs.chmodSync(open, 0o777);
    const f = fillFromDomain(six, domain({ channels: ch(path.join(open, 't.sock')) }));
    expect(f.collectors.guest_agent!.socket).toBeUndefined();
    expect(f.problems.guest_agent).toMatch(/org\.labtel\.telemetry\.0 socket .*t\.sock: the socket's directory .* is writable by every user \(mode 0777\)/);
    // A directory QEMU's user owns (libvirt-qemu's, on a stock host) is QEMU's to change anyway; another user's is not.
    const qemus = tmpDir('labtel-chan-');
    fs.chmodSync(qemus, 0o755);
    fs.chownSync(qemus, 65534, 65534);
    expect(unsafeServedSocketDir(path.join(qemus, 't.sock'))).toMatch(/owned by uid 65534, neither root nor labtel's user/);
    expect(unsafeServedSocketDir(path.join(qemus, 't.sock'), { uid: 65534, who: "the domain's QEMU" })).toBeNull();
    expect(unsafeServedSocketDir(path.join(qemus, 't.sock'), { uid: 4242, who: "the domain's QEMU" })).toMatch(/neither root nor labtel's user \(\d+\) nor the domain's QEMU \(4242\)/);
  });

  it('no interface at all is refused naming the domain; a disabled collector is left alone', () => {
    const f = fillFromDomain(six, domain({}));
    expect(f.problems.pcap).toBe('domain "vm" on qemu:///system has no network interface with a host device (<target dev>): name collectors.pcap.iface');
    const off = parseManifest({ output_dir: 'ep', target: { libvirt_domain: 'vm' }, collectors: { pcap: { enabled: false } } }).collectors;
    expect(fillFromDomain(off, domain({})).problems).toEqual({});
  });
});
