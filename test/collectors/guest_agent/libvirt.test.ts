// The guest_agent collector's qga protocol through libvirt (virsh
// qemu-agent-command): against the real qemu-ga in a booted test guest run
// as a libvirt domain, and against a stand-in virsh relaying what a hostile
// agent would send (an answer past the bound, one nested too deep, none).
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { EpisodeClock } from '../../../src/clock/origin.js';
import { guestAgentConfig } from '../../../src/collectors/guest_agent/config.js';
import { guestLoop, type GuestLoopOptions } from '../../../src/collectors/guest_agent/run-loop.js';
import { startLibvirtGuest } from '../../../src/lab/libvirt-guest.js';
import { buildGuest } from '../../../src/lab/vm-guest.js';
import { JsonlWriter } from '../../../src/rows/jsonl-writer.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import { ROOT } from '../../helpers/cli.js';
import { fakeVirsh, type FakeVirshScenario } from '../../helpers/fake-virsh.js';
import { canMakeNetns } from '../../helpers/guest-net.js';
import { hasLibvirtd } from '../../helpers/libvirt.js';
import { startProbeDomain } from '../../helpers/libvirt-domain.js';
import { readJsonl, tmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

type Row = Record<string, unknown>;

function runLoop(libvirt: NonNullable<GuestLoopOptions['libvirt']>, pid: number | null = null) {
  const out = path.join(tmpDir(), 'telemetry-guest_agent.jsonl');
  const writer = new JsonlWriter(out, { availableInDeployment: false });
  const ac = new AbortController();
  const reports: string[] = [];
  const config = guestAgentConfig.parse({ protocol: 'qga', interval_ms: 300 });
  const loop = guestLoop({ config, libvirt, pid, writer, clock: new EpisodeClock(process.hrtime.bigint()), signal: ac.signal, reportError: (m) => reports.push(m), restartDelayMs: 100 });
  const rows = (): Row[] => {
    writer.flush();
    return fs.existsSync(out) ? readJsonl(out) : [];
  };
  return {
    /** The loop's end, without a stop. */
    done: loop.finally(() => writer.close()),
    rows,
    qga: () => rows().filter((r) => r.kind === 'qga'),
    reports,
    async stop() {
      ac.abort();
      const r = await loop;
      writer.close();
      return r;
    },
  };
}

describe.runIf(hasLibvirtd() && canMakeNetns())('qga through a real libvirtd, to the qemu-ga in a booted guest', () => {
  let kernel = '';
  let initrd = '';
  beforeAll(() => ({ kernel, initrd } = buildGuest(ROOT)), 600_000);

  it('polls the agent through virsh qemu-agent-command: the same qga rows a socket gives', async () => {
    const g = await startLibvirtGuest({ kernel, initrd, seconds: 40 });
    try {
      const loop = runLoop({ domain: g.name, uri: g.uri }, g.pid);
      await g.resume();
      const answered = (command: string) => loop.qga().find((r) => r.command === command && r.result !== null);
      await waitFor(() => answered('guest-get-cpustats') && answered('guest-get-osinfo'), 'the agent\'s cpustats and osinfo through libvirt', 50);
      const r = await loop.stop();
      const cpu = answered('guest-get-cpustats')!;
      expect(Array.isArray(cpu.result)).toBe(true);
      expect((cpu.result as Array<Record<string, unknown>>)[0]).toMatchObject({ cpu: 0 });
      expect((answered('guest-get-osinfo')!.result as Record<string, unknown>)['kernel-release']).toMatch(/cloud-amd64/);
      // While the domain was paused (the loop started first), the questions were null with libvirt's reason, never a made-up value.
      const nulls = loop.qga().filter((x) => x.result === null);
      expect(nulls.length).toBeGreaterThan(0);
      for (const q of nulls) expect((q.null_reasons as Record<string, string>).result).toMatch(/\S/);
      expect(loop.rows().length).toBeGreaterThan(0);
      for (const row of loop.rows()) expect(ROW_SCHEMAS.guest!.safeParse(row).success).toBe(true);
      expect(r.counters.connections).toBe(1);
      expect(r.counters.bytes).toBeGreaterThan(0);
      expect(r.valueRows).toBeGreaterThan(0);
      const last = loop.rows().filter((x) => x.kind === 'channel').at(-1)!;
      expect(last.connected).toBe(false); // written after the shell ended
    } finally {
      await g.destroy();
    }
  });
});

describe.runIf(hasLibvirtd())('qga through a real libvirtd: the domain going away', () => {
  // A paused domain without an agent channel: every question is a null row with libvirt's reason meanwhile.
  it('destroyed: the loop ends target_exited, as when the channel closes with QEMU gone', async () => {
    const d = await startProbeDomain();
    const l = runLoop({ domain: d.name, uri: 'qemu:///system' }, d.pid);
    await waitFor(() => l.qga().length > 0, 'a qga row');
    d.destroy();
    const r = await l.done;
    expect(r.end).toBe('target_exited');
  });

  it('destroyed and started again under its name: another guest, never polled by this loop (it ends target_exited)', async () => {
    const d = await startProbeDomain();
    const pid = d.pid;
    const l = runLoop({ domain: d.name, uri: 'qemu:///system' }, pid);
    await waitFor(() => l.qga().length > 0, 'a qga row');
    await d.restart();
    expect(d.pid).not.toBe(pid);
    const r = await l.done;
    expect(r.end).toBe('target_exited');
  });

  it('started again under its name before the loop begins: the QEMU it was given is gone, so the new guest is never asked', async () => {
    const d = await startProbeDomain();
    const pid = d.pid;
    await d.restart();
    const l = runLoop({ domain: d.name, uri: 'qemu:///system' }, pid);
    const r = await l.done;
    expect(r.end).toBe('target_exited');
    expect(l.qga()).toEqual([]);
  });
});

describe('qga through a hostile relay (a stand-in virsh)', () => {
  const run = (scenario: FakeVirshScenario) => runLoop({ domain: 'hostile', uri: 'qemu:///system', virsh: fakeVirsh(scenario) });

  it('a plain answer is a qga row', async () => {
    const l = run('ok');
    await waitFor(() => l.qga().find((r) => r.command === 'guest-get-cpustats'), 'a cpustats row');
    await l.stop();
    expect(l.qga().find((r) => r.command === 'guest-get-cpustats')!.result).toEqual([{ cpu: 0, user: 7, system: 3 }]);
  });

  it('a command the agent lacks (libvirt says so on stderr, without the class) is asked once, and recorded as disabled', async () => {
    const l = run('agent_lacks');
    await waitFor(() => l.qga().filter((r) => r.command === 'guest-get-cpustats').length >= 3, 'three rounds of questions');
    const r = await l.stop();
    const lacking = l.qga().filter((q) => q.command === 'guest-get-memory-blocks');
    expect(lacking.length).toBe(1);
    expect(lacking[0]!.result).toBeNull();
    expect((lacking[0]!.null_reasons as Record<string, string>).result).toBe('guest-get-memory-blocks: CommandNotFound: The command guest-get-memory-blocks has not been found');
    expect(r.disabled['guest-get-memory-blocks']).toMatch(/CommandNotFound/);
  });

  it('an answer past the bound (max_line_bytes, 1 MiB by default) ends the shell (counted as a reconnect), never a row', async () => {
    const l = run('huge_reply');
    // Each shell hits the bound on its first answer; a second report means the loop went on with a new shell.
    await waitFor(() => l.reports.filter((m) => /virsh printed a line longer than 1048576 bytes/.test(m)).length >= 2, 'the bound reported twice');
    const r = await l.stop();
    expect(r.counters.connections).toBeGreaterThanOrEqual(2);
    // The question whose answer ended the shell is not written (as when a socket closes mid-answer), nor anything of the answer.
    expect(l.qga().filter((q) => q.result !== null)).toEqual([]);
  });

  it('an answer nested too deep is a null row with why', async () => {
    const l = run('deep_reply');
    await waitFor(() => l.qga().find((r) => r.command === 'guest-get-cpustats'), 'a cpustats row');
    await l.stop();
    const q = l.qga().find((r) => r.command === 'guest-get-cpustats')!;
    expect(q.result).toBeNull();
    expect((q.null_reasons as Record<string, string>).result).toMatch(/not a JSON object \(too_deep\)/);
  });

  it('an agent libvirt never hears from: each question times out and the shell is ended, and the loop goes on', async () => {
    const l = run('hang');
    await waitFor(() => l.reports.some((m) => /no answer from virsh within 7000 ms/.test(m)), 'the timeout reported', 50);
    await l.stop();
    // The question the shell was ended over is not written (the connection went with it), nor anything made up.
    expect(l.qga().filter((q) => q.result !== null)).toEqual([]);
  }, 30_000);
});
