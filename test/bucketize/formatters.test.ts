// The native file path formats rows in C++ (core/netflow_json); the live and
// pure-TS paths format them in TS (writeNetflowRows). Consumers must not be
// able to tell which wrote a file: same bytes, byte for byte.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { LABTEL_BIN, ROOT } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const exec = promisify(execFile);
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'pcap');
const classic = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.pcap'));

describe('netflow JSONL from the C++ and the TS formatter', () => {
  it.each(classic)('%s: identical bytes with and without the addon, last row partial in both', async (name) => {
    const dir = tmpDir();
    const args = ['bucketize', path.join(FIXTURES, name), '--bucket-ms', '50', '--guest-ip', '10.201.0.10', '--guest-ip', 'fd00:201::10'];
    await exec(process.execPath, [LABTEL_BIN, ...args, '-o', path.join(dir, 'native.jsonl')]);
    await exec(process.execPath, [LABTEL_BIN, ...args, '-o', path.join(dir, 'ts.jsonl')], { env: { ...process.env, LABTEL_NATIVE: '0' } });
    const native = fs.readFileSync(path.join(dir, 'native.jsonl'), 'utf8');
    expect(native.length).toBeGreaterThan(0);
    expect(fs.readFileSync(path.join(dir, 'ts.jsonl'), 'utf8')).toBe(native);
    const last = JSON.parse(native.trim().split('\n').at(-1)!);
    expect(last.partial).toBe(true);
  });
});
