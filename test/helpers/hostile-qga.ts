// A scripted, hostile qemu-guest-agent for the qga-mode tests: a node process of
// its own (so what it holds is not in the test's RSS) that answers each
// guest-sync-delimited as qemu-ga does and hands every other request to the
// test's own JavaScript; plus the guestLoop it is played against, with the
// test process's RSS sampled for the whole run.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach } from 'vitest';
import { EpisodeClock } from '../../src/clock/origin.js';
import type { guestAgentConfig } from '../../src/collectors/guest_agent/config.js';
import { guestLoop } from '../../src/collectors/guest_agent/run-loop.js';
import { JsonlWriter } from '../../src/rows/jsonl-writer.js';
import { waitFor } from './wait.js';

// The agents and loops a test started: killed and aborted after it.
const kids: Array<() => void> = [];
afterEach(() => {
  for (const k of kids.splice(0)) k();
});

export interface HostileQgaScript {
  /** Runs first; must set `p` (the socket path, argv[1]) and whatever `answer` uses from the other arguments. */
  setup: string;
  /** The body of an async function run for each request other than a sync, in turn: `req` is the request, `send(buffer|string)` resolves when written. */
  answer: string;
}

function agentSource({ setup, answer }: HostileQgaScript): string {
  return `
const net = require('net');
${setup}
net.createServer((s) => {
  s.on('error', () => {});
  let buf = '';
  const send = (b) => new Promise((r) => (s.write(b) ? r() : s.once('drain', r)));
  let busy = Promise.resolve();
  s.on('data', (d) => {
    buf += d.toString('latin1');
    for (let nl = buf.indexOf('\\n'); nl >= 0; nl = buf.indexOf('\\n')) {
      const req = JSON.parse(buf.slice(0, nl).replace(/^\\xff/, ''));
      buf = buf.slice(nl + 1);
      busy = busy.then(async () => {
        if (req.execute === 'guest-sync-delimited') return send(Buffer.from('\\xff{"return": ' + req.arguments.id + '}\\n', 'latin1'));
${answer}
      });
    }
  });
}).listen(p, () => process.stdout.write('listening\\n'));
`;
}

/**
 * Starts the agent on `dir`/qga.sock with `args` after the socket path and waits until it listens
 * (`what` names it in the wait's failure); it is killed after the test. `said()` is all it wrote to stdout.
 */
export async function startHostileQga(dir: string, script: HostileQgaScript, args: string[], what: string): Promise<{ socket: string; said: () => string }> {
  const socket = path.join(dir, 'qga.sock');
  const agent = spawn(process.execPath, ['-e', agentSource(script), socket, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  kids.push(() => agent.kill('SIGKILL'));
  let said = '';
  agent.stdout!.on('data', (d: Buffer) => (said += d.toString()));
  await waitFor(() => said.includes('listening') || undefined, what);
  return { socket, said: () => said };
}

type GuestResult = Awaited<ReturnType<typeof guestLoop>>;

/**
 * Runs guestLoop with `config`, rows to `out`, its messages into `reports`, the test process's RSS sampled
 * every 5 ms from before it starts; aborted after the test if still running. `stop()` aborts it, waits for it, closes the
 * writer and returns its result with the RSS before (rss0) and the peak seen up to then.
 */
export function sampledGuestLoop(config: ReturnType<typeof guestAgentConfig.parse>, out: string): { reports: string[]; stop: () => Promise<{ result: GuestResult; rss0: number; peak: number }> } {
  const writer = new JsonlWriter(out, { availableInDeployment: false });
  const ac = new AbortController();
  kids.push(() => ac.abort());
  const reports: string[] = [];
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const loop = guestLoop({ config, writer, clock: new EpisodeClock(process.hrtime.bigint()), signal: ac.signal, reportError: (m) => reports.push(m) });
  return {
    reports,
    stop: async () => {
      ac.abort();
      const result = await loop;
      writer.close();
      clearInterval(sampler);
      peak = Math.max(peak, process.memoryUsage().rss);
      return { result, rss0, peak };
    },
  };
}
