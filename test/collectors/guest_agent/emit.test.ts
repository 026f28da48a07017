// The guest_agent collector end to end: an in-guest agent feeding JSONL over
// a unix socket (the field's own test shape), in both channel modes, and a
// real qemu-guest-agent on the host polled with protocol qga. Skips the
// latter only where qemu-ga is absent (CI installs qemu-guest-agent).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEpisode } from '../../../src/agent/run-episode.js';
import { parseManifest } from '../../../src/manifest/load.js';
import { ROW_SCHEMAS } from '../../../src/rows/registry.js';
import { recordEmitEvidence, witnessProgram } from '../../helpers/emit-witness.js';
import { has } from '../../helpers/programs.js';
import { readJsonl, tmpDir } from '../../helpers/tmp.js';
import { waitFor } from '../../helpers/wait.js';

type Row = Record<string, unknown>;
const rowsOf = (dir: string): Row[] => {
  try {
    return readJsonl(path.join(dir, 'telemetry-guest_agent.jsonl'));
  } catch {
    return [];
  }
};
const hasQemuGa = has('qemu-ga');

/** What an in-guest agent writes: sequence, uptime, /proc/stat cpu, meminfo. */
const sample = (seq: number) => ({ seq, uptime: 12.5 + seq, cpu: { user: 100 + seq, system: 20, idle: 900 }, mem: { total_kb: 65536, free_kb: 30000 - seq } });

function episode(guestAgent: object, root = tmpDir()) {
  const dir = path.join(root, 'ep');
  const stop = new AbortController();
  const manifest = parseManifest({ output_dir: dir, target: { pid: process.pid }, collectors: { guest_agent: { interval_ms: 200, ...guestAgent } } });
  return { root, dir, stop, done: () => runEpisode({ manifest, stop: stop.signal }) };
}

function expectValid(rows: Row[]): void {
  expect(rows.length).toBeGreaterThan(0);
  expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i));
  for (const r of rows) expect(ROW_SCHEMAS.guest!.safeParse(r).error).toBeUndefined();
}

