// The network part of the host inventory: every interface with an address
// (os.networkInterfaces()), its MAC, first IPv4 and IPv6 address, MTU and
// operstate from /sys/class/net, as systeminformation 5's networkInterfaces()
// reports them on Linux, without the shell it runs per interface.
import fs from 'node:fs';
import os from 'node:os';

export interface HostNic {
  name: string;
  mac: string;
  ipv4: string;
  ipv6: string;
  mtu: number | null;
  operstate: string;
}

/** The characters systeminformation's sanitizeString(name, true) drops from an interface name before using it. */
const DROPPED = new Set(['>', '<', '*', '?', '[', ']', '|', '˚', '$', ';', '&', '#', '%', '!', '^', '\\', '\t', '\n', '\r', "'", '`', '"', '(', ')', '@', ' ', '{', '}']);

export function sanitizedName(dev: string): string {
  let out = '';
  for (const ch of dev.split(':')[0]!.trim().slice(0, 2001)) {
    const c = ch.charCodeAt(0);
    if (ch.length > 1 || DROPPED.has(ch) || (c >= 0x2018 && c <= 0x201e) || (c >= 0x2013 && c <= 0x2015)) continue;
    out += ch;
  }
  return out;
}

/** A /sys/class/net attribute as `echo -n "x: "; cat FILE; echo` then systeminformation's getValue() give it: the first line's text, trimmed; '' when unreadable. */
function sysValue(name: string, attr: string, sysNet: string): string {
  try {
    return fs.readFileSync(`${sysNet}/${name}/${attr}`, 'latin1').split('\n')[0]!.trim();
  } catch {
    return '';
  }
}

export function nicsFrom(ifaces: NodeJS.Dict<os.NetworkInterfaceInfo[]>, sysNet = '/sys/class/net'): HostNic[] {
  const out: HostNic[] = [];
  for (const dev in ifaces) {
    const addrs = ifaces[dev] ?? [];
    let ipv4 = '';
    let ipv6 = '';
    let mac = '';
    for (const a of addrs) {
      if (!ipv4 && (a.family === 'IPv4' || (a.family as unknown) === 4)) ipv4 = a.address;
      if (!ipv6 && (a.family === 'IPv6' || (a.family as unknown) === 6)) ipv6 = a.address;
      mac = a.mac;
    }
    const name = sanitizedName(dev);
    const mtu = parseInt(sysValue(name, 'mtu', sysNet), 10);
    out.push({ name, mac, ipv4, ipv6, mtu: Number.isNaN(mtu) ? null : mtu, operstate: sysValue(name, 'operstate', sysNet) });
  }
  return out;
}

export function hostNics(): HostNic[] {
  return nicsFrom(os.networkInterfaces());
}
