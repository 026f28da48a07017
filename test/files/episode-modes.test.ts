// Every file a real episode leaves on disk, as a user makes it: `labtel run`
// with proc and pcap on a test network (a capture holds the guest's traffic)
// forwarding to a real nats-server, then `labtel report` and `labtel pull`,
// all under umask 0, so a mode left to the umask would show as 0777/0666.
// Every directory of the episode and of the pulled copy must be 0750 and
// every file 0640.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LABTEL_BIN } from '../helpers/cli.js';
import { hasNats, startNats } from '../helpers/nats.js';
import { canMakeNetns, makeGuestNet, sendPackets } from '../helpers/netns.js';
import { has } from '../helpers/programs.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/** labtel ARGS under umask 0; resolves with the exit code and what it printed. `started` gets the child. */
function labtelUmask0(args: string[], started?: (c: ReturnType<typeof spawn>) => void): Promise<{ code: number | null; out: string }> {
  const c = spawn('sh', ['-c', 'umask 0 && exec "$@"', 'sh', process.execPath, LABTEL_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  c.stdout.on('data', (d) => (out += d));
  c.stderr.on('data', (d) => (out += d));
  started?.(c);
  return new Promise((resolve) => c.once('exit', (code) => resolve({ code, out })));
}

/** Every entry under `root` (root included) with its type and mode, by path relative to root's parent. */
function modes(root: string): Array<{ path: string; kind: 'dir' | 'file' | 'other'; mode: string }> {
  const out: Array<{ path: string; kind: 'dir' | 'file' | 'other'; mode: string }> = [];
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    const kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
    out.push({ path: path.relative(path.dirname(root), p), kind, mode: (st.mode & 0o7777).toString(8) });
    if (kind === 'dir') for (const e of fs.readdirSync(p)) walk(path.join(p, e));
  };
  walk(root);
  return out;
}

function expectModes(root: string): string[] {
  const all = modes(root);
  expect(all.length).toBeGreaterThan(1);
  for (const e of all) expect(e, e.path).toEqual({ path: e.path, kind: e.kind, mode: e.kind === 'dir' ? '750' : '640' });
  expect(all.filter((e) => e.kind === 'other')).toEqual([]);
  return all.map((e) => e.path).sort();
}

describe.skipIf(!canMakeNetns() || !has('tcpdump') || !hasNats())('modes of everything an episode writes', () => {
  // Regression for: episode files, captures included, were 0644 in 0755 directories (by the umask), readable by every local user.
  it('labtel run (proc, pcap, nats forwarding), report and pull: directories 0750, files 0640, under umask 0', async () => {
    const net = await makeGuestNet();
    const nats = await startNats();
    const root = tmpDir();
    const dir = path.join(root, 'ep');
    const manifest = path.join(root, 'manifest.json');
    fs.writeFileSync(
      manifest,
      JSON.stringify({
        episode: 'modes',
        output_dir: dir,
        target: { pid: process.pid },
        collectors: { proc: { interval_ms: 100 }, pcap: { iface: net.tap, interval_ms: 200 } },
        sinks: { nats: { servers: [nats.url], host: 'lab-a' } },
      }),
    );
    let agent: ReturnType<typeof spawn> | null = null;
    const run = labtelUmask0(['run', manifest, '--quiet'], (c) => (agent = c));
    const pcapRows = path.join(dir, 'telemetry-pcap.jsonl');
    await waitFor(() => fs.existsSync(pcapRows) && fs.readFileSync(pcapRows, 'utf8').includes('"capture_started"'), 'capture_started');
    await sendPackets(net, { udp: 5, icmpEcho: 2 });
    const capture = path.join(dir, 'network.pcap');
    await waitFor(() => fs.existsSync(capture) && fs.statSync(capture).size > 24, 'the packets in network.pcap');
    await waitFor(() => fs.existsSync(path.join(dir, 'forward-cursor.json')), 'the forwarder\'s cursor');
    agent!.kill('SIGTERM');
    const r = await run;
    expect(r.code, r.out).toBe(0);

    const report = await labtelUmask0(['report', dir]);
    expect(report.code, report.out).toBe(0);
    const pulled = path.join(root, 'pulled');
    const pull = await labtelUmask0(['pull', '--servers', nats.url, '--out', pulled]);
    expect(pull.code, pull.out).toBe(0);

    expect(expectModes(dir)).toEqual([
      'ep',
      'ep/episode.json',
      'ep/forward-cursor.json',
      'ep/network.pcap',
      'ep/report.html',
      'ep/summary.json',
      'ep/telemetry-agent.jsonl',
      'ep/telemetry-pcap.jsonl',
      'ep/telemetry-proc.jsonl',
    ]);
    expect(expectModes(pulled)).toEqual([
      'pulled',
      'pulled/lab-a',
      'pulled/lab-a/modes',
      'pulled/lab-a/modes/.pull-state.json',
      'pulled/lab-a/modes/episode.json',
      'pulled/lab-a/modes/summary.json',
      'pulled/lab-a/modes/telemetry-agent.jsonl',
      'pulled/lab-a/modes/telemetry-pcap.jsonl',
      'pulled/lab-a/modes/telemetry-proc.jsonl',
    ]);
  });
});