describe('guest_agent collector', () => {
  // Regression for the field: guest_agent was carved out of the emit tests and silently wrote zero rows on every episode.
  it('jsonl, connect mode (QEMU is the server): every line a row, the guest\'s fields kept under guest', async () => {
    const root = tmpDir();
    const sock = path.join(root, 'tel.sock');
    const lines = [0, 1, 2, 3, 4].map((i) => JSON.stringify(sample(i)));
    const server = net.createServer((c) => c.end(lines.join('\n') + '\n'));
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      const ep = episode({ socket: sock, mode: 'connect' });
      const done = ep.done();
      await waitFor(() => rowsOf(ep.dir).filter((r) => r.kind === 'line').length === 5, 'five line rows');
      ep.stop.abort();
      const { summary } = await done;
      const rows = rowsOf(ep.dir);
      expectValid(rows);
      const got = rows.filter((r) => r.kind === 'line');
      expect(got.map((r) => r.guest)).toEqual([0, 1, 2, 3, 4].map(sample));
      expect(got.map((r) => r.guest_t)).toEqual([12.5, 13.5, 14.5, 15.5, 16.5]); // from uptime
      expect(got[0]).toMatchObject({ source: 'guest', available_in_deployment: false });
      expect(summary.collectors.guest_agent).toMatchObject({ status: 'ok', detail: { lines: 5, connections: 1, dropped_invalid_json: 0 } });
      // The guest closed its end after writing: that is reported, and labtel reconnects.
      expect(summary.collectors.guest_agent!.errors[0]).toMatch(/^guest_agent: the guest channel .* closed; reconnecting in 500 ms$/);
    } finally {
      server.close();
    }
  });

  it('jsonl, listen mode (QEMU is the client): labtel makes the socket, the guest connects and writes', async () => {
    const root = tmpDir();
    const sock = path.join(root, 'listen.sock');
    const ep = episode({ socket: sock, mode: 'listen' }, root);
    const done = ep.done();
    await waitFor(() => fs.existsSync(sock), 'the listening socket');
    expect(fs.statSync(sock).mode & 0o777).toBe(0o600);
    const c = net.createConnection(sock);
    await new Promise((resolve) => c.once('connect', resolve));
    for (let i = 0; i < 3; i++) c.write(JSON.stringify(sample(i)) + '\n');
    await waitFor(() => rowsOf(ep.dir).filter((r) => r.kind === 'line').length === 3, 'three line rows');
    c.end();
    ep.stop.abort();
    const { summary } = await done;
    expectValid(rowsOf(ep.dir));
    expect(summary.collectors.guest_agent).toMatchObject({ status: 'ok', errors: [], detail: { lines: 3, connections: 1 } });
    expect(rowsOf(ep.dir).filter((r) => r.kind === 'channel').at(-1)).toMatchObject({ lines: 3, connections: 1, connections_refused: 0 });
  });

  it.skipIf(!hasQemuGa)('qga: a real qemu-guest-agent answers cpustats, diskstats, memory blocks and osinfo; a command it lacks is asked once', async () => {
    const root = tmpDir();
    const sock = path.join(root, 'qga.sock');
    fs.mkdirSync(path.join(root, 'state'));
    // -b blocks guest-get-diskstats: the agent then answers CommandNotFound, as an older agent lacking it would.
    const qga = spawn('qemu-ga', ['-m', 'unix-listen', '-p', sock, '-t', path.join(root, 'state'), '-b', 'guest-get-diskstats'], { stdio: 'ignore' });
    try {
      await waitFor(() => fs.existsSync(sock), 'qemu-ga listening');
      const agent = witnessProgram('qemu-ga', qga.pid!); // the peer is the real qemu-guest-agent
      const ep = episode({ socket: sock, mode: 'connect', protocol: 'qga' });
      const done = ep.done();
      await waitFor(() => rowsOf(ep.dir).filter((r) => r.command === 'guest-get-cpustats').length >= 3, 'three cpustats rows');
      ep.stop.abort();
      const { summary } = await done;
      const rows = rowsOf(ep.dir);
      expectValid(rows);
      const cpu = rows.filter((r) => r.command === 'guest-get-cpustats');
      const stats = cpu[0]!.result as Array<Record<string, unknown>>;
      expect(stats.length).toBeGreaterThan(0);
      expect(stats[0]).toMatchObject({ type: 'linux', cpu: 0 });
      expect(typeof stats[0]!.user).toBe('number');
      expect(rows.filter((r) => r.command === 'guest-get-osinfo')).toHaveLength(1);
      expect((rows.find((r) => r.command === 'guest-get-osinfo')!.result as Row).id).toBeTruthy();
      // Every poll asks for memory blocks after cpustats; the stop ends the poll it falls in (the socket is
      // closed under the command in flight), so that last poll may lack its memory-blocks row. (Flushes now
      // follow the first buffered row by 200 ms, the poll interval here, so the test more often sees a
      // poll's cpustats row on disk, and stops, before its memory-blocks answer.)
      expect([cpu.length - 1, cpu.length]).toContain(rows.filter((r) => r.command === 'guest-get-memory-blocks').length);
      const disk = rows.filter((r) => r.command === 'guest-get-diskstats');
      expect(disk).toHaveLength(1); // asked once, then recorded
      expect(disk[0]).toMatchObject({ result: null, null_reasons: { result: expect.stringMatching(/^guest-get-diskstats: CommandNotFound: /) } });
      expect(summary.collectors.guest_agent).toMatchObject({ status: 'ok', detail: { disabled: { 'guest-get-diskstats': expect.any(String) } } });
      expect(summary.collectors.guest_agent!.errors).toEqual([expect.stringMatching(/^guest_agent: guest-get-diskstats: CommandNotFound: .*; not asked again$/)]);
      recordEmitEvidence('guest_agent', agent, cpu.filter((r) => Array.isArray(r.result) && r.result.length > 0).length);
    } finally {
      qga.kill();
    }
  });
});
