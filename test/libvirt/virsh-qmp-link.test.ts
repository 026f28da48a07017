// QMP through libvirt against a real libvirtd and QEMU, held to what the same
// QEMU answers on a socket of its own; and the direct path's bounds, against
// a stand-in virsh relaying what a hostile QEMU would send.
import { describe, expect, it, onTestFinished } from 'vitest';
import { viaLibvirt } from '../../src/libvirt/virsh-qmp-link.js';
import { QmpClient, type QmpEvent } from '../../src/qmp/client.js';
import { parseVirshEvent } from '../../src/libvirt/virsh-qmp-link.js';
import { hasLibvirtd, startProbeDomain, TEST_URI } from '../helpers/libvirt-domain.js';
import { fakeVirsh, type FakeVirshScenario } from '../helpers/fake-virsh.js';
import { waitFor } from '../helpers/wait.js';
import { setTimeout as sleep } from 'node:timers/promises';

describe('parseVirshEvent', () => {
  it('reads the name, QEMU\'s timestamp and the data, for the domain asked only', () => {
    expect(parseVirshEvent(`event STOP at 1796508117.510432 for domain 'd1': <null>`, 'd1')).toEqual({ event: 'STOP', seconds: 1796508117, micros: 510432, data: '<null>' });
    expect(parseVirshEvent(`event X at 1.000001 for domain 'd1': {"a":"b': c"}`, 'd1')?.data).toBe(`{"a":"b': c"}`);
    expect(parseVirshEvent(`event STOP at 1796508117.510432 for domain 'd2': <null>`, 'd1')).toBeNull();
    expect(parseVirshEvent(`event STOP at 17.5 for domain 'd1': <null>`, 'd1')).toBeNull();
    expect(parseVirshEvent(`hello`, 'd1')).toBeNull();
  });
});

