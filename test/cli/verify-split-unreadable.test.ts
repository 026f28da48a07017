// `labtel verify` offers the tail of the episode's largest telemetry file to
// a worker (src/verify/split-scan.ts) before it knows which files it judges:
// a file it cannot read is then for verify itself to meet, or not.
// regression for: the split reading the largest file's bytes to find its
// tail's first line, outside its own fallback, so an unreadable file verify
// does not judge (the agent's own telemetry-agent.jsonl, as a user other than
// the agent's) failed the command, exit 2 with "labtel: EACCES: permission
// denied, open '.../telemetry-agent.jsonl'", where one pass judged it OK.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABTEL_BIN } from '../helpers/cli.js';
import { cleanBase } from '../verify/split-episodes.js';

let base: string;
beforeAll(() => {
  base = cleanBase();
});
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

/** labtel verify as a user who cannot read a file mode 000 (root can: then as nobody). */
function verify(mode: string, dir: string): string {
  const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const r = spawnSync(process.execPath, [LABTEL_BIN, 'verify', dir], { encoding: 'utf8', env: { ...process.env, LABTEL_VERIFY_SPLIT: mode }, timeout: 60_000, ...asUser });
  return JSON.stringify({ status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr });
}

describe('labtel verify split between two threads, with an unreadable file it does not judge', () => {
  it('prints and exits as one pass', () => {
    const dir = path.join(base, 'clean');
    const proc = fs.readFileSync(path.join(dir, 'telemetry-proc.jsonl'));
    // The largest file: the split offers its tail.
    const agent = path.join(dir, 'telemetry-agent.jsonl');
    fs.writeFileSync(agent, Buffer.concat([proc, proc]));
    fs.chmodSync(agent, 0o000);
    fs.chmodSync(base, 0o755);
    fs.chmodSync(dir, 0o755);
    for (const f of fs.readdirSync(dir)) if (f !== 'telemetry-agent.jsonl') fs.chmodSync(path.join(dir, f), 0o644);
    const one = verify('off', dir);
    expect(JSON.parse(one)).toMatchObject({ status: 0, stderr: '' });
    expect(JSON.parse(one).stdout).toContain(': OK');
    for (const mode of ['main', 'worker']) expect(verify(mode, dir)).toBe(one);
  }, 60_000);
});
