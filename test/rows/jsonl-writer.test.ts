import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { JsonlWriter } from '../../src/rows/jsonl-writer.js';
import { readJsonl, tmpDir } from '../helpers/tmp.js';

describe('JsonlWriter', () => {
  it('writes the envelope first, seq per source from 0, and null_reasons only when given', () => {
    const file = path.join(tmpDir(), 'telemetry-x.jsonl');
    const w = new JsonlWriter(file, { availableInDeployment: false });
    w.write('qmp', 10, { status: 'running' });
    w.write('qmp_event', 11, { event: 'STOP' });
    w.write('qmp', 12, { status: null }, { status: 'query-status failed' });
    w.write('agent', 13, {});
    w.close();
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    expect(lines[0]).toBe('{"source":"qmp","t_mono_ns":10,"seq":0,"available_in_deployment":false,"status":"running"}');
    expect(lines[3]).toBe('{"source":"agent","t_mono_ns":13,"seq":0,"available_in_deployment":false}');
    const rows = readJsonl(file);
    expect(rows.map((r) => [r.source, r.seq])).toEqual([['qmp', 0], ['qmp_event', 0], ['qmp', 1], ['agent', 0]]);
    expect(rows[2]!.null_reasons).toEqual({ status: 'query-status failed' });
    expect(w.rows).toBe(4);
  });

  it('creates its file fresh: refuses an existing file and a symlink planted in its place', () => {
    const dir = tmpDir();
    const existing = path.join(dir, 'a.jsonl');
    fs.writeFileSync(existing, 'old\n');
    expect(() => new JsonlWriter(existing, { availableInDeployment: true })).toThrow(`cannot create ${existing}: it already exists (EEXIST)`);
    const link = path.join(dir, 'b.jsonl');
    fs.symlinkSync('/etc/passwd-labtel-does-not-exist', link);
    expect(() => new JsonlWriter(link, { availableInDeployment: true })).toThrow(`cannot create ${link}: it is a symlink; labtel does not write through one (EEXIST)`);
    expect(fs.existsSync('/etc/passwd-labtel-does-not-exist')).toBe(false);
    expect(fs.readFileSync(existing, 'utf8')).toBe('old\n');
  });

  // Regression for: rows files were created 0644 (readable by every local user) and took the umask's word for it.
  it('creates its file 0640 whatever the umask, and a symlink to a file the test owns leaves that file untouched', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'telemetry-proc.jsonl');
    const before = process.umask(0);
    let w: JsonlWriter;
    try {
      w = new JsonlWriter(file, { availableInDeployment: true });
    } finally {
      process.umask(before);
    }
    w.write('agent', 1, { event: 'x' });
    w.close();
    expect(fs.statSync(file).mode & 0o7777).toBe(0o640);

    const victim = path.join(dir, 'victim');
    fs.writeFileSync(victim, 'victim\n');
    fs.symlinkSync(victim, path.join(dir, 'telemetry-perf.jsonl'));
    expect(() => new JsonlWriter(path.join(dir, 'telemetry-perf.jsonl'), { availableInDeployment: true })).toThrow(/telemetry-perf\.jsonl: it is a symlink; labtel does not write through one/);
    expect(fs.readFileSync(victim, 'utf8')).toBe('victim\n');
  });

  // Regression for: the timer flushed only when 200 ms had passed since the last flush, so a row
  // written just after a flush by another path waited almost two periods (up to ~373 ms was seen).
  it('a row buffered on the event loop reaches the file within one flush period (fake clock)', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] });
    try {
      const file = path.join(tmpDir(), 't.jsonl');
      const w = new JsonlWriter(file, { availableInDeployment: true });
      vi.advanceTimersByTime(150);
      w.write('guest', 1, { kind: 'line' });
      w.flush(); // a flush by another path (flushIfDue from a blocking collector, a close of a segment)
      vi.advanceTimersByTime(10);
      w.write('guest', 2, { kind: 'line' });
      vi.advanceTimersByTime(200); // one whole period after the second row
      expect(readJsonl(file).map((r) => r.t_mono_ns)).toEqual([1, 2]);
      w.close();
    } finally {
      vi.useRealTimers();
    }
  });

  // regression for: an interval timer per writer woke each of the agent's seven threads 5 times a second, rows or none (issue 19's steady CPU).
  it('keeps a timer only while rows wait in its buffer, and still flushes them within one period (fake clock)', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] });
    try {
      const file = path.join(tmpDir(), 't.jsonl');
      const w = new JsonlWriter(file, { availableInDeployment: true });
      expect(vi.getTimerCount()).toBe(0);
      w.write('guest', 1, { kind: 'line' });
      w.write('guest', 2, { kind: 'line' });
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(199);
      expect(fs.readFileSync(file, 'utf8')).toBe('');
      vi.advanceTimersByTime(1);
      expect(readJsonl(file).map((r) => r.t_mono_ns)).toEqual([1, 2]);
      expect(vi.getTimerCount()).toBe(0);
      w.appendLines('guest', '{"source":"guest","t_mono_ns":3,"seq":2,"available_in_deployment":true}\n', 1);
      w.flush(); // flushed by another path: its timer goes with the rows
      expect(vi.getTimerCount()).toBe(0);
      w.write('guest', 4, { kind: 'line' });
      w.close();
      expect(vi.getTimerCount()).toBe(0);
      expect(readJsonl(file).map((r) => r.t_mono_ns)).toEqual([1, 2, 3, 4]);
    } finally {
      vi.useRealTimers();
    }
  });

  // regression for: the rows of `labtel bucketize` made a string per block in the addon that the writer then
  // flattened and encoded again (issue 19); bytes are written as they are, in order after the rows buffered before them.
  it('appendLineBytes() writes the bytes now, after what was buffered, counting their rows and seq, and keeps nothing', () => {
    const file = path.join(tmpDir(), 't.jsonl');
    const stats = new Float64Array(2);
    const w = new JsonlWriter(file, { availableInDeployment: true, stats });
    w.write('netflow', 1, { a: 1 });
    const bytes = Buffer.from('{"source":"netflow","t_mono_ns":2,"seq":1,"available_in_deployment":true}\n{"source":"netflow","t_mono_ns":3,"seq":2,"available_in_deployment":true}\n', 'latin1');
    w.appendLineBytes('netflow', bytes, 2);
    bytes.fill(0x23); // the caller reuses its buffer: what was written stays
    expect(readJsonl(file).map((r) => [r.t_mono_ns, r.seq])).toEqual([[1, 0], [2, 1], [3, 2]]);
    expect([w.rows, stats[0], stats[1], w.nextSeq('netflow')]).toEqual([3, 3, 0, 3]);
    w.appendLineBytes('netflow', new Uint8Array(0), 0); // no rows: nothing
    w.write('netflow', 4, { a: 4 });
    w.close();
    expect(readJsonl(file).map((r) => [r.t_mono_ns, r.seq])).toEqual([[1, 0], [2, 1], [3, 2], [4, 3]]);
    expect(fs.readFileSync(file, 'latin1')).not.toContain('#');
  });

  it('appendLineBytes() fails as a flush does: the message names the file and the cause', () => {
    const fd = fs.openSync('/dev/full', 'w');
    try {
      const w = new JsonlWriter({ fd, name: 'full' }, { availableInDeployment: true });
      expect(() => w.appendLineBytes('netflow', Buffer.from('{"source":"netflow"}\n'), 1)).toThrow('cannot write full: ENOSPC: no space left on device, write');
      expect(w.rows).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('batches, yet every flushed byte is whole lines', () => {
    const file = path.join(tmpDir(), 't.jsonl');
    const w = new JsonlWriter(file, { availableInDeployment: true });
    for (let i = 0; i < 5000; i++) w.write('host_proc', i, { pid: 1, comm: 'x'.repeat(i % 50) });
    // Some of it went out as 64 KiB batches before close; what is on disk ends on a newline.
    const partial = fs.readFileSync(file, 'utf8');
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.endsWith('\n')).toBe(true);
    w.close();
    expect(readJsonl(file)).toHaveLength(5000);
  });

  // regression for: a row's size was computed by a copy of the envelope format (guest_agent's row-text.ts), so
  // a change to the envelope here would have charged the guest's byte budget with a size that is not on disk.
  it('rowBytes() is, before writing, the bytes writeMembers() then appends, and they are the bytes on disk', () => {
    const file = path.join(tmpDir(), 't.jsonl');
    const w = new JsonlWriter(file, { availableInDeployment: false });
    const rows: Array<[Parameters<JsonlWriter['rowBytes']>[0], number, string, Record<string, string>?]> = [
      ['guest', 1.6, '"kind":"line","guest":{"s":"é \u2028 😀"},"guest_t":null'],
      ['guest', 2e18, '"kind":"qga","command":"guest-get-cpustats","result":null', { result: 'guest-get-cpustats: ü' }],
      ['agent', 3, ''],
      ['guest', 4, `"kind":"line","guest":{"big":"${'x'.repeat(200_000)}"},"guest_t":null`],
    ];
    expect(rows.length).toBeGreaterThan(0);
    let sum = 0;
    for (const [source, t, members, reasons] of rows) {
      const before = w.rowBytes(source, t, members, reasons);
      const size = fs.statSync(file).size;
      w.writeMembers(source, t, members, reasons);
      w.flush();
      const appended = fs.statSync(file).size - size;
      expect(appended, `row of ${source} at ${t}`).toBe(before);
      sum += appended;
    }
    w.close();
    expect(fs.statSync(file).size).toBe(sum);
    const lines = fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);
    expect(lines.map((l) => Buffer.byteLength(l) + 1).reduce((a, b) => a + b, 0)).toBe(sum);
    expect(readJsonl(file).map((r) => r.seq)).toEqual([0, 1, 0, 2]);
  });
});
