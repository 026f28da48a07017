// The saved capture is evidence: every file must be a whole pcap file, and
// the cap must stop saving exactly, never mid-record.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureFiles, listCaptureFiles } from '../../../src/collectors/pcap/capture-files.js';
import { pcapHeader, pcapRecord, tcpFrame, GUEST, PEER, T0_US } from '../../helpers/capture.js';
import { tmpDir } from '../../helpers/tmp.js';

const rec = pcapRecord(T0_US, tcpFrame(PEER, GUEST)); // 70 bytes

describe('CaptureFiles', () => {
  it('rotates into whole pcap files, each with the header, listed in order', () => {
    const dir = tmpDir();
    const f = new CaptureFiles(dir, pcapHeader(), 24 + 2 * rec.length, 1 << 20);
    for (let i = 0; i < 5; i++) expect(f.write(rec)).toBe(true);
    f.close();
    const files = listCaptureFiles(dir);
    expect(files.map((x) => path.basename(x))).toEqual(['network.pcap', 'network-001.pcap', 'network-002.pcap']);
    expect(files.map((x) => fs.statSync(x).size)).toEqual([24 + 2 * 70, 24 + 2 * 70, 24 + 70]);
    for (const x of files) expect(fs.readFileSync(x).subarray(0, 24)).toEqual(pcapHeader());
    expect(f.savedBytes).toBe(3 * 24 + 5 * 70);
  });

  it('stops saving at max_total_mb before a write that would pass it, and says why', () => {
    const dir = tmpDir();
    const f = new CaptureFiles(dir, pcapHeader(), 1 << 20, 24 + 2 * rec.length + 10);
    expect(f.write(rec)).toBe(true);
    expect(f.write(rec)).toBe(true);
    expect(f.write(rec)).toBe(false);
    expect(f.stopped).toMatch(/^max_total_mb reached: 164 bytes saved/);
    expect(fs.statSync(path.join(dir, 'network.pcap')).size).toBe(164);
  });

  it('never writes through a file that is already there, and stops saving (never the capture) saying why', () => {
    const dir = tmpDir();
    fs.symlinkSync('/etc/passwd', path.join(dir, 'network.pcap'));
    const f = new CaptureFiles(dir, pcapHeader(), 1 << 20, 1 << 20);
    expect(f.write(rec)).toBe(false);
    expect(f.stopped).toBe('cannot write network.pcap: it is a symlink; labtel does not write through one (EEXIST)');
    expect(f.write(rec)).toBe(false);
  });

  // Regression for: captures (the guest's traffic) were created 0644, readable by every local user.
  it('creates every capture file 0640 whatever the umask; a symlink to a file the test owns leaves it untouched', () => {
    const dir = tmpDir();
    const before = process.umask(0);
    try {
      const f = new CaptureFiles(dir, pcapHeader(), 24 + rec.length, 1 << 20);
      for (let i = 0; i < 3; i++) expect(f.write(rec)).toBe(true);
      f.close();
    } finally {
      process.umask(before);
    }
    const files = listCaptureFiles(dir);
    expect(files.length).toBe(3);
    for (const x of files) expect((fs.statSync(x).mode & 0o7777).toString(8), x).toBe('640');

    const other = tmpDir();
    const victim = path.join(other, 'victim');
    fs.writeFileSync(victim, 'victim\n');
    fs.symlinkSync(victim, path.join(other, 'network.pcap'));
    const f = new CaptureFiles(other, pcapHeader(), 1 << 20, 1 << 20);
    expect(f.write(rec)).toBe(false);
    expect(f.stopped).toMatch(/symlink/);
    expect(fs.readFileSync(victim, 'utf8')).toBe('victim\n');
  });

  it('a rotation that cannot create its file (a full disk) stops saving and keeps what was saved', () => {
    const dir = tmpDir();
    fs.mkdirSync(path.join(dir, 'network-001.pcap')); // in the way of the next file
    const f = new CaptureFiles(dir, pcapHeader(), 24 + rec.length, 1 << 20);
    expect(f.write(rec)).toBe(true);
    expect(f.write(rec)).toBe(false);
    expect(f.stopped).toBe('cannot write network-001.pcap: it already exists (EEXIST)');
    expect(fs.statSync(path.join(dir, 'network.pcap')).size).toBe(24 + 70);
  });
});
