// The argv that ties tcpdump to the agent (issue 17 point 5): setpriv makes
// it its capture user from the start, with CAP_NET_RAW alone, and gives it
// the parent-death signal last; tcpdump itself is never asked to change
// user, which would clear that signal.
import { describe, expect, it } from 'vitest';
import { capMask } from '../../../src/collectors/pcap/capture-identity.js';
import { pcapConfig } from '../../../src/collectors/pcap/config.js';
import { tcpdumpCaptureArgs, tcpdumpCheckArgs, tcpdumpWrapper } from '../../../src/collectors/pcap/tcpdump-args.js';
import type { CollectorConfigs } from '../../../src/manifest/schema.js';

describe('tcpdump argv', () => {
  // Regression for: `-Z USER` made tcpdump drop root after the capture opened; the uid change cleared the
  // parent-death signal, and an idle tcpdump outlived a SIGKILLed agent.
  it('never asks tcpdump to change user, even with collectors.pcap.user set', () => {
    const c = (pcapConfig.parse({ iface: 'tap0', user: 'nobody', filter: 'not port 22' }) as CollectorConfigs['pcap']);
    expect(tcpdumpCaptureArgs(c)).toEqual(['-i', 'tap0', '-U', '-w', '-', '-s', '262144', '--time-stamp-precision', 'nano', '--', 'not port 22']);
    expect(tcpdumpCheckArgs(c)).toEqual(['-d', '-i', 'tap0', '-s', '262144', '--', 'not port 22']);
    expect(tcpdumpCaptureArgs(c)).not.toContain('-Z');
  });

  it('a filter that looks like options stays after --', () => {
    const c = (pcapConfig.parse({ iface: 'tap0', filter: '-w /etc/passwd' }) as CollectorConfigs['pcap']);
    const argv = tcpdumpCaptureArgs(c);
    expect(argv.slice(-2)).toEqual(['--', '-w /etc/passwd']);
    expect(argv.indexOf('--')).toBe(argv.length - 2);
  });

  it('as root: setpriv switches to the capture user by number, with its groups, CAP_NET_RAW alone, no new privileges, SIGKILL at parent death', () => {
    expect(tcpdumpWrapper('/usr/bin/setpriv', { user: 'tcpdump', uid: 103, gid: 110, switchUser: true })).toEqual([
      '/usr/bin/setpriv',
      '--reuid=103',
      '--regid=110',
      '--init-groups',
      '--inh-caps=-all,+net_raw',
      '--ambient-caps=-all,+net_raw',
      '--no-new-privs',
      '--pdeathsig',
      'KILL',
      '--',
    ]);
  });

  it("not root: labtel's own user is kept (no --reuid), its CAP_NET_RAW handed on", () => {
    const argv = tcpdumpWrapper('/usr/bin/setpriv', { user: 'nobody', uid: 65534, gid: 65534, switchUser: false });
    expect(argv).toEqual(['/usr/bin/setpriv', '--inh-caps=-all,+net_raw', '--ambient-caps=-all,+net_raw', '--no-new-privs', '--pdeathsig', 'KILL', '--']);
  });
});

describe('capMask', () => {
  const status = 'Name:\ttcpdump\nCapInh:\t0000000000002000\nCapPrm:\t0000000000002000\nCapEff:\t0000000000002000\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000002000\n';
  it('reads a capability set of /proc/PID/status as a mask', () => {
    expect(capMask(status, 'CapAmb')).toBe(1n << 13n);
    expect(capMask(status, 'CapBnd')).toBe((1n << 41n) - 1n);
  });
  it('a set that is not there is empty, not an error', () => {
    expect(capMask('Name:\tx\n', 'CapAmb')).toBe(0n);
  });
});
