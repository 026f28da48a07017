// A capture that cannot run must refuse the episode with the reason before
// anything is spawned: the field's worst bug was a capture that quietly
// wrote nothing. These need tcpdump (CI installs it) but no test network:
// the loopback interface is enough to be refused on.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { LABTEL_BIN } from '../../helpers/cli.js';
import { has, isRoot } from '../../helpers/programs.js';
import { tmpDir } from '../../helpers/tmp.js';

const exec = promisify(execFile);

async function run(collectors: object, asUser?: number) {
  const dir = tmpDir();
  fs.chmodSync(dir, 0o777);
  const manifest = path.join(dir, 'm.json');
  fs.writeFileSync(manifest, JSON.stringify({ output_dir: path.join(dir, 'ep'), duration_s: 1, target: { pid: process.pid }, collectors }));
  const argv = [process.execPath, LABTEL_BIN, 'run', manifest];
  const cmd = asUser === undefined ? argv : ['setpriv', `--reuid=${asUser}`, `--regid=${asUser}`, '--clear-groups', ...argv];
  const r = await exec(cmd[0]!, cmd.slice(1)).then(
    (ok) => ({ code: 0, stderr: ok.stderr }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
  return { ...r, started: fs.existsSync(path.join(dir, 'ep')) };
}

describe.skipIf(!has('tcpdump'))('pcap preflight refuses what cannot capture, naming why', () => {
  it('an interface that does not exist', async () => {
    const r = await run({ pcap: { iface: 'nosuch-if0' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('collectors.pcap: cannot run: interface nosuch-if0 does not exist on this host');
    expect(r.started).toBe(false);
  });

  it('a filter tcpdump rejects', async () => {
    const r = await run({ pcap: { iface: 'lo', filter: 'port and or' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/collectors\.pcap: cannot run: tcpdump cannot capture on lo as configured: .*syntax error/);
  });

  it('a bad interface name never reaches tcpdump: the manifest is refused', async () => {
    const r = await run({ pcap: { iface: '-w/etc/x' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('collectors.pcap.iface: expected an interface name (1-15 of A-Z a-z 0-9 _ . -), got "-w/etc/x"');
  });

  it.skipIf(!isRoot())('no privilege to capture (the agent run as nobody)', async () => {
    const r = await run({ pcap: { iface: 'lo' } }, 65534);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("collectors.pcap: cannot run: no privilege to capture on lo (lo: You don't have permission to perform this capture on that device); run as root or give tcpdump CAP_NET_RAW");
  });

  it('optional: the episode runs without it, and the reason is recorded', async () => {
    const r = await run({ proc: {}, pcap: { iface: 'nosuch-if0', optional: true } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('pcap: skipped: interface nosuch-if0 does not exist on this host');
  });

  it('netflow without pcap: refused, since live netflow has no packets of its own', async () => {
    const r = await run({ netflow: { guest_ip: '10.200.0.10' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('collectors.netflow: cannot run: it takes its input from collectors.pcap: enable that collector too');
  });

  it('netflow beside a pcap that cannot run: refused with pcap\'s reason', async () => {
    const r = await run({ pcap: { iface: 'nosuch-if0', optional: true }, netflow: {} });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('collectors.netflow: cannot run: it takes its input from collectors.pcap, which cannot run: interface nosuch-if0 does not exist on this host');
  });
});
