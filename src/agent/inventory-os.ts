// The operating system part of the host inventory: hostname, kernel and the
// distribution, read from os and the release files the way systeminformation
// 5's osInfo() reads them on Linux (`cat /etc/*-release; cat /usr/lib/os-release;
// cat /etc/openwrt_release`, later keys winning), without its shells.
import fs from 'node:fs';
import os from 'node:os';

export interface HostOs {
  hostname: string;
  kernel: string;
  distro: string;
  release: string;
}

/** The release files' text, concatenated in the order the shell's `cat` gives them (a missing file adds nothing). */
export function releaseText(etc = '/etc', usrLib = '/usr/lib'): string {
  let names: string[] = [];
  try {
    // sh's `*-release`: no dotfiles, sorted by bytes (dash)
    names = fs.readdirSync(etc).filter((n) => n.endsWith('-release') && !n.startsWith('.')).sort();
  } catch {
    // no /etc: nothing from it
  }
  const files = [...names.map((n) => `${etc}/${n}`), `${usrLib}/os-release`, `${etc}/openwrt_release`];
  let text = '';
  for (const f of files) {
    try {
      text += fs.readFileSync(f, 'latin1');
    } catch {
      // cat prints nothing for a file it cannot read (or a directory)
    }
  }
  return text;
}

/** Distribution name and release from the release files' text, as systeminformation parses it. */
export function parseRelease(text: string): { distro: string; release: string } {
  const r: Record<string, string> = Object.create(null);
  for (const line of text.split('\n')) {
    if (line.indexOf('=') !== -1) r[line.split('=')[0]!.trim().toUpperCase()] = line.split('=')[1]!.trim();
  }
  const distro = (r.DISTRIB_ID || r.NAME || 'unknown').replace(/"/g, '');
  let version = (r.VERSION || '').replace(/"/g, '');
  const pretty = (r.PRETTY_NAME || '').replace(/"/g, '');
  if (pretty.indexOf(distro + ' ') === 0) version = pretty.replace(distro + ' ', '').trim();
  if (version.indexOf('(') >= 0) version = version.split('(')[0]!.trim();
  return { distro, release: (version || r.DISTRIB_RELEASE || r.VERSION_ID || 'unknown').replace(/"/g, '') };
}

export function hostOs(): HostOs {
  return { hostname: os.hostname(), kernel: os.release(), ...parseRelease(releaseText()) };
}
