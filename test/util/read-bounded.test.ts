// readBounded, the one bounded reader of kernel files (pcap's interface
// counters and sysfs queues, proc's cgroup files): cut exactly at its bound,
// a file past the first buffer read whole, a symlink at the name refused, a
// FIFO there not blocking the collector's thread, a descriptor read again
// from offset 0 and left open, the caller's decoder used (its error a code).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readBounded } from '../../src/util/read-bounded.js';
import { tmpDir } from '../helpers/tmp.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

describe('readBounded', () => {
  it('reads a file up to its bound: whole when it fits (at exactly the bound too), else the first max bytes and cut', () => {
    const f = path.join(tmpDir(), 'f');
    fs.writeFileSync(f, 'abcdef');
    expect(readBounded(f, 100)).toEqual({ text: 'abcdef', cut: false });
    expect(readBounded(f, 6)).toEqual({ text: 'abcdef', cut: false });
    expect(readBounded(f, 5)).toEqual({ text: 'abcde', cut: true });
    expect(readBounded(f, 0)).toEqual({ text: '', cut: true });
    expect(readBounded(path.join(path.dirname(f), 'none'), 10)).toEqual({ code: 'ENOENT' });
  });

  it('a file longer than the first 64 KiB buffer: read whole under a larger bound, cut at the bound past it (regression for: the buffer grew without copying what was read)', () => {
    const f = path.join(tmpDir(), 'big');
    const text = Array.from({ length: 30_000 }, (_, i) => `${i}\n`).join(''); // 158,890 bytes, every line different
    fs.writeFileSync(f, text);
    expect(readBounded(f, 4 << 20)).toEqual({ text, cut: false });
    expect(readBounded(f, 100_000)).toEqual({ text: text.slice(0, 100_000), cut: true });
  });

  it('a real /proc file: the same text as fs reads', () => {
    const r = readBounded('/proc/self/mountinfo', 4 << 20);
    expect('text' in r && r.text.length).toBeGreaterThan(0);
    expect('text' in r && r.text.split('\n')[0]).toBe(fs.readFileSync('/proc/self/mountinfo', 'latin1').split('\n')[0]);
  });

  it('a symlink at the name is not followed (ELOOP): a stand-in root cannot send the read elsewhere', () => {
    const d = tmpDir();
    fs.writeFileSync(path.join(d, 'secret'), 'not for the row');
    fs.symlinkSync(path.join(d, 'secret'), path.join(d, 'dev'));
    expect(readBounded(path.join(d, 'dev'), 100)).toEqual({ code: 'ELOOP' });
  });

  it('a FIFO at the name (no writer) does not block: regression for an open() without O_NONBLOCK, which waits for a writer for good', () => {
    // In a child, so that a blocking open shows as a timeout here rather than a hung test run.
    const fifo = path.join(tmpDir(), 'dev');
    execFileSync('mkfifo', [fifo]);
    const src = path.resolve(import.meta.dirname, '../../src/util/read-bounded.ts');
    const code = `import { readBounded } from ${JSON.stringify(src)}; console.log(JSON.stringify(readBounded(${JSON.stringify(fifo)}, 100)));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, TSX_DISABLE_CACHE: '1' } });
    expect(r.error).toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    // Positional reads of a FIFO fail (ESPIPE): an error code, never a hang, never a number.
    expect(JSON.parse(r.stdout)).toEqual({ code: 'ESPIPE' });
  });

  it('an open descriptor is read from offset 0 each time and left open: a file changed in between reads as it is now', () => {
    const f = path.join(tmpDir(), 'counter');
    fs.writeFileSync(f, 'one\n');
    const fd = fs.openSync(f, 'r');
    try {
      expect(readBounded(fd, 100)).toEqual({ text: 'one\n', cut: false });
      fs.writeFileSync(f, 'two, longer\n');
      expect(readBounded(fd, 100)).toEqual({ text: 'two, longer\n', cut: false });
      expect(fs.fstatSync(fd).isFile()).toBe(true); // still open
    } finally {
      fs.closeSync(fd);
    }
  });

  it("the caller's decoder: its text, and its failure as a code (proc reads /proc/<pid>/cgroup as strict UTF-8)", () => {
    const f = path.join(tmpDir(), 'cgroup');
    fs.writeFileSync(f, Buffer.from('0::/caf\xc3\xa9\n', 'latin1'));
    expect(readBounded(f, 100, (b) => strictUtf8.decode(b))).toEqual({ text: '0::/café\n', cut: false });
    fs.writeFileSync(f, Buffer.from([0x30, 0x3a, 0x3a, 0x2f, 0xff, 0x0a]));
    expect(readBounded(f, 100, (b) => strictUtf8.decode(b))).toEqual({ code: 'ERR_ENCODING_INVALID_ENCODED_DATA' });
  });
});
