// A libvirt domain as the target, against the real libvirtd: the domains are
// the test's own (transient, paused TCG guests), destroyed after the file.
import fs from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveTarget } from '../../src/agent/target.js';
import { decideCollectors } from '../../src/agent/run-episode.js';
import { describeDomain } from '../../src/libvirt/domain.js';
import { domainPid } from '../../src/libvirt/domain-pid.js';
import { parseManifest } from '../../src/manifest/load.js';
import { PidfileFollower } from '../../src/util/pidfile-follower.js';
import { LABTEL_BIN } from '../helpers/cli.js';
import { destroyDomains, domainXml, hasLibvirtd, LIBVIRT_URI, restartDomain, startDomain, virsh, type TestDomain } from '../helpers/libvirtd.js';
import { monitorCommand } from '../../src/libvirt/domain-threads.js';
import crypto from 'node:crypto';
import { EpisodeClock } from '../../src/clock/origin.js';
import { procLoop } from '../../src/collectors/proc/run-loop.js';
import { JsonlWriter } from '../../src/rows/jsonl-writer.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { abortAfter, readJsonl, tmpDir } from '../helpers/tmp.js';
import { startQemu } from '../helpers/qemu.js';

const exec = promisify(execFile);
const QEMU = '/usr/bin/qemu-system-x86_64';
const SIX = { proc: {}, perf: {}, pcap: {}, netflow: {}, qmp: {}, guest_agent: {} };

/** Rewrites a root-owned pidfile for the length of `fn`, then puts its exact bytes back. */
async function withPidfile<T>(file: string, content: string, fn: () => Promise<T>): Promise<T> {
  const saved = fs.readFileSync(file);
  fs.writeFileSync(file, content);
  try {
    return await fn();
  } finally {
    fs.writeFileSync(file, saved);
  }
}

