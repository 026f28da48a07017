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

/** The release files' text (UTF-8, as systeminformation's `exec` decoded cat's output), concatenated in the order the shell's `cat` gives them (a missing file adds nothing). */
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
  for (const f of files) text += boundedRegularText(f);
  return text;
}

/** At most this much of each release file: they are a few hundred bytes. */
const RELEASE_MAX = 64 * 1024;

/**
 * A release file's text, read only when it is a regular file and only its first RELEASE_MAX bytes: a FIFO
 * there would hang the agent's start (opened non-blocking, then refused), a device such as /dev/zero fill
 * its memory. Like `cat`, a file it cannot read (or a directory) adds nothing.
 */
function boundedRegularText(file: string): string {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    return '';
  }
  try {
    if (!fs.fstatSync(fd).isFile()) return '';
    const buf = Buffer.allocUnsafe(RELEASE_MAX);
    let n = 0;
    for (let k; n < buf.length && (k = fs.readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += k;
    return buf.toString('utf8', 0, n);
  } catch {
    return '';
  } finally {
    fs.closeSync(fd);
  }
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
