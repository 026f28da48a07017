// `labtel bucketize FILE` starts its pipeline before the command loads
// (src/cli/commands/bucketize-early.ts). Where that could change what the
// command does, it must not: the command's output, messages and exit status
// are those of the pure-TS path, which starts nothing early.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateCapture } from '../../scripts/bench/gen-capture.js';
import { LABTEL_BIN } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

function labtel(args: string[], native: boolean, input?: Buffer) {
  const env = { ...process.env, LABTEL_NATIVE: native ? undefined : '0' };
  const r = spawnSync(process.execPath, [LABTEL_BIN, 'bucketize', ...args], { env, input, timeout: 60_000, maxBuffer: 1 << 28 });
  expect(r.error, `labtel bucketize ${args.join(' ')} did not end within 60 s`).toBeUndefined();
  return { status: r.status, signal: r.signal, stdout: r.stdout.toString('latin1'), stderr: r.stderr.toString() };
}

function capture(dir: string, name = 'c.pcap'): string {
  const file = path.join(dir, name);
  generateCapture(file, 20_000, { seed: 5 });
  return file;
}

describe('labtel bucketize started early', () => {
  it('the capture as its own output with --force: the same as the pure-TS path (the capture is removed first, then read)', () => {
    // regression for: a pipeline started before the command removes `-o FILE --force` would read the old capture
    // through its open fd, where the command reads the new, empty file at that path.
    const runs = [true, false].map((native) => {
      const dir = tmpDir();
      const file = capture(dir);
      const r = labtel([file, '-o', file, '--force', '--guest-ip', '10.200.0.10'], native);
      return { ...r, stderr: r.stderr.replaceAll(dir, 'DIR'), file: fs.readFileSync(file, 'latin1') };
    });
    expect(runs[0]!.status).not.toBe(0); // an empty capture is refused
    expect(runs[0]).toEqual(runs[1]);
  });

  it('an output that exists without --force: refused as on the pure-TS path, and the started run does not hold the process', () => {
    const runs = [true, false].map((native) => {
      const dir = tmpDir();
      const file = capture(dir);
      const out = path.join(dir, 'out.jsonl');
      fs.writeFileSync(out, 'keep\n');
      const r = labtel([file, '-o', out, '--guest-ip', '10.200.0.10'], native);
      return { ...r, stderr: r.stderr.replaceAll(dir, 'DIR'), out: fs.readFileSync(out, 'utf8') };
    });
    expect(runs[0]).toMatchObject({ status: 2, signal: null, out: 'keep\n' });
    expect(runs[0]!.stderr).toContain('already exists');
    expect(runs[0]).toEqual(runs[1]);
  });

  it('a capture that is a FIFO is read by the command, not early: the same rows as from the file', () => {
    const dir = tmpDir();
    const file = capture(dir);
    const fifo = path.join(dir, 'fifo.pcap');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const fromFile = labtel([file, '-o', '-', '--guest-ip', '10.200.0.10'], true);
    // The writer runs beside it: a shell copying the capture into the FIFO.
    const env = { ...process.env };
    const r = spawnSync('sh', ['-c', `cat "$1" > "$2" & exec "$3" "$4" bucketize "$2" -o - --guest-ip 10.200.0.10`, 'sh', file, fifo, process.execPath, LABTEL_BIN], { env, timeout: 60_000, maxBuffer: 1 << 28 });
    expect(r.error, 'bucketize of the FIFO did not end within 60 s').toBeUndefined();
    expect(fromFile.status).toBe(0);
    expect(fromFile.stdout.split('\n').length).toBeGreaterThan(100);
    expect({ status: r.status, stdout: r.stdout.toString('latin1') }).toEqual({ status: 0, stdout: fromFile.stdout });
  });

  it('a capture that does not exist, or flags only the schema judges: the messages of the pure-TS path', () => {
    const dir = tmpDir();
    const file = capture(dir);
    const cases = [
      [path.join(dir, 'missing.pcap'), '-o', '-'],
      [file, '-o', '-', '--bucket-ms', '0'],
      [file, '-o', '-', '--guest-ip', '10.200.0.999'],
      [file, path.join(dir, 'other.pcap'), '-o', '-'],
    ];
    expect(cases.length).toBeGreaterThan(0);
    for (const args of cases) {
      const a = labtel(args, true);
      expect(a.status, args.join(' ')).toBe(2);
      expect(a, args.join(' ')).toEqual(labtel(args, false));
    }
  });
});
