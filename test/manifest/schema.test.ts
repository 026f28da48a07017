import { describe, expect, it } from 'vitest';
import { KNOWN_COLLECTORS } from '../../src/manifest/schema.js';
import { parseManifest } from '../../src/manifest/load.js';

const minimal = { output_dir: 'ep1', duration_s: 2, target: { pid: 1234 }, collectors: { proc: { interval_ms: 100 } } };

function errorOf(data: unknown): string {
  try {
    parseManifest(data);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the manifest to be refused');
}

describe('manifest', () => {
  it('accepts the minimal manifest and fills the defaults', () => {
    const m = parseManifest(minimal);
    expect(m.collectors.proc).toEqual({ enabled: true, optional: false, interval_ms: 100, threads: false, cgroup: true, cgroup_interval_ms: 1000 });
    expect(m.collectors.perf).toBeUndefined();
  });

  it('accepts a target naming only a libvirt domain, with collectors that name nothing (the domain fills them)', () => {
    const m = parseManifest({ output_dir: 'ep', target: { libvirt_domain: 'lab-vm1' }, collectors: { proc: {}, perf: {}, pcap: {}, netflow: {}, qmp: {}, guest_agent: {} } });
    expect(m.target).toEqual({ libvirt_domain: 'lab-vm1' });
    expect(m.collectors.pcap!.iface).toBeUndefined();
    expect(m.collectors.qmp!.socket).toBeUndefined();
    expect(m.collectors.guest_agent!.socket).toBeUndefined();
    const q = parseManifest({ output_dir: 'ep', target: { pid: 1 }, collectors: { qmp: { libvirt: { domain: 'vm' } }, guest_agent: { protocol: 'qga', libvirt: { domain: 'vm', uri: 'qemu:///session' } } } });
    expect(q.collectors.qmp!.libvirt).toEqual({ domain: 'vm', uri: 'qemu:///system' });
    expect(q.collectors.guest_agent!.libvirt).toEqual({ domain: 'vm', uri: 'qemu:///session' });
  });

  it('knows the six collectors, in the field\'s names', () => {
    expect(KNOWN_COLLECTORS).toEqual(['proc', 'perf', 'pcap', 'netflow', 'qmp', 'guest_agent']);
  });

  it('accepts every collector\'s keys', () => {
    const m = parseManifest({
      output_dir: 'ep', target: { pidfile: '/run/qemu.pid' },
      collectors: {
        proc: { interval_ms: 1, threads: true, optional: true, available_in_deployment: false },
        perf: { interval_ms: 200, events: ['cycles', 'page-faults'] },
        pcap: { iface: 'tap0', snaplen: 128, filter: 'ip', interval_ms: 1000, keep_pcap: false },
        netflow: { bucket_ms: 100, guest_ip: ['10.200.0.10', 'fd00::10'], guest_mac: '52:54:00:12:34:56', bridge_ip: '10.200.0.1' },
        qmp: { socket: '/run/qmp.sock', interval_ms: 1000 },
        guest_agent: { socket: '/run/ga.sock', mode: 'listen', protocol: 'qga', interval_ms: 500 },
      },
    });
    expect(m.collectors.netflow!.guest_ip).toEqual(['10.200.0.10', 'fd00::10']);
  });

  it.each([
    [{ ...minimal, collectors: { proc: { interval_ms: 'fast' } } }, 'collectors.proc.interval_ms: expected a positive integer, got "fast"'],
    [{ ...minimal, collectors: { proc: { interval_ms: 0 } } }, 'collectors.proc.interval_ms: expected a positive integer, got 0'],
    [{ ...minimal, collectors: { proc: { interval_ms: 1.5 } } }, 'collectors.proc.interval_ms: expected a positive integer, got 1.5'],
    [{ ...minimal, collectors: { proc: { intervalms: 100 } } }, 'collectors.proc.intervalms: unknown key, got 100'],
    [{ ...minimal, collectors: { procs: {} } }, 'collectors.procs: unknown key, got {}'],
    [{ ...minimal, extra: 1 }, 'extra: unknown key, got 1'],
    [{ ...minimal, output_dir: undefined }, 'output_dir: required: a directory path'],
    [{ ...minimal, target: { pid: -1 } }, 'target.pid: expected a process id, got -1'],
    [{ ...minimal, target: { name: 'qemu' } }, 'target.name: unknown key, got "qemu"'],
    [{ ...minimal, target: {} }, 'target: expected exactly one of "pid", "pidfile", "qmp_socket" or "libvirt_domain", got {}'],
    [{ ...minimal, target: { pid: 1, pidfile: '/p' } }, 'target: expected exactly one of "pid", "pidfile", "qmp_socket" or "libvirt_domain", got {"pid":1,"pidfile":"/p"}'],
    [{ ...minimal, target: 1234 }, 'target: expected {"pid": N}, {"pidfile": PATH}, {"qmp_socket": PATH} or {"libvirt_domain": NAME}, got 1234'],
    [{ ...minimal, target: { pid: 1, libvirt_domain: 'vm' } }, 'target: expected exactly one of "pid", "pidfile", "qmp_socket" or "libvirt_domain", got {"pid":1,"libvirt_domain":"vm"}'],
    [{ ...minimal, target: { pid: 1, libvirt_uri: 'qemu:///system' } }, 'target.libvirt_uri: target.libvirt_uri goes only with target.libvirt_domain, got {"pid":1,"libvirt_uri":"qemu:///system"}'],
    [{ ...minimal, target: { libvirt_domain: '-vm' } }, 'target.libvirt_domain: expected a libvirt domain name of 1 to 64 letters, digits, ".", "_", "+" or "-", not starting with "-" or ".", got "-vm"'],
    // regression for: virsh looks --domain up by id, then uuid, then name: a domain named "215" was reached by every later
    // virsh call (qemu-monitor-command, qemu-agent-command) as the domain that took id 215 (seen on the real libvirtd).
    [{ ...minimal, target: { libvirt_domain: '215' } }, 'target.libvirt_domain: expected a libvirt domain name virsh cannot read as a domain id or uuid (it looks those up before names, so another domain could answer): rename the domain, got "215"'],
    [{ ...minimal, target: { libvirt_domain: '+7' } }, 'target.libvirt_domain: expected a libvirt domain name virsh cannot read as a domain id or uuid (it looks those up before names, so another domain could answer): rename the domain, got "+7"'],
    [{ ...minimal, target: { libvirt_domain: 'bf59d194-1ecd-4258-95a2-5f11a3c547cf' } }, 'target.libvirt_domain: expected a libvirt domain name virsh cannot read as a domain id or uuid (it looks those up before names, so another domain could answer): rename the domain, got "bf59d194-1ecd-4258-95a2-5f11a3c547cf"'],
    [{ ...minimal, collectors: { qmp: { libvirt: { domain: '3' } } } }, 'collectors.qmp.libvirt.domain: expected a libvirt domain name virsh cannot read as a domain id or uuid (it looks those up before names, so another domain could answer): rename the domain, got "3"'],
    [{ ...minimal, target: { libvirt_domain: 'vm', libvirt_uri: 'qemu+ssh://h/system' } }, 'target.libvirt_uri: expected a local libvirt QEMU URI: qemu:///system, qemu:///session, or qemu+unix:///system?socket=/path, got "qemu+ssh://h/system"'],
    [{ ...minimal, collectors: { qmp: { socket: '/s', libvirt: { domain: 'vm' } } } }, 'collectors.qmp.libvirt: expected "socket" or "libvirt", not both, got {"domain":"vm","uri":"qemu:///system"}'],
    [{ ...minimal, collectors: { guest_agent: { libvirt: { domain: 'vm' } } } }, 'collectors.guest_agent.libvirt: expected protocol "qga" with libvirt (a jsonl channel is a socket: name it in socket), got {"domain":"vm","uri":"qemu:///system"}'],
    [{ ...minimal, duration_s: '2' }, 'duration_s: expected a positive number of seconds, got "2"'],
    [{ ...minimal, duration_s: 4e7 }, 'duration_s: expected at most 31536000 seconds (a year), got 40000000'],
    [{ ...minimal, collectors: { pcap: { iface: 'eth0; rm -rf /' } } }, 'collectors.pcap.iface: expected an interface name (1-15 of A-Z a-z 0-9 _ . -), got "eth0; rm -rf /"'],
    [{ ...minimal, collectors: { netflow: { guest_ip: '10.0.0' } } }, 'collectors.netflow.guest_ip: expected an IP address or a list of them, got "10.0.0"'],
    [{ ...minimal, collectors: { guest_agent: { socket: '/s', mode: 'both' } } }, 'collectors.guest_agent.mode: expected "connect" or "listen", got "both"'],
    [{ ...minimal, collectors: { perf: { events: [] } } }, 'collectors.perf.events: expected at least one event, got []'],
    [{ ...minimal, collectors: [] }, 'collectors: expected an object of collectors, got []'],
    // Regression for: socket and iface became optional for a libvirt domain to fill; for any other target they are still required.
    [{ ...minimal, collectors: { qmp: {} } }, 'collectors.qmp.socket: required: a unix socket path, or collectors.qmp.libvirt (only a target.libvirt_domain fills it from the domain)'],
    [{ ...minimal, collectors: { guest_agent: {} } }, 'collectors.guest_agent.socket: required: a unix socket path (only a target.libvirt_domain fills it from the domain)'],
    [{ ...minimal, collectors: { pcap: {} } }, 'collectors.pcap.iface: required: an interface name (only a target.libvirt_domain fills it from the domain)'],
  ])('names the key and the value received (%#)', (data, line) => {
    expect(errorOf(data).split('\n')).toContain(line);
  });

  it('lists every bad key at once', () => {
    const msg = errorOf({ output_dir: 'x', target: { pid: 'one' }, collectors: { proc: { threads: 'yes', interval_ms: -5 } } });
    expect(msg.split('\n').slice(1).sort()).toEqual([
      'collectors.proc.interval_ms: expected a positive integer, got -5',
      'collectors.proc.threads: expected true or false, got "yes"',
      'target.pid: expected a process id, got "one"',
    ]);
  });
});