describe.skipIf(!hasLibvirtd())('target.libvirt_domain, with the real libvirtd', () => {
  let a: TestDomain; // one tap, both channels
  let b: TestDomain; // two taps, no channels
  let stopped: TestDomain; // defined, never started
  beforeAll(() => {
    a = startDomain();
    b = startDomain({ taps: 2, telemetry: false, qga: false });
    stopped = startDomain({ defineOnly: true });
  });
  afterAll(() => destroyDomains());

  it("resolves the pid from libvirt's pidfile, held to the domain's uuid, with its vCPU threads, tap and channels", async () => {
    const t = await resolveTarget({ libvirt_domain: a.name });
    expect(t.pid).toBe(a.pid());
    expect(t.pidfile).toBe(`/run/libvirt/qemu/${a.name}.pid`); // followed across restarts as a pidfile target's
    expect(fs.readFileSync(`/proc/${t.pid}/cmdline`, 'latin1').split('\0')).toContain(a.uuid);
    expect(t.exe).toBe(QEMU);
    const vcpus = Object.entries(t.vcpu_threads ?? {});
    expect(vcpus.map(([, i]) => i).sort()).toEqual([0, 1]);
    for (const [tid] of vcpus) expect(fs.existsSync(`/proc/${t.pid}/task/${tid}`), `vCPU thread ${tid} is the pid's own`).toBe(true);
    expect(t.libvirt).toMatchObject({ domain: a.name, uri: LIBVIRT_URI, uuid: a.uuid, pidfile: t.pidfile });
    expect(t.libvirt!.interfaces).toHaveLength(1);
    expect(t.libvirt!.interfaces[0]).toMatchObject({ type: 'ethernet', dev: a.taps[0] });
    expect(t.libvirt!.interfaces[0]!.mac).toMatch(/^52:54:00:/);
    expect(fs.existsSync(`/sys/class/net/${a.taps[0]}`)).toBe(true);
    const byName = Object.fromEntries(t.libvirt!.channels.map((c) => [c.name, c]));
    expect(byName['org.labtel.telemetry.0']).toMatchObject({ type: 'unix', mode: 'bind', path: a.telemetry });
    expect(byName['org.qemu.guest_agent.0']).toMatchObject({ type: 'unix', mode: 'bind' });
    expect(byName['org.qemu.guest_agent.0']!.path).toMatch(/org\.qemu\.guest_agent\.0$/);
  });

  // Regression for: a pidfile naming another process was taken at its word. Here it names another domain's QEMU, which
  // passes every other check (root's pidfile, QEMU's executable, a live process): only its -uuid tells it apart.
  it("refuses libvirt's pidfile rewritten to name another domain's QEMU, naming the pidfile, the pid, its exe and both uuids", async () => {
    const other = b.pid();
    const why = `libvirt's pidfile ${a.pidfile} names pid ${other} (${QEMU}), which carries -uuid ${b.uuid}, but the domain "${a.name}" has uuid ${a.uuid}; refusing to watch it`;
    const d = await describeDomain({ domain: a.name, uri: LIBVIRT_URI });
    await withPidfile(a.pidfile, String(other), async () => {
      expect(() => domainPid(d, a.pidfile, [])).toThrow(why);
      await expect(resolveTarget({ libvirt_domain: a.name })).rejects.toThrow(`target.libvirt_domain: ${why}`);
    });
    // A process without -uuid at all (labtel's own parent shell would do; this test's node process is labtel's pid): one that is not QEMU.
    await withPidfile(a.pidfile, String(process.ppid), async () => {
      await expect(resolveTarget({ libvirt_domain: a.name })).rejects.toThrow(/which carries no -uuid in its command line, but the domain/);
    });
    // A pidfile root did not write (libvirtd does): refused, whatever it names.
    fs.chownSync(a.pidfile, 65534, 65534);
    try {
      await expect(resolveTarget({ libvirt_domain: a.name })).rejects.toThrow(`target.libvirt_domain: libvirt's pidfile ${a.pidfile} is owned by uid 65534, not root (libvirtd writes it); refusing to trust it`);
    } finally {
      fs.chownSync(a.pidfile, 0, 0);
    }
    expect((await resolveTarget({ libvirt_domain: a.name })).pid).toBe(a.pid()); // restored
  });

  // Regression for: proc and perf follow libvirt's pidfile across a domain restart; a rewrite naming another domain's
  // QEMU (same executable, same uid) passed every check the follower had.
  it("a pidfile follower takes on a rewrite of libvirt's pidfile only when it names a process carrying the domain's -uuid", async () => {
    const other = b.pid();
    const own = a.pid(); // read before the rewrite
    await withPidfile(a.pidfile, String(other), async () => {
      const refused: string[] = [];
      const f = new PidfileFollower(a.pidfile, own, '/proc', { exe: QEMU, uuid: a.uuid, onRefused: (m) => refused.push(m) });
      expect(f.next()).toBeNull();
      expect(refused).toEqual([`pidfile ${a.pidfile} was rewritten to name pid ${other}: it carries -uuid ${b.uuid}, not the domain's -uuid ${a.uuid}; not followed (refusal 1), waiting for the next rewrite`]);
      // Without the domain's uuid the same rewrite is taken on: the uuid is what refused it.
      const blind = new PidfileFollower(a.pidfile, own, '/proc', { exe: QEMU });
      expect(blind.next()?.pid).toBe(other);
    });
  });

  // Regression for: a QMP socket the manifest names beside the domain was read without asking whose it is, so the qmp
  // collector's rows could describe another QEMU than the one proc and perf watch.
  it("refuses collectors.qmp.socket when it is not the domain's QEMU's", async () => {
    const q = await startQemu();
    await expect(resolveTarget({ libvirt_domain: a.name }, { qmpSocket: q.qmp })).rejects.toThrow(
      `target.libvirt_domain: the QMP socket ${q.qmp} (collectors.qmp.socket) belongs to pid ${q.pid} (${QEMU}), not to the domain's QEMU, pid ${a.pid()} (from ${a.pidfile}); refusing to watch it`,
    );
    q.proc.kill('SIGKILL');
    await q.exited;
  });

  // Regression for: proc and perf watch a libvirt target through libvirt's pidfile; a domain restarted (destroyed and
  // created again, a new QEMU under a new pid) must be followed as a pidfile target's restart is.
  it("proc follows the domain across a restart through libvirt's pidfile, holding the new QEMU to the domain's uuid", async () => {
    const c = startDomain({ taps: 0, telemetry: false, qga: false });
    const t = await resolveTarget({ libvirt_domain: c.name });
    const out = path.join(tmpDir(), 'telemetry-proc.jsonl');
    const writer = new JsonlWriter(out, { availableInDeployment: true });
    const stop = new AbortController();
    const bound = abortAfter(40_000);
    const refused: string[] = [];
    const done = procLoop({
      pid: t.pid, pidfile: t.pidfile, follow: { exe: t.exe, uuid: t.libvirt!.uuid, onRefused: (m) => refused.push(m) },
      writer, clock: new EpisodeClock(0), intervalMs: 50, signal: AbortSignal.any([stop.signal, bound]), sampler: 'ts',
    });
    const rows = () => (writer.flush(), fs.existsSync(out) ? readJsonl(out) : []);
    const until = async (cond: () => boolean, what: string) => {
      while (!cond()) {
        if (bound.aborted) throw new Error(`never happened: ${what}`);
        await sleep(20);
      }
    };
    try {
      await until(() => rows().filter((x) => x.pid === t.pid).length >= 2, 'two rows of the first QEMU');
      restartDomain(c);
      const next = c.pid();
      expect(next).not.toBe(t.pid);
      await until(() => rows().filter((x) => x.pid === next).length >= 2, 'two rows of the restarted QEMU');
      expect(rows().some((x) => x.pid === t.pid && x.process_event === 'exited')).toBe(true);
      expect(refused).toEqual([]);
    } finally {
      stop.abort();
      await done;
    }
  });

  it('refuses a domain that does not exist, and one that does not run, naming it and the URI', async () => {
    await expect(resolveTarget({ libvirt_domain: 'lvtarget-nosuch' })).rejects.toThrow(
      `target.libvirt_domain: virsh dumpxml (domain "lvtarget-nosuch" on ${LIBVIRT_URI}): error: failed to get domain 'lvtarget-nosuch'`,
    );
    // labtel check says it once, on the target's line; the collectors it would have filled point there.
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'm.json'), JSON.stringify({ output_dir: path.join(dir, 'ep'), target: { libvirt_domain: 'lvtarget-nosuch' }, collectors: { proc: {}, pcap: {} } }));
    const r = await exec(process.execPath, [LABTEL_BIN, 'check', path.join(dir, 'm.json')], { encoding: 'utf8' }).then(() => null, (e: { code: number; stdout: string }) => e);
    expect(r?.code).toBe(1);
    const lines = r!.stdout.split('\n');
    expect(lines[0]).toBe(`target       refuse   target.libvirt_domain: virsh dumpxml (domain "lvtarget-nosuch" on ${LIBVIRT_URI}): error: failed to get domain 'lvtarget-nosuch'`);
    expect(lines).toContain("pcap         refuse   collectors.pcap.iface comes from target.libvirt_domain, which could not be read (see the target's refusal)");
    await expect(resolveTarget({ libvirt_domain: stopped.name })).rejects.toThrow(
      `target.libvirt_domain: domain "${stopped.name}" on ${LIBVIRT_URI} is not running (its XML has no id); start it first (virsh -c ${LIBVIRT_URI} start ${stopped.name})`,
    );
  });

  it('fills the collectors from the domain before they are probed: all six planned for a manifest naming only the domain', async () => {
    const m = parseManifest({ output_dir: tmpDir(), target: { libvirt_domain: a.name }, collectors: SIX });
    const plan = await decideCollectors(m);
    expect(plan.refusals).toEqual([]);
    expect(plan.run.map((p) => p.name).sort()).toEqual(Object.keys(SIX).sort());
    expect(plan.collectors.pcap!.iface).toBe(a.taps[0]);
    expect(plan.collectors.guest_agent!.socket).toBe(a.telemetry);
    expect(plan.collectors.guest_agent!.mode).toBe('connect');
    expect(plan.collectors.qmp!.libvirt).toEqual({ domain: a.name, uri: LIBVIRT_URI, uuid: a.uuid });
    expect(plan.filled.map((f) => f.key).sort()).toEqual(['collectors.guest_agent.socket', 'collectors.netflow.guest_mac', 'collectors.pcap.iface', 'collectors.qmp.libvirt']);
    expect(plan.probes.qmp!.reason).toMatch(new RegExp(`^QEMU \\d+\\.\\d+\\.\\d+ answers through libvirt \\(${LIBVIRT_URI}, domain "${a.name}"\\)`));
    expect(plan.probes.pcap!.reason).toContain(`can capture on ${a.taps[0]}`);
    // A value the manifest names is kept.
    const named = await decideCollectors(parseManifest({ output_dir: tmpDir(), target: { libvirt_domain: a.name }, collectors: { pcap: { iface: 'lo' } } }));
    expect(named.collectors.pcap!.iface).toBe('lo');
    expect(named.filled).toEqual([]);
  });

  // Regression for: qmp through libvirt went by the domain's name, so after the domain was destroyed and another one
  // created under its name (another uuid), the qmp rows went on describing that other domain (seen in a real episode:
  // vcpus 1, then 2) while proc and perf refused its QEMU for its -uuid.
  it('qmp and qga filled from the domain are held to its uuid: another domain created under its name is not asked', async () => {
    const c = startDomain({ taps: 0, telemetry: false, qga: false });
    const plan = await decideCollectors(parseManifest({ output_dir: tmpDir(), target: { libvirt_domain: c.name }, collectors: { qmp: {} } }));
    const ref = plan.collectors.qmp!.libvirt!;
    expect(ref).toEqual({ domain: c.name, uri: LIBVIRT_URI, uuid: c.uuid });
    expect(await monitorCommand(ref, 'query-status')).toMatchObject({ status: 'prelaunch' });
    virsh('destroy', c.name);
    const other = crypto.randomUUID();
    fs.writeFileSync(path.join(c.dir, 'other.xml'), domainXml(c.name, other, c.dir, [], { telemetry: false, qga: false }));
    virsh('create', path.join(c.dir, 'other.xml'), '--paused');
    expect(virsh('domuuid', c.name).trim()).toBe(other); // the name now answers for the other domain
    await expect(monitorCommand(ref, 'query-status')).rejects.toThrow(`error: failed to get domain '${c.uuid}'`);
  });

  it('qga through libvirt: filled when the domain has the agent channel, unavailable with virsh\'s reason while the agent does not answer', async () => {
    const plan = await decideCollectors(parseManifest({ output_dir: tmpDir(), target: { libvirt_domain: a.name }, collectors: { guest_agent: { protocol: 'qga', optional: true } } }));
    expect(plan.collectors.guest_agent!.libvirt).toEqual({ domain: a.name, uri: LIBVIRT_URI, uuid: a.uuid });
    expect(plan.collectors.guest_agent!.socket).toBeUndefined();
    // The guest is paused: no qemu-ga runs in it.
    expect(plan.probes.guest_agent!.available).toBe(false);
    expect(plan.probes.guest_agent!.reason).toContain(`the guest agent does not answer guest-ping through libvirt: virsh qemu-agent-command guest-ping (domain "${a.name}" on ${LIBVIRT_URI}): error: `);
    expect(plan.probes.guest_agent!.reason).toContain('it may still come up');
  });

  it('refuses what the domain cannot fill: several taps (named), no telemetry channel, no agent channel', async () => {
    const plan = await decideCollectors(parseManifest({ output_dir: tmpDir(), target: { libvirt_domain: b.name }, collectors: { proc: {}, pcap: {}, guest_agent: {} } }));
    const where = `domain "${b.name}" on ${LIBVIRT_URI}`;
    expect(plan.refusals).toContain(
      `collectors.pcap: cannot run: ${where} has 2 interfaces (${b.taps[0]} mac ${plan.domain!.interfaces[0]!.mac}, ${b.taps[1]} mac ${plan.domain!.interfaces[1]!.mac}): name the one to capture on in collectors.pcap.iface (mark it "optional": true to run the episode without it)`,
    );
    expect(plan.refusals.find((r) => r.startsWith('collectors.guest_agent:'))).toContain(`${where} has no org.labtel.telemetry.0 channel`);
    const qga = await decideCollectors(parseManifest({ output_dir: tmpDir(), target: { libvirt_domain: b.name }, collectors: { guest_agent: { protocol: 'qga' } } }));
    expect(qga.refusals[0]).toContain(`${where} has no org.qemu.guest_agent.0 channel for protocol qga`);
    // Naming the tap is enough.
    const one = await decideCollectors(parseManifest({ output_dir: tmpDir(), target: { libvirt_domain: b.name }, collectors: { pcap: { iface: b.taps[1] } } }));
    expect(one.refusals).toEqual([]);
  });

  it('labtel check (the built CLI) on a manifest naming only the domain says what it resolved and from where', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'm.json');
    fs.writeFileSync(file, JSON.stringify({ output_dir: path.join(dir, 'ep'), target: { libvirt_domain: a.name }, collectors: SIX }));
    const r = await exec(process.execPath, [LABTEL_BIN, 'check', file], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    const pid = a.pid();
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(`target       ok       pid ${pid}`);
    expect(lines).toContain(`  domain       "${a.name}" on ${LIBVIRT_URI}: running (id ${(await describeDomain({ domain: a.name, uri: LIBVIRT_URI })).id}), uuid ${a.uuid} (virsh dumpxml)`);
    expect(lines).toContain(`  pid          ${pid} from libvirt's pidfile ${a.pidfile} (root's); its command line's -uuid matched the domain's; executable ${QEMU}`);
    expect(lines.find((l) => l.startsWith('  vCPU threads '))).toMatch(/^ {2}vCPU threads \d+ \(vCPU 0\), \d+ \(vCPU 1\) \(query-cpus-fast through libvirt; each the pid's own\)$/);
    expect(lines.find((l) => l.startsWith('  interface '))).toMatch(new RegExp(`^ {2}interface {4}${a.taps[0]} \\(type ethernet, mac 52:54:00:`));
    expect(lines).toContain(`  channel      org.labtel.telemetry.0: unix bind ${a.telemetry} (guest end disconnected)`);
    expect(lines.some((l) => l.startsWith('  channel      org.qemu.guest_agent.0: unix bind /'))).toBe(true);
    expect(lines.find((l) => l.startsWith('  filled       collectors.pcap.iface'))).toBe(`  filled       collectors.pcap.iface = "${a.taps[0]}" from domain "${a.name}" on ${LIBVIRT_URI}: its one interface's <target dev> (mac ${(await describeDomain({ domain: a.name, uri: LIBVIRT_URI })).interfaces[0]!.mac})`);
    expect(lines).toContain(`  filled       collectors.guest_agent.socket = ${JSON.stringify(a.telemetry)} from domain "${a.name}" on ${LIBVIRT_URI}: its org.labtel.telemetry.0 channel's <source path> (mode bind: QEMU listens, labtel connects)`);
    expect(lines.some((l) => l.startsWith('  filled       collectors.qmp.libvirt = {"domain":'))).toBe(true);
    for (const c of Object.keys(SIX)) expect(lines.some((l) => l.startsWith(c.padEnd(12) + ' run ')), `${c} runs:\n${r.stdout}`).toBe(true);
    expect(r.stdout).toContain('labtel run would start this episode');
  });
});