describe.runIf(hasLibvirtd())('QMP through a real libvirtd', () => {
  it('answers as QEMU does on its own socket: version, vCPU threads, errors, a quote in an argument', async () => {
    const d = await startProbeDomain();
    const direct = await QmpClient.connect({ path: d.qmp });
    const via = await QmpClient.connect({ link: viaLibvirt({ domain: d.name, uri: TEST_URI }) });
    try {
      expect(via.version).toBe(direct.version);
      expect(via.version).toMatch(/^\d+\.\d+\.\d+$/);
      const [a, b] = await Promise.all([direct.execute<Array<{ 'thread-id': number }>>('query-cpus-fast'), via.execute<Array<{ 'thread-id': number }>>('query-cpus-fast')]);
      expect(a.length).toBe(2);
      expect(b).toEqual(a);
      const [e1, e2] = await Promise.all([direct.execute('no-such-command').catch((e: Error) => e.message), via.execute('no-such-command').catch((e: Error) => e.message)]);
      expect(e2).toBe(e1);
      expect(e2).toMatch(/CommandNotFound/);
      const q = await via.execute('qom-get', { path: "it's", property: 'x' }).catch((e: Error) => e.message);
      expect(q).toMatch(/DeviceNotFound: Device 'it's' not found/);
      // Several commands at once: libvirt relays one at a time, each answer to its own question.
      const many = await Promise.all([via.execute('query-status'), via.execute('query-cpus-fast'), via.execute('query-status')]);
      expect((many[0] as { status: string }).status).toBe('prelaunch');
      expect(many[1]).toEqual(a);
    } finally {
      direct.close();
      via.close();
    }
    expect(await via.closed).toBe('closed by labtel');
  });

  it('relays events with QEMU\'s own timestamp, the one a direct client sees', async () => {
    const d = await startProbeDomain();
    const direct = await QmpClient.connect({ path: d.qmp });
    const via = await QmpClient.connect({ link: viaLibvirt({ domain: d.name, uri: TEST_URI }) });
    const got: QmpEvent[] = [];
    const seen: QmpEvent[] = [];
    try {
      // virsh registers for events a moment after the link is up, with no sign of when (docs/libvirt.md): QEMU is resumed
      // and paused until libvirt relays a STOP, then that STOP (and the RESUME before it) is held to what the socket saw.
      for (let i = 0; !(got.some((e) => e.event === 'STOP') && got.some((e) => e.event === 'RESUME')); i++) {
        if (i > 500) throw new Error('libvirt relayed no STOP event');
        await direct.execute('cont');
        await direct.execute('stop');
        await sleep(20);
        got.push(...via.takeEvents());
      }
      const s2 = got.find((e) => e.event === 'STOP')!;
      const r2 = got.find((e) => e.event === 'RESUME')!;
      expect(s2.wallNs).not.toBeNull();
      await waitFor(() => (seen.push(...direct.takeEvents()), seen.some((e) => e.event === 'STOP' && e.wallNs === s2.wallNs)), 'the same STOP on the socket');
      expect(seen.filter((e) => e.event === 'RESUME').map((e) => e.wallNs)).toContain(r2.wallNs);
    } finally {
      direct.close();
      via.close();
    }
  });

  it('a domain that is not there: connect fails naming it and virsh\'s reason', async () => {
    const err = await QmpClient.connect({ link: viaLibvirt({ domain: 'labtel-no-such-domain', uri: TEST_URI }) }).catch((e: Error) => e.message);
    expect(err).toMatch(/^libvirt domain labtel-no-such-domain \(qemu:\/\/\/system\): .*failed to get domain 'labtel-no-such-domain'/);
  });

  it('a domain destroyed and started again under its name is another QEMU: the link never answers from it, it ends', async () => {
    const d = await startProbeDomain();
    const via = await QmpClient.connect({ link: viaLibvirt({ domain: d.name, uri: TEST_URI }) });
    onTestFinished(() => via.close());
    await via.execute('cont'); // the new QEMU will be paused (prelaunch): a status from it would differ
    expect(((await via.execute('query-status')) as { status: string }).status).toBe('running');
    await d.restart();
    const got = await via.execute('query-status').then(
      (v) => `answered ${JSON.stringify(v)}`,
      (e: Error) => e.message,
    );
    expect(got).toMatch(/query-status: .*failed to get domain/);
    expect(await via.closed).toMatch(new RegExp(`^libvirt domain ${d.name} \\(qemu:///system\\): `));
  });

  it('a domain named as another domain\'s id is still the one asked for (virsh would take the name for an id)', async () => {
    const other = await startProbeDomain();
    const id = other.virsh('domid', other.name).trim();
    expect(id).toMatch(/^\d+$/);
    const d = await startProbeDomain({ name: id });
    const via = await QmpClient.connect({ link: viaLibvirt({ domain: d.name, uri: TEST_URI }) });
    onTestFinished(() => via.close());
    expect(await via.execute('query-name')).toEqual({ name: id });
  });

  it('the domain going away ends the connection at the next command, as QEMU closing its socket does', async () => {
    const d = await startProbeDomain();
    const via = await QmpClient.connect({ link: viaLibvirt({ domain: d.name, uri: TEST_URI }) });
    d.destroy();
    const err = await via.execute('query-status').catch((e: Error) => e.message);
    expect(err).toMatch(/query-status: .*(not running|failed to get domain)/);
    expect(await via.closed).toMatch(new RegExp(`^libvirt domain ${d.name} \\(qemu:///system\\): `));
  });
});

describe('the direct path\'s bounds hold through a hostile relay (a stand-in virsh)', () => {
  const connect = (scenario: FakeVirshScenario, more: { commandTimeoutMs?: number } = {}) => {
    const problems: string[] = [];
    return {
      problems,
      client: QmpClient.connect({ link: viaLibvirt({ domain: 'hostile', uri: TEST_URI, virsh: fakeVirsh(scenario) }), onProblem: (m, kind) => problems.push(`${kind}: ${m}`), ...more }),
    };
  };

  it('a reply of 11 MiB ends the connection (too_long), as on a socket', async () => {
    const { client, problems } = connect('huge_reply');
    const c = await client;
    const err = await c.execute('query-status').catch((e: Error) => e.message);
    expect(err).toMatch(/longer than 10485760 bytes/);
    expect(await c.closed).toMatch(/longer than 10485760 bytes/);
    expect(problems).toEqual([]); // the shell's line bound ended it before the handler saw a line
  });

  it('a reply of many lines, each within the bound, is held to the bound in all: the shell is ended', async () => {
    const { client } = connect('many_lines');
    const c = await client;
    const err = await c.execute('query-status').catch((e: Error) => e.message);
    expect(err).toMatch(/virsh printed more than 10485760 bytes for one command/);
    expect(await c.closed).toMatch(/more than 10485760 bytes for one command/);
  });

  it('a reply nested past 64 levels fails its command at once, counted too_deep; the connection goes on', async () => {
    const { client, problems } = connect('deep_reply');
    const c = await client;
    const err = await c.execute('query-status').catch((e: Error) => e.message);
    expect(err).toMatch(/nested deeper than 64 levels/);
    expect(problems.some((p) => p.startsWith('too_deep'))).toBe(true);
    expect(c.problems.snapshot()).toMatchObject({ too_deep: 1 });
    c.close();
  });

  it('an event flood is rate-limited and counted', async () => {
    const { client } = connect('event_flood');
    const c = await client;
    onTestFinished(() => c.close());
    let taken = 0;
    // Every event is either taken or dropped and counted; the bucket refills at 100 a second meanwhile.
    await waitFor(() => (taken += c.takeEvents().length) + c.droppedEvents === 5000, 'all 5000 events taken or counted');
    expect(taken).toBeGreaterThan(0);
    expect(c.droppedEvents).toBeGreaterThan(4000);
    c.close();
  });

  it('an event that comes before the answer to query-version waits for the greeting made of it (it is no greeting)', async () => {
    const { client, problems } = connect('early_event');
    const c = await client;
    onTestFinished(() => c.close());
    let got: QmpEvent[] = [];
    await waitFor(() => (got = got.concat(c.takeEvents())).length >= 1, 'the event');
    expect(got.map((e) => e.event)).toEqual(['STOP']);
    expect(problems).toEqual([]);
    c.close();
  });

  it('event data that is not JSON is counted as such, and the next event still comes', async () => {
    const { client, problems } = connect('bad_event');
    const c = await client;
    onTestFinished(() => c.close());
    let got: QmpEvent[] = [];
    await waitFor(() => (got = got.concat(c.takeEvents())).length >= 1, 'the good event');
    expect(got.map((e) => e.event)).toEqual(['RESUME']);
    expect(got[0]!.data).toEqual({ reason: 'x' });
    expect(got[0]!.wallNs).toBe(1796500000000002000n);
    expect(problems.some((p) => p.startsWith('not_json'))).toBe(true);
    c.close();
  });

  it('a command libvirt never answers: the caller gets its timeout, and the shell is ended (the next would wait behind it)', async () => {
    const { client } = connect('hang', { commandTimeoutMs: 300 });
    const c = await client;
    const err = await c.execute('query-status').catch((e: Error) => e.message);
    expect(err).toBe('query-status: no reply within 300 ms');
    expect(await c.closed).toMatch(/query-status: no answer from virsh within 1300 ms/);
  });
});
