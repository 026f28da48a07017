// The host inventory in episode.json, read directly (src/agent/inventory*.ts),
// against systeminformation as labtel used it before (test/agent/legacy-inventory.ts):
// the same fields, values, nulls and errors, on this host and inside a network
// and mount namespace with hostile interface names, addresses and release and
// cpuinfo files bound over the real ones.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostInventory } from '../../src/agent/inventory.js';
import { cpuModel } from '../../src/agent/inventory-cpu.js';
import { sanitizedName } from '../../src/agent/inventory-nics.js';
import { parseRelease } from '../../src/agent/inventory-os.js';
import { canMakeNetns } from '../helpers/guest-net.js';
import { ROOT } from '../helpers/cli.js';
import { legacyHostInventory } from './legacy-inventory.js';

/** As episode.json holds it (systeminformation's NaN mtu is null there). */
const asJson = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;
const SCRIPT = path.join(ROOT, 'test', 'fixtures', 'inventory', 'both.ts');

describe('hostInventory', () => {
  it('gives what systeminformation gave on this host', async () => {
    // regression for: dropping systeminformation changing a field, a value or a null in episode.json's host section
    const [now, before] = await Promise.all([hostInventory(), legacyHostInventory()]);
    expect(asJson(now)).toEqual(asJson(before));
    expect(now.network_interfaces!.length).toBeGreaterThan(0);
    expect(now.cpu!.cores).toBe(os.cpus().length);
  });

  const ns = `labtel-inv-${process.pid}`;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'labtel-inv-'));
  afterAll(() => {
    spawnSync('ip', ['netns', 'del', ns]);
    fs.rmSync(work, { recursive: true, force: true });
  });

  const cases: Array<{ what: string; release: string; cpuinfo: string }> = [
    { what: 'a distro whose VERSION has a codename', release: 'PRETTY_NAME="Foo Linux 3.1 (Bar)"\nNAME="Foo Linux"\nVERSION="3.1 (Bar)"\nVERSION_ID=3.1\nX=a=b\n', cpuinfo: 'processor\t: 0\nmodel name\t: Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz\n' },
    { what: 'no NAME, VERSION_ID only, no trailing newline', release: 'ID=x\nVERSION_ID="7"', cpuinfo: 'processor\t: 0\nmodel name\t: QEMU Virtual CPU version 2.5+\n' },
    { what: 'an empty release file and a model with Unknown and O.E.M.', release: '', cpuinfo: 'processor\t: 0\nmodel name\t: To Be Filled By O.E.M. AMD Ryzen 9 5950X 16-Core Processor Unknown CPU\n' },
    { what: 'a PRETTY_NAME that does not start with NAME', release: 'NAME=Alpine\nPRETTY_NAME="Other 1"\nVERSION=(x)\n', cpuinfo: 'processor\t: 0\nmodel name\t:   Common KVM processor  \n' },
  ];
  it.each(cases)('gives what systeminformation gave inside a namespace: $what, odd interface names and addresses', ({ release, cpuinfo }) => {
    // regression for: the direct reads parsing release files, model names, interface names (systeminformation drops @, ( and # from them,
    // and then finds no /sys entry: mtu null, operstate '') or address order differently from systeminformation
    expect(canMakeNetns()).toBe(true);
    spawnSync('ip', ['netns', 'del', ns]);
    const ip = (...a: string[]) => execFileSync('ip', ['-n', ns, ...a]);
    execFileSync('ip', ['netns', 'add', ns]);
    ip('link', 'set', 'lo', 'up');
    ip('link', 'add', 'l@b(0)', 'type', 'veth', 'peer', 'name', 'v#1');
    ip('link', 'add', 'd1', 'mtu', '9000', 'type', 'veth', 'peer', 'name', 'd1p');
    for (const dev of ['l@b(0)', 'v#1', 'd1', 'd1p']) ip('link', 'set', dev, 'up');
    ip('addr', 'add', '169.254.3.4/16', 'dev', 'd1');
    ip('addr', 'add', '10.9.0.1/24', 'dev', 'd1');
    ip('addr', 'add', '10.9.0.2/24', 'dev', 'd1');
    ip('addr', 'add', 'fd00::9/64', 'dev', 'l@b(0)', 'nodad');
    ip('addr', 'add', '10.8.0.1/24', 'dev', 'v#1');
    fs.writeFileSync(path.join(work, 'os-release'), release);
    fs.writeFileSync(path.join(work, 'cpuinfo'), cpuinfo);
    // ip netns exec gives the command its own mount namespace (slave to the host's): the bind mounts stay inside it.
    const r = spawnSync(
      'ip',
      ['netns', 'exec', ns, 'sh', '-c', `mount --bind "$1/os-release" /usr/lib/os-release && mount --bind "$1/cpuinfo" /proc/cpuinfo && exec "$2" --import tsx "$3"`, 'sh', work, process.execPath, SCRIPT],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const { now, before } = JSON.parse(r.stdout) as { now: Awaited<ReturnType<typeof hostInventory>>; before: unknown };
    expect(now).toEqual(asJson(before));
    const names = now.network_interfaces!.map((n) => n.name);
    expect(names).toEqual(expect.arrayContaining(['lo', 'd1', 'lb0', 'v1']));
    expect(now.network_interfaces!.find((n) => n.name === 'lb0')).toMatchObject({ mtu: null, operstate: '' });
  });

  it('parses hostile release text and model names without throwing', () => {
    // regression for: a release line without a value, or a model line of spaces, throwing and nulling a whole part
    expect(parseRelease('=\nNAME\n===\n')).toEqual({ distro: 'unknown', release: 'unknown' });
    expect(cpuModel('')).toBe('');
    expect(cpuModel('   @ 3GHz')).toBe('');
    expect(sanitizedName('eth0:1')).toBe('eth0');
    expect(sanitizedName('a“b–c')).toBe('abc');
  });
});
